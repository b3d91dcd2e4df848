#!/usr/bin/env bash
# Runs the independent protocol client suite against the real `lulu serve`
# ($LULU_BIN, default target/debug/lulu: build it first with `cargo build -p lulu`).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bash "$here/install.sh"
export LULU_BIN=${LULU_BIN:-$root/target/debug/lulu}
if [ ! -x "$LULU_BIN" ]; then
    echo "protocol-node: $LULU_BIN is missing; run cargo build -p lulu first" >&2
    exit 1
fi
cd "$here"
node --test --test-concurrency=1 protocol.test.mjs
