//! A repository's provisioning: `lulu.toml`'s `[worktree]` table (`include`, `setup`, `ports`)
//! and `.worktreeinclude`, both read from the top level of the main checkout.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

pub const REPO_CONFIG_FILE_NAME: &str = "lulu.toml";
pub const WORKTREE_INCLUDE_FILE_NAME: &str = ".worktreeinclude";
/// The most ports one session may lease.
pub const MAX_PORTS: u32 = 64;

/// What a repository asks of each new worktree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoProvisioning {
    /// gitignore-syntax patterns of ignored files to copy from the main checkout (lulu.toml's
    /// `include`, then `.worktreeinclude`'s lines).
    pub include: Vec<String>,
    /// The setup command (`sh -c`), when there is one.
    pub setup: Option<String>,
    /// How many free ports each session leases.
    pub ports: u32,
}

impl RepoProvisioning {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.setup.is_none() && self.ports == 0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RepoConfigError {
    #[error("could not read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}{}: the include pattern {pattern:?} {problem}", path.display(), line.map(|line| format!(": line {line}")).unwrap_or_default())]
    BadPattern {
        path: PathBuf,
        line: Option<usize>,
        pattern: String,
        problem: &'static str,
    },
    #[error("{}: `ports` is {ports}; at most {MAX_PORTS} ports may be leased to a session", path.display())]
    TooManyPorts { path: PathBuf, ports: u32 },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoConfigFile {
    #[serde(default)]
    worktree: WorktreeTable,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorktreeTable {
    #[serde(default)]
    include: Vec<String>,
    setup: Option<String>,
    #[serde(default)]
    ports: u32,
}

/// Reads the provisioning of the repository whose main checkout is `repo`. Missing files mean
/// nothing to do.
pub fn read_repo_provisioning(repo: &Path) -> Result<RepoProvisioning, RepoConfigError> {
    let config_path = repo.join(REPO_CONFIG_FILE_NAME);
    let table = match read_optional(&config_path)? {
        None => WorktreeTable::default(),
        Some(text) => parse_config(&config_path, &text)?.worktree,
    };
    if table.ports > MAX_PORTS {
        return Err(RepoConfigError::TooManyPorts {
            path: config_path,
            ports: table.ports,
        });
    }
    let mut include = Vec::new();
    for pattern in table.include {
        let pattern = pattern.trim().to_owned();
        check_pattern(&config_path, None, &pattern)?;
        if !pattern.is_empty() {
            include.push(pattern);
        }
    }
    let include_path = repo.join(WORKTREE_INCLUDE_FILE_NAME);
    if let Some(text) = read_optional(&include_path)? {
        for (index, line) in text.lines().enumerate() {
            let pattern = line.trim_end();
            if pattern.trim().is_empty() || pattern.starts_with('#') {
                continue;
            }
            check_pattern(&include_path, Some(index + 1), pattern)?;
            include.push(pattern.to_owned());
        }
    }
    let setup = table
        .setup
        .filter(|setup| !setup.trim().is_empty())
        .map(|setup| setup.trim().to_owned());
    Ok(RepoProvisioning {
        include,
        setup,
        ports: table.ports,
    })
}

fn read_optional(path: &Path) -> Result<Option<String>, RepoConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RepoConfigError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn parse_config(path: &Path, text: &str) -> Result<RepoConfigFile, RepoConfigError> {
    toml::from_str(text).map_err(|error| {
        let offset = error.span().map(|span| span.start).unwrap_or(0);
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map(str::len).unwrap_or(0) + 1;
        RepoConfigError::Parse {
            path: path.to_owned(),
            line,
            column,
            message: error.message().trim().to_owned(),
        }
    })
}

/// Include patterns stay inside the repository: no `..` component, no home-relative path.
fn check_pattern(path: &Path, line: Option<usize>, pattern: &str) -> Result<(), RepoConfigError> {
    let body = pattern.strip_prefix('!').unwrap_or(pattern);
    let problem = if Path::new(body)
        .components()
        .any(|component| component == Component::ParentDir)
    {
        Some("reaches outside the repository (`..`); patterns are relative to its top level")
    } else if body.starts_with('~') {
        Some("names a home folder; patterns are relative to the repository's top level")
    } else if body.contains('\0') {
        Some("contains a NUL byte")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(RepoConfigError::BadPattern {
            path: path.to_owned(),
            line,
            pattern: pattern.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        lulu_toml: Option<&str>,
        worktree_include: Option<&str>,
        expected: Result<RepoProvisioning, &str>,
    ) {
        let repo = tempfile::tempdir().expect("a temporary folder");
        if let Some(text) = lulu_toml {
            std::fs::write(repo.path().join(REPO_CONFIG_FILE_NAME), text).expect("write");
        }
        if let Some(text) = worktree_include {
            std::fs::write(repo.path().join(WORKTREE_INCLUDE_FILE_NAME), text).expect("write");
        }
        let actual = read_repo_provisioning(repo.path()).map_err(|error| {
            error
                .to_string()
                .replace(&repo.path().display().to_string(), "REPO")
        });
        assert_eq!(actual, expected.map_err(str::to_owned));
    }

    fn provisioning(include: &[&str], setup: Option<&str>, ports: u32) -> RepoProvisioning {
        RepoProvisioning {
            include: include.iter().map(|p| (*p).to_owned()).collect(),
            setup: setup.map(str::to_owned),
            ports,
        }
    }

    #[test]
    fn repository_provisioning() {
        check(None, None, Ok(RepoProvisioning::default()));
        check(
            Some(
                "[worktree]\ninclude = [\".env\", \"config/**/*.local\"]\nsetup = \"npm ci\"\nports = 2\n",
            ),
            Some("# secrets\n.env.local\n\n!keep/\n"),
            Ok(provisioning(
                &[".env", "config/**/*.local", ".env.local", "!keep/"],
                Some("npm ci"),
                2,
            )),
        );
        check(
            Some("[worktree]\nsetup = \"  \"\n"),
            None,
            Ok(RepoProvisioning::default()),
        );
        check(
            Some("[worktree]\ninclude = [\".env\"\nsetup = 1\n"),
            None,
            Err(
                "REPO/lulu.toml: line 3, column 1: missing comma between array elements, expected `,`",
            ),
        );
        check(
            Some("[worktree]\nsetpu = \"make\"\n"),
            None,
            Err(
                "REPO/lulu.toml: line 2, column 1: unknown field `setpu`, expected one of `include`, `setup`, `ports`",
            ),
        );
        check(
            Some("[worktree]\ninclude = [\"../secrets/.env\"]\n"),
            None,
            Err(
                "REPO/lulu.toml: the include pattern \"../secrets/.env\" reaches outside the repository (`..`); patterns are relative to its top level",
            ),
        );
        check(
            None,
            Some(".env\nconfig/../../x\n"),
            Err(
                "REPO/.worktreeinclude: line 2: the include pattern \"config/../../x\" reaches outside the repository (`..`); patterns are relative to its top level",
            ),
        );
        check(
            Some("[worktree]\nports = 1000\n"),
            None,
            Err("REPO/lulu.toml: `ports` is 1000; at most 64 ports may be leased to a session"),
        );
    }
}
