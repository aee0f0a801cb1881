# Helpers for scenarios, sourced by the guest's busybox sh. Lines starting with "@@" on the console
# are read by harness.py: @@QMP asks the host to send a QMP command, @@PASS/@@FAIL report checks,
# @@METRIC reports a measurement.

GUARD_LOG=/tmp/guard.log

pass() { echo "@@PASS $*"; }
fail() { echo "@@FAIL $*"; FAILED=1; }
check() {  # check NAME COMMAND...: passes when the command succeeds
  name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

# qmp COMMAND key=value...: the host sends it to QEMU; callers wait for its effect in sysfs.
qmp() { echo "@@QMP $*"; }
plug() {  # plug ID DRIVE SERIAL
  qmp device_add driver=usb-storage bus=xhci.0 id="$1" drive="$2" serial="$3"
}
unplug() { qmp device_del id="$1"; }

# wait_for SECONDS COMMAND...: polls every 50 ms until the command succeeds.
wait_for() {
  _wait_limit=$(($1 * 20))
  shift
  _wait_n=0
  while ! "$@"; do
    _wait_n=$((_wait_n + 1))
    [ "$_wait_n" -ge "$_wait_limit" ] && return 1
    usleep 50000
  done
  return 0
}

exists() { [ -e "$1" ]; }
absent() { [ ! -e "$1" ]; }
logged() { grep -q -- "$1" "$GUARD_LOG"; }
no_disk() { ! ls /sys/block | grep -q '^sd'; }

guard_start() {  # guard_start POLICY_FILE (path on the host)
  : >"$GUARD_LOG"
  chroot /host "$MAMORI_DRIVER" "$1" >>"$GUARD_LOG" 2>&1 &
  GUARD_PID=$!
  wait_for 60 guard_settled
  logged '^ready' || { fail "guard started"; cat "$GUARD_LOG"; return 1; }
}

guard_settled() { logged '^ready' || ! kill -0 "$GUARD_PID" 2>/dev/null; }

guard_show_log() {
  echo "---- guard log"
  cat "$GUARD_LOG"
  echo "----"
}

# The USB device name of the stick with this serial, once it is on the bus.
usb_name_of() {
  for d in /sys/bus/usb/devices/*; do
    [ -f "$d/serial" ] && [ "$(cat "$d/serial")" = "$1" ] && { basename "$d"; return 0; }
  done
  return 1
}
on_bus() { usb_name_of "$1" >/dev/null; }
