# unchanged: d1
# A new policy re-evaluates the sticks present: an allowed stick made read-only is taken away and
# comes back with BLKROGET 1; then no longer listed, it is blocked and its disk disappears; in audit
# mode it is authorized again and the decision says what would have been blocked. The image is
# unchanged on the host: no write got through while the stick was read-only.
. "/host$MAMORI_SRC/guest-lib.sh"
cp "/host$MAMORI_SRC/policies/sticks.json" /host/mnt/policy.json
guard_start /mnt/policy.json || exit 1
apply() {  # apply POLICY: the guard reads it on SIGHUP
  n=$(grep -c '^applied' "$GUARD_LOG")
  cp "/host$MAMORI_SRC/policies/$1" /host/mnt/policy.json
  kill -HUP "$GUARD_PID"
  wait_for 20 sh -c "[ \$(grep -c '^applied' $GUARD_LOG) -gt $n ]" || fail "policy $1 applied"
}
ro() { [ "$(blockdev --getro "$1")" = 1 ]; }

plug s1 d1 MAMORI-OK-1
wait_for 30 exists /sys/block/sda/sda1 && pass "allowed stick got sda" || fail "allowed stick got sda"
check "allowed stick is writable" [ "$(blockdev --getro /dev/sda)" = 0 ]
dev=$(usb_name_of MAMORI-OK-1)

apply ok-read-only.json
check "re-evaluated: read-only by rule ledger-ok" \
  logged "device=\"$dev\".*action=read-only rule=\"ledger-ok\" mode=enforce"
wait_for 30 exists /sys/block/sda/sda1 && pass "the stick came back as sda" ||
  fail "the stick came back as sda"
wait_for 5 ro /dev/sda1
check "now blockdev --getro /dev/sda is 1" ro /dev/sda
check "now blockdev --getro /dev/sda1 is 1" ro /dev/sda1
check "now a direct write fails" sh -c '! dd if=/dev/zero of=/dev/sda bs=4096 count=1 conv=fsync 2>/dev/null'

apply none-allowed.json
check "re-evaluated: block by rule default" \
  logged "device=\"$dev\".*action=block rule=\"default\" mode=enforce"
wait_for 10 absent /sys/block/sda && pass "its disk disappeared" || fail "its disk disappeared"
check "the stick is unauthorized" [ "$(cat /sys/bus/usb/devices/$dev/authorized)" = 0 ]

apply audit.json
check "re-evaluated in audit mode: would block" \
  logged "device=\"$dev\".*action=block rule=\"default\" mode=audit"
wait_for 30 exists /sys/block/sda && pass "audit mode blocks nothing: sda is back" ||
  fail "audit mode blocks nothing: sda is back"
guard_show_log
[ -z "$FAILED" ]
