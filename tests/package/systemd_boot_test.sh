#!/usr/bin/env bash
# The installed agent under a real systemd. The .deb is installed silently into a Debian 12 tree with
# systemd, enrolling at a collector on loopback, and that tree boots as the root of a QEMU guest
# (tmpfs overlay, systemd as PID 1) with usbcore.authorized_default=0 and a stick attached at boot.
# The guest has no network: the collector is unreachable until the guest starts it again from its
# database, copied into the tree with the collector's programs. systemd-boot-guest.sh asserts from
# inside, run by a unit ordered after mamori-agent.service; harness.py hot-plugs for it.
#   systemd_boot_test.sh BUILD_DIR KERNEL INITRD
set -euo pipefail
build=$(realpath "$1")
kernel=$(realpath "$2")
initrd=$(realpath "$3")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/mamori-sysboot.XXXXXX)
root=$work/root
collector_pid=""
start=$(date +%s)

cleanup() {
  [[ -n $collector_pid ]] && kill "$collector_pid" 2>/dev/null || true
  umount -l "$root/proc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@" </dev/null; }
elapsed() { echo "($(($(date +%s) - start)) s)"; }

echo "== agent package"
cpack --config "$build/CPackConfig.cmake" -B "$work/debs" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack"; }
agent_deb=$(ls "$work"/debs/mamori-agent_*.deb)
collector_deb=$(ls "$work"/debs/mamori-collector_*.deb)

echo "== collector on loopback, for the enrollment at install time $(elapsed)"
cd "$work"
# shellcheck source=tests/package/collector-lib.sh
. "$here/collector-lib.sh"
start_collector

echo "== Debian 12 with systemd and the packages' libraries $(elapsed)"
# The packages' own dependencies are part of the cached tree (first alternative, no versions), so
# that the install needs no network and a change of them makes a new tree.
mapfile -t depends < <({
  dpkg-deb -f "$agent_deb" Depends
  echo ,
  dpkg-deb -f "$collector_deb" Depends
} | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep -v '^$' | sort -u)
tarball=$(bash "$here/make-chroot.sh" systemd systemd-sysv pamtester oathtool "${depends[@]}")
mkdir "$root"
tar -C "$root" -xzf "$tarball"
mount -t proc proc "$root/proc"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$root/etc/machine-id"
cp "$agent_deb" "$work/ca.pem" "$root/tmp/"

echo "== silent install $(elapsed)"
printf '%s\n' "mamori-agent mamori-agent/collector_url string https://127.0.0.1:$agent_port" \
  "mamori-agent mamori-agent/enrollment_token password $enroll_token" \
  "mamori-agent mamori-agent/collector_ca string /tmp/ca.pem" \
  "mamori-agent mamori-agent/policy_root_keys string $root_key" |
  chroot "$root" debconf-set-selections
in_root dpkg -i "/tmp/$(basename "$agent_deb")" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "install"; }
rm "$root/tmp/$(basename "$agent_deb")"

echo "== apt's lists with the security suite, for the pending-updates check $(elapsed)"
# Fetched for each run, after the install, so the lists are current and apt's cache matches dpkg's
# status: the check in the guest then compares real installed versions with a real security suite.
echo "deb ${MAMORI_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main" \
  >"$root/etc/apt/sources.list.d/security.list"
in_root apt-get update -q >"$work/apt-update.log" 2>&1 || { cat "$work/apt-update.log"; fail "apt-get update"; }

echo "== the guest's test: a user with MFA, a PAM service, the test unit $(elapsed)"
secret=$(head -c 20 /dev/urandom | base32)
in_root useradd alice
cat >"$root/root/alice.json" <<JSON
{"format":"mamori-mfa-import","version":1,"user":"alice",
 "totp":{"algorithm":"SHA1","digits":6,"period":30},
 "secret_base32":"$secret","enrolled_at":1763900000,
 "recovery":{"kdf":"PBKDF2-HMAC-SHA256","iterations":60000,"salt":"AAAAAAAAAAAAAAAAAAAAAA==",
             "hashes":[]}}
JSON
in_root mamori mfa import /root/alice.json >/dev/null || fail "mfa import"
rm "$root/root/alice.json"
(umask 077 && echo "$secret" >"$root/root/mfa-secret")
echo "auth required pam_mamori.so timeout=30" >"$root/etc/pam.d/mamori-boot-test"
install -m 755 "$here/systemd-boot-guest.sh" "$root/usr/local/sbin/mamori-boot-test"
cat >"$root/etc/systemd/system/mamori-boot-test.service" <<'UNIT'
[Unit]
Description=Mamori boot test (results on the serial console)
After=mamori-agent.service mamori-agent.socket

[Service]
Type=exec
ExecStart=/usr/local/sbin/mamori-boot-test
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
UNIT
ln -s ../mamori-boot-test.service "$root/etc/systemd/system/multi-user.target.wants/"
# The console belongs to the test: no login prompt on it.
for unit in serial-getty@ttyS0.service getty@tty1.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
umount "$root/proc"

echo "== the collector's programs and database, for the guest to start $(elapsed)"
kill "$collector_pid"
wait "$collector_pid" || true
collector_pid=""
dpkg-deb -x "$collector_deb" "$work/collector-package"
cp "$work/collector-package/usr/bin/mamori-collector" "$work/collector-package/usr/bin/mamorictl" \
  "$root/usr/local/bin/"
install -d -m 700 "$root/root/collector"
cp "$work"/collector.db* "$work/ca.pem" "$root/root/collector/"
cat >"$root/root/collector/env" <<ENV
agent_port=$agent_port
admin_port=$admin_port
MAMORI_COLLECTOR_URL=https://127.0.0.1:$admin_port
MAMORI_CA=/root/collector/ca.pem
MAMORI_TOKEN=$MAMORI_TOKEN
ENV

echo "== boot $(elapsed)"
mkdir -p "$build/tests/package/run"
python3 "$here/../qemu/harness.py" --kernel "$kernel" --initrd "$initrd" \
  --scenario "$here/systemd-boot-guest.sh" --share "$root" --workdir "$build/tests/package/run" \
  --timeout 480 || fail "guest checks $(elapsed)"
echo "PASS $(elapsed)"
