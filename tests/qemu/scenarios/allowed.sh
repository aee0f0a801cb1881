# A stick allow-listed by serial is authorized and gets its disk; the decision names the rule.
. "/host$MAMORI_SRC/guest-lib.sh"
guard_start "$MAMORI_SRC/policies/sticks.json" || exit 1
plug s1 d1 MAMORI-OK-1
wait_for 30 exists /sys/block/sda && pass "allow-listed stick got sda" ||
  fail "allow-listed stick got sda"
wait_for 10 exists /sys/block/sda/sda1 && pass "its partition sda1 appeared" ||
  fail "its partition sda1 appeared"
dev=$(usb_name_of MAMORI-OK-1)
check "decision allow by rule ledger-ok logged" \
  logged "device=\"$dev\".*serial=\"MAMORI-OK-1\".*action=allow rule=\"ledger-ok\" mode=enforce"
check "allowed stick is writable" [ "$(blockdev --getro /dev/sda)" = 0 ]
chroot /host "$MAMORI_DRIVER" --list >/tmp/bus
cat /tmp/bus
check "platform reads its interface from the descriptors" \
  grep -q "^descriptor $dev config=1 interface=0 class=08 subclass=06 protocol=50$" /tmp/bus
check "platform lists its configured interface bound to usb-storage" \
  grep -q "^interface $dev:1.0 class=08 subclass=06 protocol=50 authorized=1 driver=usb-storage$" /tmp/bus
guard_show_log
[ -z "$FAILED" ]
