# Decision latency, from receipt of the uevent to the completed sysfs write, measured by the guard:
# 30 hot-plugs of an unlisted stick (blocked by default: the write is authorized=0) and 10 of a
# keyboard (allowed by class rule: the write authorizes it and includes the kernel binding usbhid).
# Also the guard's resident memory and its context switches over 10 idle seconds.
. "/host$MAMORI_SRC/guest-lib.sh"
guard_start "$MAMORI_SRC/policies/sticks.json" || exit 1

decisions() { grep -c '^decision' "$GUARD_LOG"; }
cycle() {  # cycle DRIVER COUNT
  i=1
  while [ "$i" -le "$2" ]; do
    n=$(decisions)
    if [ "$1" = usb-storage ]; then
      # Each stick needs a backend of its own: unplugging deletes the one it used.
      qmp blockdev-add driver=null-co node-name=lat$i
      qmp device_add driver=usb-storage bus=xhci.0 id=lat$i drive=lat$i serial=LATENCY-$i
    else
      qmp device_add driver="$1" bus=xhci.0 id=lat$i
    fi
    wait_for 30 sh -c "[ \$(grep -c '^decision' $GUARD_LOG) -gt $n ]" || fail "decision for $1 #$i"
    qmp device_del id=lat$i
    wait_for 30 sh -c '! ls /sys/bus/usb/devices | grep -q "^[0-9]*-[0-9]*$"' || fail "unplug $1 #$i"
    i=$((i + 1))
  done
}
percentiles() {  # percentiles NAME ACTION: p50 and p99 over decisions with this action
  grep "action=$2 " "$GUARD_LOG" | grep -o 'latency_us=[0-9]*' | cut -d= -f2 | sort -n >/tmp/lat
  count=$(wc -l </tmp/lat)
  [ "$count" -gt 0 ] || { fail "$1 latencies recorded"; return; }
  p50=$(sed -n "$(((count * 50 + 99) / 100))p" /tmp/lat)
  p99=$(sed -n "$(((count * 99 + 99) / 100))p" /tmp/lat)
  echo "@@METRIC $1 samples=$count p50_us=$p50 p99_us=$p99 all_us=$(tr '\n' ' ' </tmp/lat)"
  pass "$1 latencies recorded ($count)"
}

cycle usb-storage 30
cycle usb-kbd 10
percentiles block-decision block
percentiles allow-decision allow

switches() { awk '/ctxt_switches/ { n += $2 } END { print n }' "/proc/$GUARD_PID/status"; }
before=$(switches)
sleep 10
after=$(switches)
echo "@@METRIC guard-idle context_switches_in_10s=$((after - before))"
echo "@@METRIC guard-rss $(grep -E 'VmRSS|VmHWM' "/proc/$GUARD_PID/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
check "the idle guard does not wake up" [ $((after - before)) -eq 0 ]
guard_show_log
[ -z "$FAILED" ]
