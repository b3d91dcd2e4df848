#!/usr/bin/env bash
# Packages the platform-specific .vsix for linux-x64 with the lulu server inside
# (server/lulu), as rust-analyzer ships its server: the extension uses it unless
# lulu.server.path names another. Needs LULU_BIN: the built server (cargo build --release -p lulu).
# Writes dist/lulu-linux-x64.vsix.
set -euo pipefail
ext=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${LULU_BIN:?set LULU_BIN to the lulu binary to bundle}"
cd "$ext"
mkdir -p server
cp "$LULU_BIN" server/lulu
chmod 755 server/lulu
trap 'rm -rf "$ext/server"' EXIT
node esbuild.mjs --production
npx vsce package --target linux-x64 --no-dependencies --out dist/lulu-linux-x64.vsix
