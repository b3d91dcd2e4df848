#!/usr/bin/env bash
# Every test of the project: Rust (unit, integration, protocol), the independent protocol client,
# the real Claude Code CLI against a loopback mock of its API,
# VS Code (unit, protocol, packaged extension in a real code-server), Neovim (busted in real Neovim,
# tmux screen test). Installs what it needs (cached under ${LULU_TEST_CACHE:-~/.cache/lulu-test}).
#
#   bash tests/run-all.sh            everything
#   bash tests/run-all.sh rust       only some parts: lint, rust, protocol-client, claude, vscode, neovim
#
# Each part runs even when an earlier one failed; the exit code is non-zero if any failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(lint rust protocol-client claude vscode neovim)
export CARGO_TERM_COLOR=never
export LULU_TEST_CACHE=${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}
mkdir -p "$LULU_TEST_CACHE"
failed=()
started=$(date +%s)

section() { printf '\n==== %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

run_part() {
    local name=$1
    shift
    section "$name"
    if "$@"; then
        echo "---- $name: ok"
    else
        echo "---- $name: FAILED"
        failed+=("$name")
    fi
}

section "build lulu"
if ! cargo build -p lulu --locked; then
    echo "the lulu binary does not build; nothing else can run" >&2
    exit 1
fi
export LULU_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/lulu"

for part in "${parts[@]}"; do
    case "$part" in
    lint)
        run_part "rustfmt" cargo fmt --all -- --check
        run_part "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
        ;;
    rust)
        run_part "cargo test" cargo test --workspace --locked
        ;;
    protocol-client)
        for suite in tests/protocol-*/run.sh; do
            [ -e "$suite" ] || continue
            run_part "$(dirname "$suite")" bash "$suite"
        done
        ;;
    claude)
        run_part "real Claude Code CLI" bash tests/claude-real/run.sh
        ;;
    vscode)
        run_part "vscode" bash editors/vscode/scripts/test.sh
        ;;
    neovim)
        run_part "neovim" bash editors/neovim/scripts/test.sh
        ;;
    *)
        echo "unknown part '$part' (lint, rust, protocol-client, claude, vscode, neovim)" >&2
        failed+=("$part")
        ;;
    esac
done

section "summary"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED parts: ${failed[*]}"
    exit 1
fi
echo "all parts passed in $(( $(date +%s) - started ))s"
