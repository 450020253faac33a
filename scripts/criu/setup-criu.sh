#!/usr/bin/env bash
# Makes a working CRIU available for checkpoint/restore (runtime-svc runs it
# through runc). Debian 12's criu (3.17) fails `criu check` on newer kernels
# ("Unexpected rt vDSO area bounds") and bookworm-backports has none, so when
# the packaged one fails, this builds Debian trixie's CRIU source once, with
# our patches in scripts/criu/, into CRIUS_CRIU_DIR (default
# /usr/local/lib/crius/criu). runtime-svc looks there before $PATH.
# Idempotent and fast when a checked build is already installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

version=4.1.1
# Bumped whenever a patch changes, so an older build is replaced.
build_tag="${version}+crius1"
# From trixie's signed Sources index (criu 4.1.1-1).
url="http://deb.debian.org/debian/pool/main/c/criu/criu_${version}.orig.tar.xz"
sha256=f80a66cb3726bb2116266d4759ce3bcbfab7abdb6b6d430bf20dd41911717afe
dest="${CRIUS_CRIU_DIR:-/usr/local/lib/crius/criu}"
cache="${CRIUS_CRIU_CACHE:-/var/cache/crius}"
build_deps=(
  gcc make libc6-dev patch pkgconf libbsd-dev libcap-dev libgnutls28-dev libnet1-dev libnftables-dev
  libnl-3-dev libprotobuf-c-dev libprotobuf-dev protobuf-c-compiler protobuf-compiler
  python3-protobuf uuid-dev libaio-dev curl xz-utils
)

works() { "$1" check >/dev/null 2>&1; }

if [ -x "$dest/criu" ] && [ "$(cat "$dest/BUILD" 2>/dev/null)" = "$build_tag" ] && works "$dest/criu"; then
  exit 0
fi
packaged="$(command -v criu || true)"
# Linux 6.16 changed socket options CRIU 4.1 and older read; our patch covers
# that, so a packaged CRIU counts only on older kernels.
kernel="$(uname -r)"
old_kernel() { [ "$(printf '%s\n' "$kernel" 6.16 | sort -V | head -n1)" != 6.16 ]; }
if [ -n "$packaged" ] && old_kernel && works "$packaged"; then
  exit 0
fi

echo "setup: building CRIU ${version} (the packaged criu does not work on kernel ${kernel}) into ${dest}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in "${build_deps[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing CRIU build dependencies: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

$SUDO mkdir -p "$cache"
tarball="$cache/criu_${version}.orig.tar.xz"
if ! echo "$sha256  $tarball" | sha256sum -c --status 2>/dev/null; then
  $SUDO curl -fsSL --retry 3 -o "$tarball.part" "$url"
  if ! echo "$sha256  $tarball.part" | sha256sum -c --status; then
    $SUDO rm -f "$tarball.part"
    echo "setup: $url does not have sha256 $sha256; not building CRIU" >&2
    exit 1
  fi
  $SUDO mv "$tarball.part" "$tarball"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/crius-criu-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tar -xJf "$tarball" -C "$work"
src="$work/criu-${version}"
for patch in "$here"/*.patch; do
  patch -d "$src" -p1 --quiet < "$patch"
done
# One job: the build takes a few minutes, and nodes are often small.
if ! make -C "$src" -j1 criu >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log" >&2
  echo "setup: CRIU build failed" >&2
  exit 1
fi
if ! works "$src/criu/criu"; then
  "$src/criu/criu" check >&2 || true
  echo "setup: the CRIU just built fails 'criu check' on this kernel; checkpoint/restore stays unavailable" >&2
  exit 0
fi
$SUDO mkdir -p "$dest"
$SUDO install -m 0755 "$src/criu/criu" "$dest/criu.new"
$SUDO mv "$dest/criu.new" "$dest/criu"
echo "$build_tag" | $SUDO tee "$dest/BUILD" >/dev/null
echo "setup: CRIU ${build_tag} installed as $dest/criu"
