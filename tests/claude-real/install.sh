#!/usr/bin/env bash
# install.sh: installs the real Claude Code CLI (npm package @anthropic-ai/claude-code, a pinned
# version) under ${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}/claude-code, and prints the path of
# its `claude` executable on stdout (progress goes to stderr). Idempotent: when the pinned
# version is already there it only checks it and prints the path.
#
# From 2.1.113 on the package ships Claude Code as a native executable (in an optional,
# per-platform package that its postinstall copies over bin/claude.exe), so Node's version only
# matters for npm itself; the package's `engines` asks for Node >= 22, which npm merely warns
# about on Node 20.
set -euo pipefail
version=2.1.332
cache=${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}
dir=$cache/claude-code
claude=$dir/node_modules/.bin/claude

installed_version() {
    # `claude --version` prints e.g. "2.1.332 (Claude Code)".
    [ -x "$1" ] || return 1
    local out
    out=$(DISABLE_AUTOUPDATER=1 "$1" --version 2>/dev/null) || return 1
    printf '%s\n' "${out%% *}"
}

if [ "$(installed_version "$claude" || true)" = "$version" ]; then
    printf '%s\n' "$claude"
    exit 0
fi

# One install at a time (several test runs may start together on a fresh machine).
mkdir -p "$cache"
exec 9>"$cache/claude-code.lock"
if command -v flock >/dev/null; then
    flock 9
    if [ "$(installed_version "$claude" || true)" = "$version" ]; then
        printf '%s\n' "$claude"
        exit 0
    fi
fi

command -v npm >/dev/null || { echo "install.sh: npm is not on PATH (Node.js is needed to install Claude Code)" >&2; exit 1; }
staging=$(mktemp -d "$cache/claude-code.install.XXXXXX")
trap 'rm -rf "$staging"' EXIT
echo "install.sh: installing @anthropic-ai/claude-code@$version into $dir" >&2
printf '{ "name": "lulu-test-claude-code", "private": true }\n' > "$staging/package.json"
if ! npm install --prefix "$staging" --no-audit --no-fund --engine-strict=false --loglevel=error \
    "@anthropic-ai/claude-code@$version" >"$staging/npm.log" 2>&1; then
    cat "$staging/npm.log" >&2
    echo "install.sh: npm install of @anthropic-ai/claude-code@$version failed (log above)" >&2
    exit 1
fi
staged=$staging/node_modules/.bin/claude
if [ "$(installed_version "$staged" || true)" != "$version" ]; then
    # npm may skip install scripts (allow-scripts policies); run the package's postinstall
    # ourselves, which puts the native executable in place of the bin/claude.exe placeholder.
    echo "install.sh: running the package's postinstall (node install.cjs)" >&2
    (cd "$staging/node_modules/@anthropic-ai/claude-code" && node install.cjs) >&2
fi
got=$(installed_version "$staged" || true)
if [ "$got" != "$version" ]; then
    echo "install.sh: the installed claude reports version '${got:-nothing}', expected $version" >&2
    exit 1
fi
rm -rf "$dir"
mv "$staging" "$dir"
trap - EXIT
printf '%s\n' "$claude"
