# A real composite device on the dummy host controller: a configfs gadget that is a mass-storage stick
# and a HID keyboard at once. The guard rejects it (badusb-hid) although an allow rule names its
# vendor and product: it is removed from the bus, and neither a disk nor a keyboard appears.
. "/host$MAMORI_SRC/guest-lib.sh"
check "dummy host controller present" exists /sys/class/udc/dummy_udc.0
guard_start "$MAMORI_SRC/policies/sticks.json" || exit 1
inputs_before=$(ls /sys/class/input | wc -l)

g=/config/usb_gadget/badusb
mkdir -p $g/strings/0x409 $g/configs/c.1 $g/functions/mass_storage.0 $g/functions/hid.usb0
echo 0x1d6b >$g/idVendor
echo 0x0104 >$g/idProduct
echo BADUSB-1 >$g/strings/0x409/serialnumber
dd if=/dev/zero of=/tmp/backing.img bs=1M count=4 2>/dev/null
echo /tmp/backing.img >$g/functions/mass_storage.0/lun.0/file
echo 1 >$g/functions/hid.usb0/protocol
echo 1 >$g/functions/hid.usb0/subclass
echo 8 >$g/functions/hid.usb0/report_length
# Usage Page (Generic Desktop), Usage (Keyboard), Collection (Application), End Collection.
printf '\005\001\011\006\241\001\300' >$g/functions/hid.usb0/report_desc
ln -s $g/functions/mass_storage.0 $g/configs/c.1/
ln -s $g/functions/hid.usb0 $g/configs/c.1/
echo dummy_udc.0 >$g/UDC

wait_for 30 logged 'serial="BADUSB-1".*action=reject rule="badusb-hid" mode=enforce' &&
  pass "storage + keyboard rejected by rule badusb-hid" ||
  fail "storage + keyboard rejected by rule badusb-hid"
wait_for 10 sh -c '! on_bus BADUSB-1' 2>/dev/null
check "the rejected device is gone from the bus" sh -c "! grep -qx BADUSB-1 /sys/bus/usb/devices/*/serial"
sleep 2
check "no disk appeared" no_disk
check "no input device appeared" [ "$(ls /sys/class/input | wc -l)" = "$inputs_before" ]
guard_show_log
[ -z "$FAILED" ]
