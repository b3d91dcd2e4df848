//! Settings: where state lives, where worktrees go, how many sessions run at once, and the
//! agent profiles. Resolved from the environment, the state dir's `config.toml`, and the
//! caller's overrides (the CLI's flags or the editor's `initializationOptions`), in that order.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

use crate::model::{InputMode, OutputFormat};

/// What a user calls an agent: how to start it and how to read its output.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentProfile {
    pub name: String,
    /// The program and its arguments; an argument that is exactly `{prompt}` is the prompt.
    /// A prompt is data, never an option: a profile whose program accepts `--` puts it right
    /// before `{prompt}` (the built-in profiles do), so a prompt such as `--help` stays a prompt.
    pub command: Vec<String>,
    pub format: OutputFormat,
    pub env: BTreeMap<String, String>,
    /// `stream-json`: the runner hosts the agent (prompt and messages on stdin, permission
    /// requests answered through lulu). Closed: version 1's way.
    pub input: InputMode,
    /// How long a permission request waits for a person; None: forever.
    pub approval_timeout: Option<Duration>,
    /// Default cost limit of a session (US dollars), when `lulu/spawn` gives none.
    pub max_cost_usd: Option<f64>,
    /// Default time limit of a session (minutes), when `lulu/spawn` gives none.
    pub max_minutes: Option<f64>,
}

/// How long a permission request waits for an answer unless the profile says otherwise.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub const PROMPT_PLACEHOLDER: &str = "{prompt}";
/// The end of a command's options: what follows is an operand, whatever it starts with.
pub const END_OF_OPTIONS: &str = "--";
/// The placeholders a worktree folder template may hold.
pub const WORKTREE_PLACEHOLDERS: &[&str] = &["{repo}"];
pub const DEFAULT_MAX_RUNNING: i64 = 6;
pub const DEFAULT_AGENT: &str = "claude";
pub const DEFAULT_WORKTREE_DIR: &str = "{repo}/.lulu/worktrees";
pub const CONFIG_FILE_NAME: &str = "config.toml";

impl AgentProfile {
    /// A profile with version 1's defaults: stdin closed, no limits.
    pub fn new(
        name: &str,
        command: Vec<String>,
        format: OutputFormat,
        env: BTreeMap<String, String>,
    ) -> AgentProfile {
        AgentProfile {
            name: name.to_owned(),
            command,
            format,
            env,
            input: InputMode::Closed,
            approval_timeout: Some(DEFAULT_APPROVAL_TIMEOUT),
            max_cost_usd: None,
            max_minutes: None,
        }
    }

    /// Whether this agent can ask for permissions and take messages while it runs.
    pub fn can_take_messages(&self) -> bool {
        self.input == InputMode::StreamJson
    }

    /// The arguments that make the agent itself respect a cost limit (Claude Code's
    /// `--max-budget-usd`); other agents are stopped by lulu from their reported cost.
    pub fn budget_arguments(&self, max_cost_usd: Option<f64>) -> Vec<String> {
        match (self.format, max_cost_usd) {
            (OutputFormat::ClaudeStreamJson, Some(cost)) => {
                vec!["--max-budget-usd".to_owned(), format!("{cost}")]
            }
            _ => Vec::new(),
        }
    }

    /// The argument vector for a first run.
    pub fn argv(&self, prompt: &str) -> Vec<String> {
        substitute_prompt(&self.command, prompt)
    }

    /// The argument vector to continue a conversation. Claude Code resumes with `--resume ID`,
    /// Codex with `exec resume ID PROMPT`; a text agent (or an agent that never told us its
    /// session id) is simply run again with the new prompt in the same worktree.
    pub fn continue_argv(&self, prompt: &str, agent_session_id: Option<&str>) -> Vec<String> {
        let Some(agent_session_id) = agent_session_id else {
            return self.argv(prompt);
        };
        match self.format {
            OutputFormat::ClaudeStreamJson => {
                // `--resume ID` is an option: it goes before the end of the options, if any.
                let mut argv = self.argv(prompt);
                let at = self
                    .command
                    .iter()
                    .position(|argument| argument == END_OF_OPTIONS)
                    .unwrap_or(argv.len());
                argv.insert(at, agent_session_id.to_owned());
                argv.insert(at, "--resume".to_owned());
                argv
            }
            OutputFormat::CodexJson => {
                let mut argv = Vec::with_capacity(self.command.len() + 2);
                // `exec [OPTIONS] [--] PROMPT` becomes `exec [OPTIONS] resume ID [--] PROMPT`:
                // the subcommand goes where the options end.
                let ends_options = |argument: &String| {
                    argument == END_OF_OPTIONS || argument == PROMPT_PLACEHOLDER
                };
                let at = self
                    .command
                    .iter()
                    .position(ends_options)
                    .unwrap_or(self.command.len());
                for (index, argument) in self.command.iter().enumerate() {
                    if index == at {
                        argv.push("resume".to_owned());
                        argv.push(agent_session_id.to_owned());
                    }
                    if argument == PROMPT_PLACEHOLDER {
                        argv.push(prompt.to_owned());
                    } else {
                        argv.push(argument.clone());
                    }
                }
                argv
            }
            OutputFormat::Text => self.argv(prompt),
        }
    }
}

fn substitute_prompt(command: &[String], prompt: &str) -> Vec<String> {
    command
        .iter()
        .map(|argument| {
            if argument == PROMPT_PLACEHOLDER {
                prompt.to_owned()
            } else {
                argument.clone()
            }
        })
        .collect()
}

/// The profiles lulu knows without any configuration.
pub fn builtin_agents() -> BTreeMap<String, AgentProfile> {
    let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();
    let mut agents = BTreeMap::new();
    let mut claude = AgentProfile::new(
        "claude",
        strings(&[
            "claude",
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-prompt-tool",
            "stdio",
            "--permission-mode",
            "acceptEdits",
            "--replay-user-messages",
        ]),
        OutputFormat::ClaudeStreamJson,
        BTreeMap::new(),
    );
    claude.input = InputMode::StreamJson;
    agents.insert("claude".to_owned(), claude);
    agents.insert(
        "codex".to_owned(),
        AgentProfile::new(
            "codex",
            strings(&[
                "codex",
                "exec",
                "--json",
                END_OF_OPTIONS,
                PROMPT_PLACEHOLDER,
            ]),
            OutputFormat::CodexJson,
            BTreeMap::new(),
        ),
    );
    agents
}

/// What a caller may set over the defaults and the config file.
#[derive(Debug, Clone, Default)]
pub struct SettingsOverrides {
    pub state_dir: Option<PathBuf>,
    pub worktree_dir: Option<String>,
    pub max_running: Option<i64>,
    pub default_agent: Option<String>,
    /// Replace profiles of the same name (built-in or from the config file).
    pub agents: BTreeMap<String, AgentProfile>,
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Settings {
    pub state_dir: PathBuf,
    /// A path template; `{repo}` is the repository's top-level directory.
    pub worktree_dir: String,
    pub max_running: i64,
    pub default_agent: String,
    pub agents: BTreeMap<String, AgentProfile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no state directory: set LULU_HOME, XDG_STATE_HOME or HOME")]
    NoStateDir,
    #[error("could not read the config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{field} must be at least 1, not {value}")]
    MaxRunning { field: String, value: i64 },
    #[error("the agent profile {name:?} has an empty command")]
    EmptyCommand { name: String },
    #[error(
        "the agent profile {name:?} has an unknown format {format:?} (expected claude-stream-json, codex-json or text)"
    )]
    UnknownFormat { name: String, format: String },
    #[error("the worktree folder template must not be empty")]
    EmptyWorktreeDir,
    #[error(
        "the agent profile {name:?} has an unknown input {input:?} (expected \"stream-json\" or \"closed\")"
    )]
    UnknownInput { name: String, input: String },
    #[error("the agent profile {name:?} has a bad approval_timeout: {message}")]
    ApprovalTimeout { name: String, message: String },
    #[error("the agent profile {name:?} has a bad {field}: {value} (it must be more than 0)")]
    Limit {
        name: String,
        field: &'static str,
        value: f64,
    },
    #[error("the agent profile {name:?} has no command (only a built-in profile may omit it)")]
    NoCommand { name: String },
    #[error(
        "the worktree folder template {template:?} holds the unknown placeholder {placeholder} (known: {{repo}})"
    )]
    UnknownPlaceholder {
        template: String,
        placeholder: String,
    },
}

/// The state dir by docs/protocol.md's rule: `$LULU_HOME`, else `$XDG_STATE_HOME/lulu`, else
/// `~/.local/state/lulu`.
pub fn default_state_dir() -> Result<PathBuf, ConfigError> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(home) = non_empty("LULU_HOME") {
        return Ok(PathBuf::from(home));
    }
    if let Some(state) = non_empty("XDG_STATE_HOME") {
        return Ok(PathBuf::from(state).join("lulu"));
    }
    if let Some(home) = non_empty("HOME") {
        return Ok(PathBuf::from(home).join(".local/state/lulu"));
    }
    Err(ConfigError::NoStateDir)
}

/// The config file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct ConfigFile {
    worktree_dir: Option<String>,
    max_running: Option<i64>,
    default_agent: Option<String>,
    #[serde(default)]
    agents: BTreeMap<String, ProfileFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    /// May be left out to change only the limits of a built-in profile.
    command: Option<Vec<String>>,
    format: Option<String>,
    env: Option<BTreeMap<String, String>>,
    input: Option<String>,
    /// `"30m"`, `"90s"`, `"2h"`, a number of seconds, or `"none"`.
    approval_timeout: Option<toml::Value>,
    max_cost_usd: Option<f64>,
    max_minutes: Option<f64>,
}

/// Reads an approval timeout: a number of seconds, `"90s"`, `"30m"`, `"2h"`, or `"none"`.
pub fn parse_approval_timeout(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((index, _)) => (&text[..index], &text[index..]),
        None => (text, "s"),
    };
    let seconds_per_unit = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (use s, m, h or \"none\")"
            ));
        }
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. \"30m\", \"90s\" or \"none\")"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(format!("{text:?} must be more than 0 (or \"none\")"));
    }
    Ok(Some(Duration::from_secs_f64(value * seconds_per_unit)))
}

/// Checks a cost or time limit: a finite number above 0.
pub fn check_limit(
    name: &str,
    field: &'static str,
    value: Option<f64>,
) -> Result<Option<f64>, ConfigError> {
    match value {
        Some(value) if !value.is_finite() || value <= 0.0 => Err(ConfigError::Limit {
            name: name.to_owned(),
            field,
            value,
        }),
        other => Ok(other),
    }
}

fn profile_from_file(
    name: &str,
    file: ProfileFile,
    base: Option<&AgentProfile>,
) -> Result<AgentProfile, ConfigError> {
    let mut profile = match (file.command, base) {
        (Some(command), _) => {
            let format = file.format.as_deref().unwrap_or("text");
            let format =
                format
                    .parse::<OutputFormat>()
                    .map_err(|_| ConfigError::UnknownFormat {
                        name: name.to_owned(),
                        format: format.to_owned(),
                    })?;
            AgentProfile::new(name, command, format, BTreeMap::new())
        }
        (None, Some(base)) => base.clone(),
        (None, None) => {
            return Err(ConfigError::NoCommand {
                name: name.to_owned(),
            });
        }
    };
    if let Some(env) = file.env {
        profile.env = env;
    }
    if let Some(input) = file.input {
        profile.input = input.parse().map_err(|_| ConfigError::UnknownInput {
            name: name.to_owned(),
            input,
        })?;
    }
    if let Some(timeout) = file.approval_timeout {
        let text = match timeout {
            toml::Value::String(text) => text,
            toml::Value::Integer(seconds) => seconds.to_string(),
            toml::Value::Float(seconds) => seconds.to_string(),
            other => other.to_string(),
        };
        profile.approval_timeout =
            parse_approval_timeout(&text).map_err(|message| ConfigError::ApprovalTimeout {
                name: name.to_owned(),
                message,
            })?;
    }
    if file.max_cost_usd.is_some() {
        profile.max_cost_usd = check_limit(name, "max_cost_usd", file.max_cost_usd)?;
    }
    if file.max_minutes.is_some() {
        profile.max_minutes = check_limit(name, "max_minutes", file.max_minutes)?;
    }
    Ok(profile)
}

impl Settings {
    pub fn resolve(overrides: SettingsOverrides) -> Result<Settings, ConfigError> {
        let state_dir = match overrides.state_dir {
            Some(dir) => dir,
            None => default_state_dir()?,
        };
        let file = read_config_file(&state_dir.join(CONFIG_FILE_NAME))?;
        let mut agents = builtin_agents();
        for (name, profile) in file.agents {
            let profile = profile_from_file(&name, profile, agents.get(&name))?;
            agents.insert(name, profile);
        }
        agents.extend(overrides.agents);
        for profile in agents.values() {
            if profile.command.is_empty() || profile.command[0].is_empty() {
                return Err(ConfigError::EmptyCommand {
                    name: profile.name.clone(),
                });
            }
        }
        let max_running = overrides
            .max_running
            .or(file.max_running)
            .unwrap_or(DEFAULT_MAX_RUNNING);
        if max_running < 1 {
            return Err(ConfigError::MaxRunning {
                field: "maxRunning".to_owned(),
                value: max_running,
            });
        }
        let worktree_dir = overrides
            .worktree_dir
            .or(file.worktree_dir)
            .unwrap_or_else(|| DEFAULT_WORKTREE_DIR.to_owned());
        if worktree_dir.trim().is_empty() {
            return Err(ConfigError::EmptyWorktreeDir);
        }
        check_placeholders(&worktree_dir)?;
        Ok(Settings {
            state_dir,
            worktree_dir,
            max_running,
            default_agent: overrides
                .default_agent
                .or(file.default_agent)
                .unwrap_or_else(|| DEFAULT_AGENT.to_owned()),
            agents,
        })
    }

    /// The folder that holds this repository's session worktrees.
    pub fn worktree_root(&self, repo: &Path) -> PathBuf {
        let repo_text = repo.to_string_lossy();
        let expanded = self.worktree_dir.replace("{repo}", &repo_text);
        let expanded = match expanded.strip_prefix("~/") {
            Some(rest) => match std::env::var_os("HOME") {
                Some(home) => PathBuf::from(home).join(rest),
                None => PathBuf::from(expanded),
            },
            None => PathBuf::from(expanded),
        };
        if expanded.is_absolute() {
            expanded
        } else {
            repo.join(expanded)
        }
    }
}

/// Refuses a `{name}` in a worktree folder template that is not one lulu fills in (it would
/// otherwise become part of a folder name).
fn check_placeholders(template: &str) -> Result<(), ConfigError> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start..];
        let end = after.find('}').map_or(after.len(), |end| end + 1);
        let placeholder = &after[..end];
        if !WORKTREE_PLACEHOLDERS.contains(&placeholder) {
            return Err(ConfigError::UnknownPlaceholder {
                template: template.to_owned(),
                placeholder: placeholder.to_owned(),
            });
        }
        rest = &after[end..];
    }
    Ok(())
}

fn read_config_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ConfigFile::default());
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: path.to_owned(),
        message: parse_message(&text, &error),
    })
}

/// The parser's words, with where they apply: the line and the text at fault (toml says only
/// "duplicate key", the span says which).
fn parse_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end_matches('\n').to_owned();
    let Some(span) = error.span() else {
        return message;
    };
    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
    let at_fault = text.get(span.clone()).unwrap_or("").trim();
    if at_fault.is_empty() || at_fault.len() > 80 || message.contains(at_fault) {
        return format!("{message} (line {line})");
    }
    format!("{message} `{at_fault}` (line {line})")
}

/// Finds `program` the way `execvp` would: a path with a slash is taken as it is; a bare name
/// is looked up on `PATH` (the profile's own `PATH` when it sets one).
pub fn find_program(program: &str, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_executable = |path: &Path| {
        std::fs::metadata(path)
            .map(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return is_executable(&path).then_some(path);
    }
    let search_path = match env.get("PATH") {
        Some(path) => std::ffi::OsString::from(path),
        None => std::env::var_os("PATH")?,
    };
    std::env::split_paths(&search_path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(format: OutputFormat, command: &[&str]) -> AgentProfile {
        AgentProfile::new(
            "test",
            command.iter().map(|item| (*item).to_owned()).collect(),
            format,
            BTreeMap::new(),
        )
    }

    fn check(profile: &AgentProfile, resume: Option<&str>, expected: &[&str]) {
        assert_eq!(profile.continue_argv("next step", resume), expected);
    }

    #[test]
    fn continue_commands_per_format() {
        let claude = &builtin_agents()["claude"];
        check(
            claude,
            Some("abc"),
            &[
                "claude",
                "-p",
                "--input-format",
                "stream-json",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-prompt-tool",
                "stdio",
                "--permission-mode",
                "acceptEdits",
                "--replay-user-messages",
                "--resume",
                "abc",
            ],
        );
        let codex = &builtin_agents()["codex"];
        check(
            codex,
            Some("t1"),
            &["codex", "exec", "--json", "resume", "t1", "--", "next step"],
        );
        check(codex, None, &["codex", "exec", "--json", "--", "next step"]);
        // A profile without `--` (the fake agents of the tests): the subcommand before the prompt.
        let old_codex = profile(OutputFormat::CodexJson, &["codex", "exec", "{prompt}"]);
        check(
            &old_codex,
            Some("t1"),
            &["codex", "exec", "resume", "t1", "next step"],
        );
        let text = profile(OutputFormat::Text, &["sh", "-c", "{prompt}", "{prompt}x"]);
        check(&text, Some("x"), &["sh", "-c", "next step", "{prompt}x"]);
    }

    #[test]
    fn config_file_is_read_and_overridden() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join(CONFIG_FILE_NAME),
            "max_running = 2\ndefault_agent = \"mine\"\n[agents.mine]\ncommand = [\"echo\", \"{prompt}\"]\n",
        )
        .expect("write config");
        let settings = Settings::resolve(SettingsOverrides {
            state_dir: Some(dir.path().to_owned()),
            max_running: Some(3),
            ..SettingsOverrides::default()
        })
        .expect("settings");
        assert_eq!(settings.max_running, 3);
        assert_eq!(settings.default_agent, "mine");
        assert_eq!(settings.agents["mine"].format, OutputFormat::Text);
        assert!(settings.agents.contains_key("claude"));

        std::fs::write(dir.path().join(CONFIG_FILE_NAME), "max_runing = 2\n").expect("write");
        let error = Settings::resolve(SettingsOverrides {
            state_dir: Some(dir.path().to_owned()),
            ..SettingsOverrides::default()
        })
        .expect_err("typo is refused");
        assert!(error.to_string().contains("config.toml"), "{error}");
        assert!(error.to_string().contains("max_runing"), "{error}");

        // Failed before the fix: "duplicate key", without naming it.
        std::fs::write(
            dir.path().join(CONFIG_FILE_NAME),
            "max_running = 2\nworktree_dir = \"a\"\nmax_running = 3\n",
        )
        .expect("write");
        let error = Settings::resolve(SettingsOverrides {
            state_dir: Some(dir.path().to_owned()),
            ..SettingsOverrides::default()
        })
        .expect_err("duplicate key is refused");
        assert!(error.to_string().contains("max_running"), "{error}");
        assert!(error.to_string().contains("line 3"), "{error}");
    }

    #[test]
    fn worktree_templates_hold_only_known_placeholders() {
        let dir = tempfile::tempdir().expect("temp dir");
        let resolve = |template: &str| {
            Settings::resolve(SettingsOverrides {
                state_dir: Some(dir.path().to_owned()),
                worktree_dir: Some(template.to_owned()),
                ..SettingsOverrides::default()
            })
            .map(|settings| settings.worktree_dir)
            .map_err(|error| error.to_string())
        };
        assert_eq!(resolve("{repo}/../wt"), Ok("{repo}/../wt".to_owned()));
        assert_eq!(
            resolve("~/wt/{branch}"),
            Err("the worktree folder template \"~/wt/{branch}\" holds the unknown placeholder {branch} (known: {repo})".to_owned())
        );
        assert_eq!(
            resolve("{repo}/{oops"),
            Err("the worktree folder template \"{repo}/{oops\" holds the unknown placeholder {oops (known: {repo})".to_owned())
        );
    }

    fn check_timeout(text: &str, expected: Result<Option<Duration>, &str>) {
        let parsed = parse_approval_timeout(text);
        match expected {
            Ok(duration) => assert_eq!(parsed, Ok(duration), "{text}"),
            Err(words) => {
                let error = parsed.expect_err(text);
                assert!(error.contains(words), "{text}: {error}");
            }
        }
    }

    #[test]
    fn approval_timeouts() {
        check_timeout("none", Ok(None));
        check_timeout("30m", Ok(Some(Duration::from_secs(1800))));
        check_timeout("90", Ok(Some(Duration::from_secs(90))));
        check_timeout("1.5s", Ok(Some(Duration::from_millis(1500))));
        check_timeout("2h", Ok(Some(Duration::from_secs(7200))));
        check_timeout("10x", Err("unknown unit"));
        check_timeout("soon", Err("unknown unit"));
        check_timeout("0", Err("more than 0"));
        check_timeout("-5m", Err("more than 0"));
    }

    #[test]
    fn config_file_sets_limits_of_a_builtin_profile() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join(CONFIG_FILE_NAME),
            "[agents.claude]\nmax_cost_usd = 2.5\nmax_minutes = 30\napproval_timeout = \"none\"\n\
             [agents.mine]\ncommand = [\"my-claude\"]\nformat = \"claude-stream-json\"\ninput = \"stream-json\"\napproval_timeout = 90\n",
        )
        .expect("write config");
        let settings = Settings::resolve(SettingsOverrides {
            state_dir: Some(dir.path().to_owned()),
            ..SettingsOverrides::default()
        })
        .expect("settings");
        let claude = &settings.agents["claude"];
        assert_eq!(claude.command, builtin_agents()["claude"].command);
        assert_eq!(
            (claude.max_cost_usd, claude.max_minutes),
            (Some(2.5), Some(30.0))
        );
        assert_eq!(claude.approval_timeout, None);
        let mine = &settings.agents["mine"];
        assert_eq!(mine.input, InputMode::StreamJson);
        assert_eq!(mine.approval_timeout, Some(Duration::from_secs(90)));
        assert_eq!(settings.agents["codex"].input, InputMode::Closed);

        for (text, words) in [
            ("[agents.x]\nmax_minutes = 1\n", "no command"),
            ("[agents.claude]\nmax_cost_usd = -1\n", "max_cost_usd"),
            ("[agents.claude]\ninput = \"json\"\n", "unknown input"),
            (
                "[agents.claude]\napproval_timeout = \"later\"\n",
                "approval_timeout",
            ),
        ] {
            std::fs::write(dir.path().join(CONFIG_FILE_NAME), text).expect("write");
            let error = Settings::resolve(SettingsOverrides {
                state_dir: Some(dir.path().to_owned()),
                ..SettingsOverrides::default()
            })
            .expect_err(text);
            assert!(error.to_string().contains(words), "{text}: {error}");
        }
    }
}
