# A hub is authorized by the class rule "hub"; a stick behind it (port path 1-1.1) is decided on its
# own: the allow-listed one gets its disk, an unlisted one behind the same hub stays blocked.
. "/host$MAMORI_SRC/guest-lib.sh"
guard_start "$MAMORI_SRC/policies/sticks.json" || exit 1
qmp device_add driver=usb-hub bus=xhci.0 port=1 id=h1
wait_for 30 logged 'device="1-1".*action=allow rule="hub" mode=enforce' &&
  pass "hub allowed by class rule hub" || fail "hub allowed by class rule hub"
plug_at() { qmp device_add driver=usb-storage bus=xhci.0 port="$1" id="$2" drive="$3" serial="$4"; }
plug_at 1.1 s1 d1 MAMORI-OK-1
plug_at 1.2 s2 d2 UNLISTED-HUB
wait_for 60 exists /sys/block/sda && pass "stick behind the hub got sda" ||
  fail "stick behind the hub got sda"
check "decision allow by rule ledger-ok at port 1-1.1" \
  logged 'device="1-1.1".*serial="MAMORI-OK-1".*action=allow rule="ledger-ok" mode=enforce'
wait_for 30 logged 'device="1-1.2".*serial="UNLISTED-HUB".*action=block rule="default"' &&
  pass "unlisted stick behind the hub blocked by rule default" ||
  fail "unlisted stick behind the hub blocked by rule default"
check "unlisted stick behind the hub unauthorized" [ "$(cat /sys/bus/usb/devices/1-1.2/authorized)" = 0 ]
sleep 2
check "only one disk" [ "$(ls /sys/block | grep -c '^sd')" = 1 ]
guard_show_log
[ -z "$FAILED" ]
