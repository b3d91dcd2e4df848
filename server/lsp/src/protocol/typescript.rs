//! The wire types for the clients, generated from this crate's own types and lists: the
//! TypeScript of the VS Code extension (`editors/vscode/src/generated/protocol.ts`) and the
//! error codes and protocol version of the Neovim plugin (`editors/neovim/lua/lulu/codes.lua`,
//! `editors/neovim/lua/lulu/protocol_version.lua`).
//!
//! A test compares both files with what this module makes now and fails on any drift;
//! `LULU_BLESS=1 cargo test -p lulu-lsp generated_client_files` writes them anew.

use std::fmt::Write as _;

use lulu_core::{
    agent_view::BlockKind,
    model::{Outcome, OutputFormat, Status, Stream},
};
use ts_rs::{Config, TS};

use super::*;

const HEADER: &str = "Generated from server/lsp/src/protocol by \
     `LULU_BLESS=1 cargo test -p lulu-lsp generated_client_files`. Do not edit.";

/// `"a" | "b" | "c"`.
fn union<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|name| format!("{name:?}"))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// `export type Name = ...;` for one wire type, with its doc comment.
fn declaration<T: TS>(config: &Config, out: &mut String) {
    if let Some(docs) = T::docs() {
        out.push_str(&docs);
    }
    let _ = writeln!(out, "export {}\n", T::decl(config));
}

macro_rules! requests_map {
    ($($constant:ident $name:literal $handler:ident($params:ty) -> $result:ty;)*) => {
        fn requests_map(config: &Config) -> String {
            let mut out = String::from(
                "/** Request method names with their params and results. */\nexport interface Requests {\n",
            );
            $(
                let _ = writeln!(
                    out,
                    "  {:?}: [{}, {}];",
                    $name,
                    <$params as TS>::name(config),
                    <$result as TS>::name(config)
                );
            )*
            out.push_str("}\nexport type RequestMethod = keyof Requests;\n");
            out
        }
    };
}
for_each_request!(requests_map);

macro_rules! notifications_map {
    ($($constant:ident $name:literal $params:ty;)*) => {
        fn notifications_map(config: &Config) -> String {
            let mut out = String::from(
                "/** Notification method names with their params. */\nexport interface Notifications {\n",
            );
            $(
                let _ = writeln!(out, "  {:?}: {};", $name, <$params as TS>::name(config));
            )*
            out.push_str("}\nexport type NotificationMethod = keyof Notifications;\n");
            out
        }
    };
}
for_each_notification!(notifications_map);

/// Declares each wire type in the TypeScript, in this order.
macro_rules! declare {
    ($config:expr, $out:expr; $($type:ty),* $(,)?) => {
        $(declaration::<$type>($config, $out);)*
    };
}

/// The whole of `editors/vscode/src/generated/protocol.ts`.
pub fn typescript_bindings() -> String {
    let config = &Config::new().with_large_int("number");
    let mut out = format!("// {HEADER}\n\nexport const PROTOCOL_VERSION = {PROTOCOL_VERSION};\n\n");
    out.push_str(&named_unions());
    out.push('\n');
    declare!(config, &mut out;
        SessionRow, RunSummary, SessionDetail, TranscriptEvent, EventBlock, AgentProfileParams,
        InitializationOptions, SpawnParams, ListParams, ListResult, IdParams, TranscriptParams,
        TranscriptResult, WatchParams, ContinueParams, RemoveParams, Empty, FileChange,
        DiffResult, AgentInfo, AgentsResult, Landed, BranchDetail, LandParams, LandResult,
        SyncParams, SyncResult, PullRequestParams, PushParams, PushResult, TrustParams,
        UntrustedSetupData, GcParams, GcRemoved, GcKept, GcResult, SessionChangedParams,
        SessionRemovedParams, OutputParams, CommentSide, Comment, CommentParams, CommentsResult,
        UncommentParams, ReviewParams, CommentsChangedParams, Approval, ApprovalsParams,
        ApprovalsResult, ApproveParams, SendParams, ApprovalRequestedParams,
        ApprovalResolvedParams,
    );
    out.push_str(&requests_map(config));
    out.push('\n');
    out.push_str(&notifications_map(config));
    out.push_str("\n/** Every error code, by the one name all clients use. */\nexport const ErrorCodes = {\n");
    for (name, value) in code::NAMED {
        let _ = writeln!(out, "  {name}: {value},");
    }
    out.push_str("} as const;\n");
    out
}

/// The string unions of the model's named values (`export type Status = "queued" | …`).
fn named_unions() -> String {
    let mut out = String::new();
    let named_unions = [
        (
            "Status",
            union(Status::ALL.iter().map(|status| status.as_str())),
        ),
        (
            "Outcome",
            union(Outcome::ALL.iter().map(|outcome| outcome.as_str())),
        ),
        (
            "TranscriptStream",
            union(Stream::ALL.iter().map(|stream| stream.as_str())),
        ),
        (
            "AgentFormat",
            union(OutputFormat::ALL.iter().map(|format| format.as_str())),
        ),
        (
            "DiffFileStatus",
            union(["added", "modified", "deleted", "renamed"]),
        ),
        (
            "EventBlockKind",
            union(BlockKind::ALL.iter().map(|kind| kind.as_str())),
        ),
        ("LandStrategy", union(["squash", "rebase", "merge"])),
    ];
    for (name, members) in named_unions {
        let _ = writeln!(out, "export type {name} = {members};");
    }
    out
}

/// The whole of `editors/neovim/lua/lulu/codes.lua`.
pub fn lua_error_codes() -> String {
    let mut out = format!(
        "-- {HEADER}\n\n---Every error code of the protocol, by the one name all clients use.\n---@enum lulu.ErrorCode\nreturn {{\n"
    );
    for (name, value) in code::NAMED {
        let _ = writeln!(out, "  {name} = {value},");
    }
    out.push_str("}\n");
    out
}

/// The whole of `editors/neovim/lua/lulu/protocol_version.lua`.
pub fn lua_protocol_version() -> String {
    format!(
        "-- {HEADER}\n\n---The protocol version this plugin speaks (`capabilities.experimental.lulu.protocolVersion`).\nreturn {}\n",
        PROTOCOL_VERSION
    )
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .expect("the crate is server/lsp in the workspace")
            .to_owned()
    }

    /// The checked-in file is what the generator makes now, or (with `LULU_BLESS=1`) becomes it.
    fn check(relative: &str, generated: &str) {
        let path = workspace_root().join(relative);
        if std::env::var_os("LULU_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("create the folder");
            std::fs::write(&path, generated).expect("write the generated file");
            return;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        pretty_assertions::assert_eq!(
            checked_in,
            generated,
            "{relative} drifted from the Rust wire types: run \
             `LULU_BLESS=1 cargo test -p lulu-lsp generated_client_files` and commit the result"
        );
    }

    #[test]
    fn generated_client_files() {
        check(
            "editors/vscode/src/generated/protocol.ts",
            &super::typescript_bindings(),
        );
        check(
            "editors/neovim/lua/lulu/codes.lua",
            &super::lua_error_codes(),
        );
        check(
            "editors/neovim/lua/lulu/protocol_version.lua",
            &super::lua_protocol_version(),
        );
    }
}
