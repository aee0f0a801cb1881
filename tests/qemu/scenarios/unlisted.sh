# A stick no rule allows is decided "block" by the default rule and never gets a block device; after
# kill -9 of the guard a newly plugged stick stays blocked (authorized_default=0 stays in the kernel).
. "/host$MAMORI_SRC/guest-lib.sh"
guard_start "$MAMORI_SRC/policies/sticks.json" || exit 1
check "default deny on every root hub" \
  sh -c '! grep -L "^0$" /sys/bus/usb/devices/usb*/authorized_default | grep -q .'

plug s1 d1 UNLISTED-1
wait_for 30 on_bus UNLISTED-1 || fail "stick UNLISTED-1 enumerated"
dev=$(usb_name_of UNLISTED-1)
wait_for 20 logged "device=\"$dev\".*serial=\"UNLISTED-1\".*action=block rule=\"default\" mode=enforce" &&
  pass "decision block by rule default logged" || fail "decision block by rule default logged"
sleep 3  # room for a disk to appear, were the stick authorized
check "unlisted stick unauthorized" [ "$(cat /sys/bus/usb/devices/$dev/authorized)" = 0 ]
check "unlisted stick has no interfaces" absent "/sys/bus/usb/devices/$dev:1.0"
check "unlisted stick never got a block device" no_disk
chroot /host "$MAMORI_DRIVER" --list >/tmp/bus
cat /tmp/bus
check "platform classifies the unauthorized stick from its descriptors" \
  grep -q "^descriptor $dev config=1 interface=0 class=08 subclass=06 protocol=50$" /tmp/bus
check "platform reads it as unauthorized, without problems" \
  grep -q "^device $dev vid=46f4 pid=0001 serial=UNLISTED-1 authorized=0 problems=0$" /tmp/bus

kill -9 "$GUARD_PID"
wait "$GUARD_PID" 2>/dev/null
plug s2 d2 UNLISTED-2
wait_for 30 on_bus UNLISTED-2 || fail "stick UNLISTED-2 enumerated"
dev2=$(usb_name_of UNLISTED-2)
sleep 3
check "after kill -9 a new stick stays unauthorized" \
  [ "$(cat /sys/bus/usb/devices/$dev2/authorized)" = 0 ]
check "after kill -9 a new stick gets no block device" no_disk
guard_show_log
[ -z "$FAILED" ]
