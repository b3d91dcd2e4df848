//! `initialize`: the settings from the editor's `initializationOptions` over the server's own,
//! the repositories of the workspace folders, and the core (sessions, change feed,
//! reconciliation) the other handlers use.

use std::{path::PathBuf, sync::Arc};

use serde_json::{Value, json};
use tower_lsp_server::{
    Client,
    jsonrpc::{Error as RpcError, Result as RpcResult},
    ls_types::InitializeParams,
};

use lulu_core::{
    config::{AgentProfile, Settings, SettingsOverrides, parse_approval_timeout},
    model::OutputFormat,
    sessions::{ErrorKind, Sessions},
};

use super::{
    absolute_path, blocking, discover_reason, error, invalid_params, json_kind, op_error,
    with_reason,
};
use crate::{
    Core, ServeOptions,
    feed::Feed,
    protocol::{self, InitializationOptions, code},
};

/// The paths of the workspace: every workspace folder, else `rootUri`, else `rootPath`.
fn workspace_paths(params: &InitializeParams) -> Vec<PathBuf> {
    let mut uris = Vec::new();
    if let Some(folders) = &params.workspace_folders {
        uris.extend(folders.iter().map(|folder| folder.uri.clone()));
    }
    #[allow(deprecated)]
    if uris.is_empty()
        && let Some(root) = &params.root_uri
    {
        uris.push(root.clone());
    }
    let mut paths: Vec<PathBuf> = uris
        .iter()
        .filter_map(|uri| match uri.to_file_path() {
            Some(path) => Some(path.into_owned()),
            None => {
                tracing::warn!(
                    uri = uri.as_str(),
                    "a workspace folder that is not a file: URI; ignored"
                );
                None
            }
        })
        .collect();
    #[allow(deprecated)]
    if paths.is_empty()
        && let Some(root) = &params.root_path
    {
        paths.push(PathBuf::from(root));
    }
    paths
}

/// Lua clients (Neovim) cannot tell an empty table from an empty list and send `[]` for `{}`:
/// `agents: []` and an agent's `env: []` are taken as empty maps.
fn empty_lists_as_maps(mut options: Value) -> Value {
    let empty_list = |value: &Value| value.as_array().is_some_and(Vec::is_empty);
    if let Some(agents) = options.get_mut("agents") {
        if empty_list(agents) {
            *agents = json!({});
        }
        if let Some(agents) = agents.as_object_mut() {
            for profile in agents.values_mut() {
                if let Some(env) = profile.get_mut("env")
                    && empty_list(env)
                {
                    *env = json!({});
                }
            }
        }
    }
    options
}

fn overrides_from(
    base: &SettingsOverrides,
    options: InitializationOptions,
) -> RpcResult<SettingsOverrides> {
    let mut overrides = base.clone();
    if let Some(state_dir) = options.state_dir {
        // `~/` is the home directory, as in a shell.
        let expanded = match (state_dir.strip_prefix("~/"), std::env::var_os("HOME")) {
            (Some(rest), Some(home)) => PathBuf::from(home).join(rest).display().to_string(),
            _ => state_dir,
        };
        overrides.state_dir = Some(absolute_path("initializationOptions.stateDir", &expanded)?);
    }
    if let Some(worktree_dir) = options.worktree_dir {
        overrides.worktree_dir = Some(worktree_dir);
    }
    if let Some(max_running) = options.max_running {
        overrides.max_running = Some(max_running);
    }
    if let Some(default_agent) = options.default_agent {
        overrides.default_agent = Some(default_agent);
    }
    for (name, profile) in options.agents.unwrap_or_default() {
        let field = format!("initializationOptions.agents.{name}");
        let format = profile.format.parse::<OutputFormat>().map_err(|_| {
            invalid_params(format!(
                "`{field}.format` is {:?}; expected \"claude-stream-json\", \"codex-json\" or \"text\"",
                profile.format
            ))
        })?;
        if profile
            .command
            .first()
            .is_none_or(|program| program.is_empty())
        {
            return Err(invalid_params(format!(
                "`{field}.command` must name a program: a non-empty list whose first item is not empty"
            )));
        }
        let mut agent = AgentProfile::new(
            &name,
            profile.command,
            format,
            profile.env.unwrap_or_default(),
        );
        if let Some(input) = profile.input {
            agent.input = input.parse().map_err(|_| {
                invalid_params(format!(
                    "`{field}.input` is {input:?}; expected \"stream-json\" or \"closed\""
                ))
            })?;
        }
        if let Some(timeout) = profile.approval_timeout {
            let text = match &timeout {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            agent.approval_timeout = parse_approval_timeout(&text).map_err(|message| {
                invalid_params(format!("`{field}.approvalTimeout`: {message}"))
            })?;
        }
        for (limit, value, target) in [
            ("maxCostUsd", profile.max_cost_usd, &mut agent.max_cost_usd),
            ("maxMinutes", profile.max_minutes, &mut agent.max_minutes),
        ] {
            if let Some(value) = value {
                if !value.is_finite() || value <= 0.0 {
                    return Err(invalid_params(format!(
                        "`{field}.{limit}` must be a number above 0, not {value}"
                    )));
                }
                *target = Some(value);
            }
        }
        overrides.agents.insert(name, agent);
    }
    Ok(overrides)
}

pub(crate) async fn initialize(
    client: &Client,
    options: &ServeOptions,
    params: InitializeParams,
) -> RpcResult<Arc<Core>> {
    let init_options = initialization_options(params.initialization_options.clone())?;
    let overrides = overrides_from(&options.overrides, init_options)?;
    let paths = workspace_paths(&params);
    let (sessions, repos, no_repository) = blocking("initialize", move || {
        let settings = Settings::resolve(overrides)
            .map_err(|error| invalid_params(format!("invalid settings: {error}")))?;
        let sessions =
            Sessions::new(settings).map_err(|error| op_error(ErrorKind::Internal, &error))?;
        let (repos, no_repository) = workspace_repositories(&sessions, paths);
        Ok::<_, RpcError>((sessions, repos, no_repository))
    })
    .await??;
    let sessions = Arc::new(sessions);
    let feed = Feed::open(
        client.clone(),
        sessions.settings().state_dir.clone(),
        repos.clone(),
    )
    .await
    .map_err(|error| op_error(ErrorKind::Internal, &error))?;
    let (done, reconciled) = tokio::sync::watch::channel(false);
    let reconciliation =
        crate::start_reconciliation(sessions.clone(), options.reconcile_every, done);
    Ok(Arc::new(Core {
        sessions,
        repos,
        no_repository,
        feed,
        reconciled,
        background: vec![reconciliation],
    }))
}

/// `initializationOptions`, checked: absent or null is the defaults; anything but an object,
/// or a field of the wrong shape, is -32602 naming the field.
fn initialization_options(value: Option<Value>) -> RpcResult<InitializationOptions> {
    let value = match value {
        None | Some(Value::Null) => return Ok(InitializationOptions::default()),
        Some(value) if !value.is_object() => {
            return Err(invalid_params(format!(
                "`initializationOptions` must be an object, not {}",
                json_kind(&value)
            )));
        }
        Some(value) => value,
    };
    protocol::parse_params::<InitializationOptions>("initialize", empty_lists_as_maps(value))
        .map_err(|error| {
            let field = if error.field == "." {
                "initializationOptions".to_owned()
            } else {
                format!("initializationOptions.{}", error.field)
            };
            let detail = error
                .message
                .trim_start_matches(&format!("`{}`: ", error.field));
            invalid_params(format!("invalid `{field}`: {detail}"))
        })
}

/// The repositories of the workspace folders, and the error a request without `repo` gets
/// when there are none (naming the first folder that is not usable, or saying there is none).
fn workspace_repositories(sessions: &Sessions, paths: Vec<PathBuf>) -> (Vec<PathBuf>, RpcError) {
    let mut repos: Vec<PathBuf> = Vec::new();
    let mut unusable = None;
    let no_folder = paths.is_empty();
    for path in paths {
        match sessions.repository_of(&path) {
            Ok(repo) => {
                if !repos.contains(&repo) {
                    repos.push(repo);
                }
            }
            Err(problem) => {
                tracing::warn!("a workspace folder is not usable: {problem}: {problem:?}");
                unusable.get_or_insert_with(|| {
                    with_reason(
                        op_error(ErrorKind::BadRepository, &problem),
                        Some(discover_reason(&problem)),
                    )
                });
            }
        }
    }
    let no_repository = unusable.unwrap_or_else(|| {
        let (message, reason) = if no_folder {
            (
                "the editor has no folder open; open a folder inside a git repository",
                "noWorkspaceFolder",
            )
        } else {
            (
                "the workspace has no git repository; give `repo`",
                "notARepository",
            )
        };
        error(
            code::BAD_REPOSITORY,
            message,
            Some(json!({ "reason": reason })),
        )
    });
    (repos, no_repository)
}
