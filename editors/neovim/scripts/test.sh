#!/usr/bin/env bash
# The Neovim plugin's whole test suite: busted specs run inside Neovim against the real
# `lulu serve`, including a screen test in tmux, once on Neovim 0.11.4 and once on Neovim 0.10.x
# (the oldest version the plugin supports). Installs what it needs itself (idempotent, cached
# under ${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}): install-deps.sh, install-nvim-0.10.sh.
#
#   LULU_BIN=/abs/path/to/lulu editors/neovim/scripts/test.sh [spec files...]
#
# LULU_BIN defaults to the workspace's target/debug/lulu (build it with `cargo build -p lulu`).
# LULU_TEST_NVIM=0.11 or 0.10 runs one version only (default: both).
# The versions run side by side, the output of each after the other. Prints a line per version,
# then the closing line `N passed, N failed` summing them all; exits non-zero on any failure,
# including a Neovim that could not be installed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
plugin=$(dirname "$here")
workspace=$(cd "$plugin/../.." && pwd)

case "${LULU_TEST_NVIM:-all}" in
all) versions=(0.11 0.10) ;;
0.11 | 0.10) versions=("$LULU_TEST_NVIM") ;;
*)
  echo "test.sh: LULU_TEST_NVIM=$LULU_TEST_NVIM: expected 0.11 or 0.10 (or unset for both)" >&2
  exit 1
  ;;
esac

nvims=()
nvim_011=$("$here/install-deps.sh" | tail -n 1)
for version in "${versions[@]}"; do
  case "$version" in
  0.11) nvims+=("$nvim_011") ;;
  0.10)
    if ! nvim_010=$("$here/install-nvim-0.10.sh" | tail -n 1) || [ -z "$nvim_010" ]; then
      echo "test.sh: FAILED: Neovim 0.10 could not be installed (see above); the suite needs it" >&2
      exit 1
    fi
    nvims+=("$nvim_010")
    ;;
  esac
done

export LULU_BIN=${LULU_BIN:-$workspace/target/debug/lulu}
case "$LULU_BIN" in
/*) ;;
*) LULU_BIN="$(pwd)/$LULU_BIN" ;;
esac
if [ ! -x "$LULU_BIN" ]; then
  echo "test.sh: LULU_BIN=$LULU_BIN is not an executable; build it with 'cargo build -p lulu'" >&2
  exit 1
fi
export LULU_FIXTURES="$workspace/tests/fixtures"
export LANG=C.UTF-8 LC_ALL=C.UTF-8
# Each Neovim finds its own runtime, never that of a Neovim this script runs under.
unset VIMRUNTIME VIM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lulu-nvim-test.XXXXXX")
# On the way out, the test runs still going (after an error or a signal) are stopped.
stop_runs() {
  local lane
  for lane in "$tmp"/lane-*; do
    if [ -f "$lane/pid" ] && [ ! -f "$lane/status" ]; then
      kill "$(cat "$lane/pid")" 2>/dev/null || true
    fi
  done
}
trap 'stop_runs; rm -rf "$tmp"' EXIT
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

# One run per Neovim version, each in its own folders (Neovim's state, fixture repositories, state
# dirs; the screen test's tmux socket is named after the pid), all at once: a run mostly waits for
# servers and agents. The first streams to the terminal; the others' output follows it.
run() { # index, spec files...
  local i=$1 start rc=0
  shift
  local nvim_bin=${nvims[$i]} lane="$tmp/lane-$i"
  start=$(date +%s)
  (
    echo "$BASHPID" >"$lane/pid" # that of nvim after exec
    export XDG_STATE_HOME="$lane/state" XDG_DATA_HOME="$lane/data" XDG_CONFIG_HOME="$lane/config"
    export XDG_CACHE_HOME="$lane/cache" LULU_TEST_TMP="$lane" LULU_NVIM="$nvim_bin"
    export LULU_TEST_COUNTS="$lane/counts"
    exec "$nvim_bin" -l scripts/busted.lua "$@"
  ) || rc=$?
  echo "$rc $(($(date +%s) - start))" >"$lane/status"
}
pids=()
for i in "${!nvims[@]}"; do
  mkdir -p "$tmp/lane-$i"
  if [ "$i" -gt 0 ]; then
    run "$i" "$@" >"$tmp/lane-$i/output" 2>&1 &
    pids+=("$!")
  fi
done

passed=0 failed=0 skipped=0
for i in "${!nvims[@]}"; do
  nvim_bin=${nvims[$i]}
  lane="$tmp/lane-$i"
  version=$("$nvim_bin" --version | head -n 1)
  echo
  echo "==== busted on $version ($nvim_bin)"
  if [ "$i" -eq 0 ]; then
    run 0 "$@"
  else
    wait "${pids[$((i - 1))]}" || true
    cat "$lane/output"
  fi
  read -r rc seconds <"$lane/status" || rc=1 seconds=?
  # A run that broke (busted or Neovim itself) without a failed test counts as one failure.
  if [ ! -f "$lane/counts" ]; then
    echo "test.sh: busted on $nvim_bin did not finish (exit code $rc)"
    p=0 f=1 s=0
  else
    read -r p f s <"$lane/counts"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      echo "test.sh: busted on $nvim_bin exited with code $rc"
      f=1
    fi
  fi
  echo "---- ${seconds}s on $version"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done

echo
line="$passed passed, $failed failed"
if [ "$skipped" -gt 0 ]; then
  line="$line, $skipped skipped"
fi
echo "$line"
[ "$failed" -eq 0 ]
