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

/// The whole of `editors/vscode/src/generated/protocol.ts`.
pub fn typescript_bindings() -> String {
    let config = Config::new().with_large_int("number");
    let mut out = format!("// {HEADER}\n\nexport const PROTOCOL_VERSION = {PROTOCOL_VERSION};\n\n");
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
    out.push('\n');
    let config = &config;
    declaration::<SessionRow>(config, &mut out);
    declaration::<SessionDetail>(config, &mut out);
    declaration::<TranscriptEvent>(config, &mut out);
    declaration::<EventBlock>(config, &mut out);
    declaration::<AgentProfileParams>(config, &mut out);
    declaration::<InitializationOptions>(config, &mut out);
    declaration::<SpawnParams>(config, &mut out);
    declaration::<ListParams>(config, &mut out);
    declaration::<ListResult>(config, &mut out);
    declaration::<IdParams>(config, &mut out);
    declaration::<TranscriptParams>(config, &mut out);
    declaration::<TranscriptResult>(config, &mut out);
    declaration::<WatchParams>(config, &mut out);
    declaration::<ContinueParams>(config, &mut out);
    declaration::<RemoveParams>(config, &mut out);
    declaration::<Empty>(config, &mut out);
    declaration::<FileChange>(config, &mut out);
    declaration::<DiffResult>(config, &mut out);
    declaration::<AgentInfo>(config, &mut out);
    declaration::<AgentsResult>(config, &mut out);
    declaration::<Landed>(config, &mut out);
    declaration::<BranchDetail>(config, &mut out);
    declaration::<LandParams>(config, &mut out);
    declaration::<LandResult>(config, &mut out);
    declaration::<SyncParams>(config, &mut out);
    declaration::<SyncResult>(config, &mut out);
    declaration::<PullRequestParams>(config, &mut out);
    declaration::<PushParams>(config, &mut out);
    declaration::<PushResult>(config, &mut out);
    declaration::<TrustParams>(config, &mut out);
    declaration::<UntrustedSetupData>(config, &mut out);
    declaration::<GcParams>(config, &mut out);
    declaration::<GcRemoved>(config, &mut out);
    declaration::<GcKept>(config, &mut out);
    declaration::<GcResult>(config, &mut out);
    declaration::<SessionChangedParams>(config, &mut out);
    declaration::<SessionRemovedParams>(config, &mut out);
    declaration::<OutputParams>(config, &mut out);
    declaration::<CommentSide>(config, &mut out);
    declaration::<Comment>(config, &mut out);
    declaration::<CommentParams>(config, &mut out);
    declaration::<CommentsResult>(config, &mut out);
    declaration::<UncommentParams>(config, &mut out);
    declaration::<ReviewParams>(config, &mut out);
    declaration::<CommentsChangedParams>(config, &mut out);
    declaration::<Approval>(config, &mut out);
    declaration::<ApprovalsParams>(config, &mut out);
    declaration::<ApprovalsResult>(config, &mut out);
    declaration::<ApproveParams>(config, &mut out);
    declaration::<SendParams>(config, &mut out);
    declaration::<ApprovalRequestedParams>(config, &mut out);
    declaration::<ApprovalResolvedParams>(config, &mut out);
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
