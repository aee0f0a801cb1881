# qemu-append: usbcore.authorized_default=0
# qemu-device: usb-storage,bus=xhci.0,drive=d1,serial=MAMORI-OK-1,id=boot1
# qemu-device: usb-storage,bus=xhci.0,drive=d2,serial=UNLISTED-BOOT,id=boot2
# Sticks present at boot with usbcore.authorized_default=0 stay unauthorized until the guard starts;
# then the allow-listed one gets its disk and the other stays blocked.
. "/host$MAMORI_SRC/guest-lib.sh"
wait_for 30 on_bus MAMORI-OK-1 || fail "allow-listed stick enumerated at boot"
wait_for 30 on_bus UNLISTED-BOOT || fail "unlisted stick enumerated at boot"
ok=$(usb_name_of MAMORI-OK-1)
other=$(usb_name_of UNLISTED-BOOT)
sleep 2
check "before the guard: allow-listed stick unauthorized" \
  [ "$(cat /sys/bus/usb/devices/$ok/authorized)" = 0 ]
check "before the guard: no block device" no_disk

guard_start "$MAMORI_SRC/policies/sticks.json" || exit 1
wait_for 30 exists /sys/block/sda && pass "after the guard decided: allow-listed stick got sda" ||
  fail "after the guard decided: allow-listed stick got sda"
check "decision allow by rule ledger-ok logged" \
  logged "device=\"$ok\".*action=allow rule=\"ledger-ok\" mode=enforce"
check "decision block by rule default logged" \
  logged "device=\"$other\".*action=block rule=\"default\" mode=enforce"
check "unlisted stick still unauthorized" [ "$(cat /sys/bus/usb/devices/$other/authorized)" = 0 ]
check "only one disk" [ "$(ls /sys/block | grep -c '^sd')" = 1 ]
guard_show_log
[ -z "$FAILED" ]
