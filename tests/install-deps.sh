#!/usr/bin/env bash
# Installs every package Mamori needs to build and test, on Debian 12. Idempotent.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  clang-14 libclang-rt-14-dev clang-format-14
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libpq-dev postgresql-15 libusb-1.0-0-dev libudev-dev libsystemd-dev
  liboath-dev libpam0g-dev libqrencode-dev libpng-dev
  libpam-wrapper libnss-wrapper pamtester libpam-oath oathtool zbar-tools
  libgtest-dev libgmock-dev libbenchmark-dev
  sqlite3
  qemu-system-x86 busybox-static cpio kmod python3
  dpkg-dev debootstrap lintian
  systemd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# An apt list older than a day (or none) may not know the packages: refresh it.
if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1) ]]; then
  $sudo apt-get update -q
fi
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
