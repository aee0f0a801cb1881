#!/usr/bin/env bash
# Prints the path of a clean Debian 12 minbase tree as a tarball, made once with debootstrap and
# cached (like the QEMU test kernel) so that each package test starts from the same clean system.
#   make-chroot.sh [PACKAGE...]     packages installed on top of the base ones
# The cache file is named by a hash of the whole package list, so a changed list makes a new tree.
set -euo pipefail
cache=${MAMORI_TEST_CACHE:-/var/cache/mamori-test}
mirror=${MAMORI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=$(printf '%s\n' libpam-runtime debconf adduser "$@" | sort -u | paste -sd, -)
key=$(printf '%s' "$packages" | sha256sum | cut -c1-12)
tarball=$cache/bookworm-minbase-$key.tar.gz
if [[ ! -s $tarball ]]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/debootstrap.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include="$packages" bookworm "$work/root" \
    "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  cp /etc/resolv.conf "$work/root/etc/resolv.conf"
  chroot "$work/root" apt-get update -q >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; exit 1; }
  tar -C "$work/root" -czf "$work/root.tar.gz" .
  mv "$work/root.tar.gz" "$tarball"
fi
echo "$tarball"
