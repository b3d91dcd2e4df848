//! The repository's own documents stay true to the tree: every path `ARCHITECTURE.md` names
//! exists, and no document points outside the repository.

use crate::support::workspace_root;

/// The backticked words of a Markdown text that look like paths in the repository: they hold a
/// `/` and none of the marks of a placeholder, a command or a runtime path.
fn named_paths(markdown: &str) -> Vec<String> {
    markdown
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| word.contains('/') && !word.contains("://"))
        .filter(|word| {
            !word.contains(|c: char| c.is_whitespace() || "<>${}*~|()".contains(c))
                && !word.starts_with('/')
                && !word.starts_with(".git/")
                && !word.starts_with("runs/")
                && !word.starts_with("lulu/")
        })
        .map(|word| word.trim_end_matches(['.', ',', ':']).to_owned())
        .collect()
}

#[test]
fn architecture_names_only_paths_that_exist() {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let paths = named_paths(&text);
    assert!(paths.len() > 20, "too few paths found: {paths:?}");
    let missing: Vec<&String> = paths
        .iter()
        .filter(|path| !root.join(path).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

#[test]
fn documents_never_point_outside_the_repository() {
    let root = workspace_root();
    let mut documents = vec![
        root.join("README.md"),
        root.join("ARCHITECTURE.md"),
        root.join("editors/vscode/README.md"),
        root.join("editors/neovim/README.md"),
    ];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        documents.push(entry.expect("an entry of docs/").path());
    }
    let outside: Vec<String> = documents
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("a document");
            text.contains("../shared")
                || text.contains("shared/DESIGN")
                || text.contains("shared/PROTOCOL")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "documents that point outside the repository: {outside:?}"
    );
}
