#!/usr/bin/env bash
# What tools/install-deps.sh adds to a minimal Debian 12: the number of packages and their
# installed size in MB of 10^6 bytes (the sum of dpkg's Installed-Size, as apt's "After
# this operation" counts it). Run as root on a Debian 12 machine: it downloads packages from
# this machine's Debian mirror (/etc/apt/sources.list.d/debian.sources) and changes no file
# outside BASE.
#   tools/measure-install-size.sh [ARGS...]     measures `install-deps.sh ARGS...`
# INSTALL_DEPS (default: the install-deps.sh beside this script) measures another version,
# e.g. one from an older checkout. BASE (default /tmp/tapegrad-deb12-minbase) keeps the
# `debootstrap --variant=minbase bookworm` root between runs; each run installs into a copy.
set -euo pipefail

install_deps=${INSTALL_DEPS:-$(dirname "${BASH_SOURCE[0]}")/install-deps.sh}
base=${BASE:-/tmp/tapegrad-deb12-minbase}
sources=/etc/apt/sources.list.d/debian.sources

if [[ ! -d $base ]]; then
  command -v debootstrap >/dev/null || { echo "as root: apt-get install debootstrap" >&2; exit 1; }
  mirror=$(awk '/^URIs:/ { print $2; exit }' "$sources")
  debootstrap --variant=minbase bookworm "$base.tmp" "$mirror" >/dev/null
  # The same suites as this machine (updates, security), not only bookworm itself.
  rm -f "$base.tmp/etc/apt/sources.list"
  cp "$sources" "$base.tmp/etc/apt/sources.list.d/"
  mv "$base.tmp" "$base"
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-measure.XXXXXX")
cleanup() {
  if mountpoint -q "$root/proc"; then umount "$root/proc"; fi
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
cp -a "$base/." "$root/"
cp "$install_deps" "$root/install-deps.sh"
mount -t proc proc "$root/proc"

# shellcheck disable=SC2016 # ${Package} is dpkg-query's field syntax, not the shell's
sizes() { chroot "$root" dpkg-query -W -f='${Package} ${Installed-Size}\n'; }
before=$(sizes)
chroot "$root" bash /install-deps.sh "$@" >"$root/install.log" 2>&1 ||
  { tail -n 20 "$root/install.log" >&2; exit 1; }
# The packages that are new (by name: an upgraded base package is not), and their KiB.
awk -v what="install-deps.sh $*" 'NR == FNR { old[$1]; next } !($1 in old) { n++; kib += $2 }
  END { printf "%s: %d packages, %.0f MB\n", what, n, kib * 1024 / 1e6 }' <(echo "$before") <(sizes)
