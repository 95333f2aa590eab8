#!/usr/bin/env bash
# Runs a ./dev command (default: demo) as a new user would, on a fresh Debian: a minbase root file
# system made by debootstrap, in a podman container, on a fresh clone of this repository's
# committed HEAD. Only the Rust toolchain comes from this machine (rustup's, mounted read-only),
# and the crates (copied from this machine's cache, so the container needs no TLS to crates.io);
# every Debian package the build needs must be installed by ./dev itself.
#   tests/fresh-debian.sh [demo|up ...]     (as root; work files in $FRESH_DEBIAN_DIR)
# The first run takes long (debootstrap, then a whole build on a new target directory).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${FRESH_DEBIAN_DIR:-$repo/target/fresh-debian}"
suite="${FRESH_DEBIAN_SUITE:-bookworm}"
image="passerelle-fresh-$suite"
[ $# -gt 0 ] || set -- demo

rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
[ -d "$rustup_home/toolchains" ] || { echo "error: no rustup toolchain in $rustup_home" >&2; exit 2; }

missing=()
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# crun cannot start containers on every host; runc with cgroupfs can.
podman=(podman --runtime runc --cgroup-manager cgroupfs)

mkdir -p "$work"
if ! "${podman[@]}" image exists "$image"; then
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase "$suite" "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log"
  tar -C "$work/rootfs" -c . | "${podman[@]}" import --quiet - "$image" >/dev/null
  rm -rf "$work/rootfs"
fi

# A fresh clone of what is committed, and the crates its lock file names.
rm -rf "$work/src" "$work/cargo-home"
git clone --quiet --no-checkout "$repo" "$work/src"
git -C "$work/src" checkout --quiet "$(git -C "$repo" rev-parse HEAD)"
(cd "$work/src" && cargo fetch --locked --quiet)
mkdir -p "$work/cargo-home" "$work/target"
cp -a "$cargo_home/registry" "$work/cargo-home/"

# Limits no higher than this host's hard ones: podman's defaults are refused without
# CAP_SYS_RESOURCE.
at_most() { if [ "$1" = unlimited ] || [ "$1" -gt "$2" ]; then echo "$2"; else echo "$1"; fi; }
nofile=$(at_most "$(ulimit -Hn)" 16384)
nproc=$(at_most "$(ulimit -Hu)" 16384)
exec "${podman[@]}" run --rm --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" \
  -v "$rustup_home:/root/.rustup:ro" -v "$cargo_home/bin:/opt/cargo-bin:ro" \
  -v "$work/cargo-home:/cargo-home" -v "$work/target:/target" -v "$work/src:/src" \
  -e RUSTUP_HOME=/root/.rustup -e CARGO_HOME=/cargo-home -e CARGO_TARGET_DIR=/target \
  -e CARGO_NET_OFFLINE=true -e PATH=/opt/cargo-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  -w /src "$image" ./dev "$@"
