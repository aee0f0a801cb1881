#!/usr/bin/env bash
# Fetches Debian's 6.1 kernel with apt and unpacks it with its module index into a cache directory,
# once: later runs reuse it. Prints the unpacked directory (holding vmlinuz and lib/modules/VERSION).
#   fetch-kernel.sh CACHE_DIR
set -euo pipefail
cache=${1:?usage: fetch-kernel.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# The versioned image package the linux-image-amd64 metapackage points at.
package=$(apt-cache depends linux-image-amd64 2>/dev/null |
  sed -n 's/^ *Depends: \(linux-image-6\.1\.[0-9.-]*-amd64\)$/\1/p' | head -1)
if [[ -z $package ]]; then
  echo "fetch-kernel: apt knows no linux-image-6.1 package (run apt-get update)" >&2
  exit 1
fi
version=${package#linux-image-}
dir=$cache/$version
if [[ -f $dir/ready ]]; then
  echo "$dir"
  exit 0
fi

work=$(mktemp -d "$cache/fetch.XXXXXX")
chmod 755 "$work"  # apt-get download drops privileges to _apt
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q "$package" >&2)
dpkg -x "$work"/*.deb "$work/root"
depmod -b "$work/root" "$version"
mkdir -p "$work/out"
cp "$work/root/boot/vmlinuz-$version" "$work/out/vmlinuz"
mkdir -p "$work/out/lib/modules"
mv "$work/root/lib/modules/$version" "$work/out/lib/modules/"
echo "$version" >"$work/out/version"
touch "$work/out/ready"
rm -rf "$dir"
mv "$work/out" "$dir"
echo "$dir"
