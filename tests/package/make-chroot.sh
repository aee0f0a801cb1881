#!/usr/bin/env bash
# Prints the path of a clean Debian 12 minbase tree as a tarball, made once with debootstrap and
# cached (like the QEMU test kernel) so that each package test starts from the same clean system.
set -euo pipefail
cache=${MAMORI_TEST_CACHE:-/var/cache/mamori-test}
tarball=$cache/bookworm-minbase.tar.gz
mirror=${MAMORI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [[ ! -s $tarball ]]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/debootstrap.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include=libpam-runtime,debconf,adduser bookworm "$work/root" \
    "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  cp /etc/resolv.conf "$work/root/etc/resolv.conf"
  chroot "$work/root" apt-get update -q >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; exit 1; }
  tar -C "$work/root" -czf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi
echo "$tarball"
