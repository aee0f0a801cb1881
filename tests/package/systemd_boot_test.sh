#!/usr/bin/env bash
# The installed agent under a real systemd. The .deb is installed silently into a Debian 12 tree with
# systemd (enrolling at a collector on loopback, which the guest cannot reach: it has no network),
# and that tree boots as the root of a QEMU guest (tmpfs overlay, systemd as PID 1) with
# usbcore.authorized_default=0 and a stick attached at boot. systemd-boot-guest.sh asserts from
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

echo "== collector on loopback, for the enrollment at install time $(elapsed)"
cd "$work"
# shellcheck source=tests/package/collector-lib.sh
. "$here/collector-lib.sh"
start_collector

echo "== Debian 12 with systemd and the agent's libraries $(elapsed)"
# The package's own dependencies are part of the cached tree (first alternative, no versions), so
# that the install needs no network and a change of them makes a new tree.
mapfile -t depends < <(dpkg-deb -f "$agent_deb" Depends | tr ',' '\n' |
  sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep -v '^$')
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

echo "== boot $(elapsed)"
mkdir -p "$build/tests/package/run"
python3 "$here/../qemu/harness.py" --kernel "$kernel" --initrd "$initrd" \
  --scenario "$here/systemd-boot-guest.sh" --share "$root" --workdir "$build/tests/package/run" \
  --timeout 240 || fail "guest checks $(elapsed)"
echo "PASS $(elapsed)"
