#!/usr/bin/env bash
# The Neovim plugin's whole test suite: busted specs run inside Neovim 0.11.4 against the real
# `lulu serve`, including a screen test in tmux. Installs what it needs itself (idempotent, cached
# under ${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}).
#
#   LULU_BIN=/abs/path/to/lulu editors/neovim/scripts/test.sh [spec files...]
#
# LULU_BIN defaults to the workspace's target/debug/lulu (build it with `cargo build -p lulu`).
# Prints a closing line `N passed, N failed`; exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
plugin=$(dirname "$here")
workspace=$(cd "$plugin/../.." && pwd)

nvim_bin=$("$here/install-deps.sh" | tail -n 1)

export LULU_BIN=${LULU_BIN:-$workspace/target/debug/lulu}
case "$LULU_BIN" in
/*) ;;
*) LULU_BIN="$(pwd)/$LULU_BIN" ;;
esac
if [ ! -x "$LULU_BIN" ]; then
  echo "test.sh: LULU_BIN=$LULU_BIN is not an executable; build it with 'cargo build -p lulu'" >&2
  exit 1
fi
export LULU_NVIM="$nvim_bin"
export LULU_FIXTURES="$workspace/tests/fixtures"
export LANG=C.UTF-8 LC_ALL=C.UTF-8
# Keep Neovim's own state (logs, shada) out of the user's home.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lulu-nvim-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export XDG_STATE_HOME="$tmp/state" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache"
export LULU_TEST_TMP="$tmp"
# Run a private copy of the binary: a rebuild of target/debug/lulu during the run (other work in
# the same tree) must not change the server, or the runners it starts, under the tests' feet.
mkdir -p "$tmp/bin"
cp "$LULU_BIN" "$tmp/bin/lulu"
export LULU_BIN="$tmp/bin/lulu"

cd "$plugin"
# Lint first (unused variables, globals, long lines): .luacheckrc.
luacheck --quiet --no-color lua plugin spec scripts
if [ "$#" -eq 0 ]; then
  set -- spec
fi
"$nvim_bin" -l scripts/busted.lua "$@"
