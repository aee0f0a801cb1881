# unchanged: d3
# A stick allow-listed read-only gets sda, BLKROGET says 1 on the disk and its partition, and a
# direct write fails; the host checks afterwards that the image is byte-for-byte unchanged.
. "/host$MAMORI_SRC/guest-lib.sh"
guard_start "$MAMORI_SRC/policies/sticks.json" || exit 1
plug s1 d3 MAMORI-RO-1
wait_for 30 exists /sys/block/sda/sda1 && pass "read-only stick got sda and sda1" ||
  fail "read-only stick got sda and sda1"
dev=$(usb_name_of MAMORI-RO-1)
check "decision read-only by rule ledger-ro logged" \
  logged "device=\"$dev\".*serial=\"MAMORI-RO-1\".*action=read-only rule=\"ledger-ro\" mode=enforce"
# The guard acts on the disk's uevent; give it a moment to have done so on the partition too.
ro() { [ "$(blockdev --getro "$1")" = 1 ]; }
wait_for 5 ro /dev/sda1
check "blockdev --getro /dev/sda is 1" ro /dev/sda
check "blockdev --getro /dev/sda1 is 1" ro /dev/sda1
check "a direct write to sda fails" sh -c '! dd if=/dev/zero of=/dev/sda bs=4096 count=1 conv=fsync 2>/dev/null'
check "a direct write to sda1 fails" sh -c '! dd if=/dev/zero of=/dev/sda1 bs=4096 count=1 conv=fsync 2>/dev/null'
check "the stick is still readable" sh -c 'dd if=/dev/sda bs=512 count=1 2>/dev/null | grep -q mamori-d3'
guard_show_log
[ -z "$FAILED" ]
