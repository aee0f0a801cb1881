#!/usr/bin/env bash
# Builds both .debs and installs them, silently, into a clean Debian 12 chroot that enrolls against a
# real collector on loopback: bad preseed, good preseed, remove (reported to the collector),
# reinstall, purge (with a collector that does not answer).
#   agent_install_test.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/mamori-package.XXXXXX)
root=$work/root
collector_pid=""

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
preseed() { printf '%s\n' "$@" | chroot "$root" debconf-set-selections; }
# Owners by the chroot's own user database.
mode_of() { chroot "$root" stat -c '%U:%G %a' "$1"; }
expect_mode() { [[ $(mode_of "$1") == "$2" ]] || fail "$1 is $(mode_of "$1"), expected $2"; }
# pam_mamori must come after pam_unix in common-auth, or not at all.
pam_line() { grep -n "^auth.*$1" "$root/etc/pam.d/common-auth" | head -1 | cut -d: -f1; }

echo "== packages"
cpack --config "$build/CPackConfig.cmake" -B "$work/debs" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack"; }
agent_deb=$(ls "$work"/debs/mamori-agent_*.deb)
collector_deb=$(ls "$work"/debs/mamori-collector_*.deb)
ls -l "$work"/debs/*.deb
echo "== lintian"
# Errors and warnings fail the test; suppressed tags are explained in installer/lintian-overrides.
lintian --fail-on error,warning --suppress-tags-from-file "$here/../../installer/lintian-overrides" \
  "$agent_deb" "$collector_deb" || fail "lintian reports errors"

echo "== collector on loopback"
cd "$work"
# shellcheck source=tests/package/collector-lib.sh
. "$here/collector-lib.sh"
start_collector

echo "== clean chroot"
mkdir -p "$root"
tar -C "$root" -xzf "$(bash "$here/make-chroot.sh")"
mount -t proc proc "$root/proc"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$root/etc/machine-id"
cp "$agent_deb" "$collector_deb" "$work/ca.pem" "$root/tmp/"
agent_deb=/tmp/$(basename "$agent_deb")
collector_deb=/tmp/$(basename "$collector_deb")
pam_before=$(cat "$root/etc/pam.d/common-auth")

echo "== agent: bad preseed is refused with the setting named, and USB stays default-deny"
preseed "mamori-agent mamori-agent/collector_url string http://127.0.0.1:$agent_port" \
  "mamori-agent mamori-agent/enrollment_token password $enroll_token" \
  "mamori-agent mamori-agent/collector_ca string /tmp/ca.pem" \
  "mamori-agent mamori-agent/policy_root_keys string $root_key"
if in_root apt-get install -y -q "$agent_deb" >"$work/bad.log" 2>&1; then
  cat "$work/bad.log"
  fail "install with an http:// collector URL succeeded"
fi
grep -q 'collector_url must start with https://' "$work/bad.log" ||
  { cat "$work/bad.log"; fail "no message naming collector_url"; }
grep -qx 'options usbcore authorized_default=0' "$root/etc/modprobe.d/mamori-usb.conf" ||
  fail "modprobe option missing after a failed configure"
[[ -z $(pam_line pam_mamori) ]] || fail "PAM changed although configuration failed"

echo "== agent: good preseed, silent install, enrolled"
preseed "mamori-agent mamori-agent/collector_url string https://127.0.0.1:$agent_port"
start=$(date +%s%N)
in_root dpkg --configure -a >"$work/good.log" 2>&1 || { cat "$work/good.log"; fail "configure"; }
echo "configure took $((($(date +%s%N) - start) / 1000000)) ms"
grep -qi 'prompt\|\?$' "$work/good.log" && { cat "$work/good.log"; fail "the install asked something"; }
expect_mode /var/lib/mamori "root:root 700"
expect_mode /etc/mamori "root:root 700"
expect_mode /etc/mamori/trust.json "root:root 644"
expect_mode /usr/sbin/mamori-agent "root:root 755"
expect_mode /lib/x86_64-linux-gnu/security/pam_mamori.so "root:root 644"
bad=$(find "$root/var/lib/mamori" -perm /077 -type f)
[[ -z $bad ]] || fail "state readable by others: $bad"
grep -q "\"$root_key\"" "$root/etc/mamori/trust.json" || fail "trust.json lacks the root key"
unix=$(pam_line pam_unix)
mamori=$(pam_line pam_mamori)
[[ -n $mamori && $mamori -gt $unix ]] || fail "pam_mamori not after pam_unix in common-auth"
grep -q '^auth[[:space:]]*required[[:space:]]*pam_mamori.so' "$root/etc/pam.d/common-auth" ||
  fail "pam_mamori is not required"
token_left=$(echo "GET mamori-agent/enrollment_token" | chroot "$root" debconf-communicate mamori-agent || true)
[[ $token_left == "0" || $token_left == "0 " ]] || fail "the enrollment token stayed in debconf: $token_left"
terminals=$("$mamorictl" fleet --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["terminals"]))')
[[ $terminals == 1 ]] || fail "collector has $terminals terminals, expected 1"

echo "== agent: remove reports itself, takes pam_mamori out of PAM first and keeps state"
in_root apt-get remove -y -q mamori-agent >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "remove"; }
grep -q 'report acknowledged' "$work/remove.log" || { cat "$work/remove.log"; fail "no removal report"; }
"$mamorictl" events --format json | python3 -c 'import json,sys
events = [e for e in json.load(sys.stdin)["events"] if e["type"] == "agent.removal"]
sys.exit(0 if len(events) == 1 else "collector has %d agent.removal events" % len(events))' ||
  fail "the removal is not an event at the collector"
[[ $(cat "$root/etc/pam.d/common-auth") == "$pam_before" ]] ||
  { diff <(echo "$pam_before") "$root/etc/pam.d/common-auth"; fail "PAM stack not restored"; }
[[ ! -e $root/lib/x86_64-linux-gnu/security/pam_mamori.so ]] || fail "module left behind"
[[ -d $root/var/lib/mamori ]] || fail "remove deleted the state"

echo "== agent: reinstall keeps the enrollment"
in_root apt-get install -y -q "$agent_deb" >"$work/reinstall.log" 2>&1 || { cat "$work/reinstall.log"; fail "reinstall"; }
grep -q 'already enrolled' "$work/reinstall.log" || { cat "$work/reinstall.log"; fail "enrolled again"; }
terminals=$("$mamorictl" fleet --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["terminals"]))')
[[ $terminals == 1 ]] || fail "reinstall made $terminals terminals"

echo "== agent: purge with a collector that does not answer: bounded by the report timeout"
kill -STOP "$collector_pid"
start=$(date +%s)
in_root apt-get purge -y -q mamori-agent >"$work/purge.log" 2>&1 ||
  { kill -CONT "$collector_pid"; cat "$work/purge.log"; fail "purge"; }
took=$(($(date +%s) - start))
kill -CONT "$collector_pid"
echo "purge took $took s"
grep -q 'not reported to the collector' "$work/purge.log" || { cat "$work/purge.log"; fail "no report failure"; }
((took < 30)) || fail "purge took $took s with a silent collector"
for f in /var/lib/mamori /etc/mamori /etc/modprobe.d/mamori-usb.conf /etc/default/grub.d/mamori.cfg; do
  [[ ! -e $root$f ]] || fail "purge left $f"
done
[[ $(cat "$root/etc/pam.d/common-auth") == "$pam_before" ]] || fail "PAM stack changed by purge"

echo "== collector package"
in_root apt-get install -y -q "$collector_deb" >"$work/collector-install.log" 2>&1 ||
  { cat "$work/collector-install.log"; fail "collector install"; }
chroot "$root" getent passwd mamori-collector >/dev/null || fail "no mamori-collector user"
expect_mode /var/lib/mamori-collector "mamori-collector:mamori-collector 700"
expect_mode /etc/mamori-collector/collector.conf "root:mamori-collector 640"
[[ -f $root/lib/systemd/system/mamori-collector.service ]] || fail "collector unit missing"
echo "PASS"
