#!/usr/bin/env bash
# Installs the independent protocol client's one dependency (vscode-jsonrpc, pinned by
# package-lock.json) into node_modules here, with npm's cache under ${LULU_TEST_CACHE}.
# Idempotent: does nothing when node_modules already matches the lock file.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}
mkdir -p "$cache/npm"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "protocol-node: node and npm are needed; installing them with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
stamp="$here/node_modules/.lulu-lock-sha"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
cd "$here"
npm ci --cache "$cache/npm" --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
