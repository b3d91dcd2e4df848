#!/usr/bin/env bash
# Installs a real Neovim 0.10.x for the suite's second lane, idempotently, into
# ${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}/nvim-0.10-trixie, and prints the path of its `nvim`
# launcher on its last line.
#
# PyPI has only Neovim 0.11 and Debian 12 (bookworm) only 0.7, so this takes Debian 13 (trixie)'s
# `neovim` package and the packages it depends on (their libc included), checked against
# trixie's signed index (gpgv with the Debian archive keyring, then SHA256 of the index and of each
# .deb), extracted with `dpkg-deb -x` (nothing is installed on the system). The nvim binary is
# patched (patchelf) to load trixie's own dynamic loader and libraries: its interpreter is the
# extracted ld-linux and its rpath the extracted library folder. A patched binary rather than
# `ld-linux --library-path ... nvim`: Neovim 0.10's terminal UI re-executes v:progpath --embed,
# which through the loader would be the loader itself. The processes nvim starts (lulu serve, git,
# sh) see no library path and use the system's libc. The launcher sets VIMRUNTIME to the package's
# runtime.
#
# Needs curl, gpgv, debian-archive-keyring, dpkg-deb, patchelf and python3 (install-deps.sh
# installs them). Any failure is reported and exits non-zero: the lane is never skipped.
set -euo pipefail

SUITE=trixie
MIRROR="${LULU_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
CACHE="${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}"
DIR="$CACHE/nvim-0.10-$SUITE"
launcher="$DIR/nvim"

fail() {
  echo "install-nvim-0.10: could not install Neovim 0.10 from Debian $SUITE: $*" >&2
  exit 1
}

installed() {
  [ -x "$launcher" ] && "$launcher" --version 2>/dev/null | head -n 1 | grep -q '^NVIM v0\.10\.'
}

if installed; then
  echo "$launcher"
  exit 0
fi

for tool in curl gpgv dpkg-deb patchelf python3 sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (editors/neovim/scripts/install-deps.sh installs it)"
done
[ -f "$KEYRING" ] || fail "$KEYRING is missing (apt-get install debian-archive-keyring)"
arch=$(dpkg --print-architecture)

mkdir -p "$CACHE"
stage=$(mktemp -d "$CACHE/.nvim-0.10-$SUITE.XXXXXX")
trap 'rm -rf "$stage"' EXIT
get() { # url file
  curl -fsSL --retry 3 --connect-timeout 20 -o "$2" "$1" || fail "download of $1 failed"
}

echo "install-nvim-0.10: installing Neovim 0.10 from Debian $SUITE ($MIRROR) into $DIR" >&2
get "$MIRROR/dists/$SUITE/InRelease" "$stage/InRelease"
gpgv --quiet --keyring "$KEYRING" --output "$stage/Release" "$stage/InRelease" 2>"$stage/gpgv.log" ||
  fail "the signature of $SUITE's InRelease does not verify with $KEYRING: $(cat "$stage/gpgv.log")"
get "$MIRROR/dists/$SUITE/main/binary-$arch/Packages.xz" "$stage/Packages.xz"

# The index, checked against the signed Release; then neovim and everything it depends on, one
# line each: package, version, pool path, SHA256. Fails unless the neovim there is 0.10.x.
if ! python3 - "$stage/Release" "$stage/Packages.xz" "main/binary-$arch/Packages.xz" \
  >"$stage/debs.txt" 2>"$stage/resolve.log" <<'EOF'
import hashlib, lzma, sys

release, packages_xz, index_name = sys.argv[1:]
want = None
in_sha256 = False
for line in open(release, encoding="utf-8"):
    if not line.startswith(" "):
        in_sha256 = line.startswith("SHA256:")
        continue
    if in_sha256:
        digest, _size, name = line.split()
        if name == index_name:
            want = digest
data = open(packages_xz, "rb").read()
if want is None or hashlib.sha256(data).hexdigest() != want:
    sys.exit("%s does not match the signed Release" % index_name)

packages, provides = {}, {}
for para in lzma.decompress(data).decode("utf-8").split("\n\n"):
    fields, key = {}, None
    for line in para.split("\n"):
        if line[:1] in (" ", "\t"):
            continue
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    if "Package" in fields:
        packages[fields["Package"]] = fields
        for p in fields.get("Provides", "").split(","):
            if p.strip():
                provides.setdefault(p.split()[0], fields["Package"])

def deps(fields):
    for field in ("Pre-Depends", "Depends"):
        for dep in fields.get(field, "").split(","):
            if dep.strip():
                # The first alternative; no version check: these are one suite's packages.
                yield dep.split("|")[0].split()[0].split(":")[0]

version = packages.get("neovim", {}).get("Version", "")
if not version.startswith("0.10."):
    sys.exit("the neovim of this suite is %r, not 0.10.x" % version)
seen, todo = [], ["neovim"]
while todo:
    name = todo.pop()
    name = name if name in packages else provides.get(name, name)
    if name in seen:
        continue
    if name not in packages:
        sys.exit("no package %s in the index" % name)
    seen.append(name)
    todo.extend(deps(packages[name]))
for name in seen:
    p = packages[name]
    print(name, p["Version"], p["Filename"], p["SHA256"])
EOF
then
  fail "$(tail -n 5 "$stage/resolve.log")"
fi

mkdir -p "$stage/debs" "$stage/root"
while read -r name version path sha256; do
  deb="$stage/debs/${path##*/}"
  get "$MIRROR/$path" "$deb"
  echo "$sha256  $deb" | sha256sum --check --quiet >/dev/null 2>&1 || fail "$path does not match the SHA256 of the signed index"
  dpkg-deb -x "$deb" "$stage/root" || fail "dpkg-deb -x $deb failed"
  echo "$name $version" >>"$stage/packages"
done <"$stage/debs.txt"
rm -rf "$stage/debs"
(cd "$stage" && rm -f InRelease Release Packages.xz gpgv.log resolve.log debs.txt)

nvim="$stage/root/usr/bin/nvim"
[ -x "$nvim" ] || fail "the neovim package has no usr/bin/nvim"
libc=$(find "$stage/root/usr/lib" -name libc.so.6 | head -n 1)
[ -n "$libc" ] || fail "no libc.so.6 among the extracted packages"
libdir=$(dirname "$libc")
loader="$libdir/$(basename "$(patchelf --print-interpreter "$nvim")")"
[ -e "$loader" ] || fail "no dynamic loader $loader among the extracted packages"
# The interpreter is an absolute path: that of the final folder. The rpath is relative to nvim.
patchelf --set-interpreter "$DIR/${loader#"$stage/"}" --force-rpath \
  --set-rpath "\$ORIGIN/../lib/$(basename "$libdir")" "$nvim" || fail "patchelf failed on $nvim"
quote() { # for sh, in single quotes
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}
neovim_version=$(awk '$1 == "neovim" { print $2 }' "$stage/packages")
cat >"$stage/nvim" <<EOF
#!/bin/sh
# Neovim $neovim_version from Debian $SUITE, with $SUITE's own libc and libraries (see
# editors/neovim/scripts/install-nvim-0.10.sh); packages in $DIR/packages.
VIMRUNTIME=$(quote "$DIR/root/usr/share/nvim/runtime") exec $(quote "$DIR/root/usr/bin/nvim") "\$@"
EOF
chmod +x "$stage/nvim"

rm -rf "$DIR"
mv "$stage" "$DIR"
trap - EXIT
if ! installed; then
  version_out=$("$launcher" --version 2>&1 | head -n 3 || true)
  fail "the installed $launcher does not run as Neovim 0.10: $version_out"
fi
echo "$launcher"
