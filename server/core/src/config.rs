//! Settings: where state lives, where worktrees go, how many sessions run at once, and the
//! agent profiles. Resolved from the environment, the state dir's `config.toml`, and the
//! caller's overrides (the CLI's flags or the editor's `initializationOptions`), in that order.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::model::OutputFormat;

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
}

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
    agents.insert(
        "claude".to_owned(),
        AgentProfile {
            name: "claude".to_owned(),
            command: strings(&[
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "acceptEdits",
                END_OF_OPTIONS,
                PROMPT_PLACEHOLDER,
            ]),
            format: OutputFormat::ClaudeStreamJson,
            env: BTreeMap::new(),
        },
    );
    agents.insert(
        "codex".to_owned(),
        AgentProfile {
            name: "codex".to_owned(),
            command: strings(&[
                "codex",
                "exec",
                "--json",
                END_OF_OPTIONS,
                PROMPT_PLACEHOLDER,
            ]),
            format: OutputFormat::CodexJson,
            env: BTreeMap::new(),
        },
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
    command: Vec<String>,
    #[serde(default = "text_format")]
    format: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

fn text_format() -> String {
    "text".to_owned()
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
            let format =
                profile
                    .format
                    .parse::<OutputFormat>()
                    .map_err(|_| ConfigError::UnknownFormat {
                        name: name.clone(),
                        format: profile.format.clone(),
                    })?;
            agents.insert(
                name.clone(),
                AgentProfile {
                    name,
                    command: profile.command,
                    format,
                    env: profile.env,
                },
            );
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
        AgentProfile {
            name: "test".to_owned(),
            command: command.iter().map(|item| (*item).to_owned()).collect(),
            format,
            env: BTreeMap::new(),
        }
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
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "acceptEdits",
                "--resume",
                "abc",
                "--",
                "next step",
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
}
