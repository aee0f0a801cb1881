#!/bin/sh
# Runs inside the booted guest, from mamori-boot-test.service (after mamori-agent.service), with
# systemd as PID 1: the agent as the package installed it, a stick present since boot, no network
# (the collector the terminal enrolled at is unreachable until this script starts it from its
# database). Results go to the serial console for harness.py ("@@PASS", "@@FAIL", "@@QMP" hot-plug
# requests, "@@END").
# qemu-append: mamori.init=/lib/systemd/systemd systemd.show_status=0 usbcore.authorized_default=0
# qemu-device: usb-storage,bus=xhci.0,drive=d1,id=boot-stick,serial=BOOTSTICK1
# unchanged: d1
# unchanged: d2

failed=0
pass() { echo "@@PASS $*"; }
fail() {
  echo "@@FAIL $*"
  failed=1
}
wait_for() { # SECONDS COMMAND...: polls every 100 ms until the command succeeds
  _n=$(($1 * 10))
  shift
  while ! "$@"; do
    _n=$((_n - 1))
    [ "$_n" -gt 0 ] || return 1
    sleep 0.1
  done
}
agent_show() { systemctl show -p "$1" --value mamori-agent.service; }
agent_log() {
  echo "---- journal of mamori-agent"
  journalctl -b -u mamori-agent.service -u mamori-agent.socket --no-pager | tail -40
  echo "----"
}
usb_name_of() { # SERIAL: the USB device name of the stick, once it is on the bus
  for d in /sys/bus/usb/devices/*; do
    [ -f "$d/serial" ] && [ "$(cat "$d/serial")" = "$1" ] && {
      basename "$d"
      return 0
    }
  done
  return 1
}
no_disk() { ! ls /sys/block | grep -q '^sd'; }
# The agent's own view: the device's line of `mamori devices --json` shows its decision.
decided() { # SERIAL ACTION
  mamori devices --json 2>/dev/null | tr '{' '\n' | grep "\"serial\":\"$1\"" | grep -q "\"action\":\"$2\""
}
stays_blocked() { # SERIAL: unauthorized, no interface bound, no disk, and the agent blocked it
  _dev=$(usb_name_of "$1") || {
    fail "$1 is not on the bus"
    return
  }
  if wait_for 20 decided "$1" block; then pass "$1: the agent decided block"; else
    fail "$1: no block decision in mamori devices"
    mamori devices
  fi
  sleep 1
  [ "$(cat "/sys/bus/usb/devices/$_dev/authorized")" = 0 ] && pass "$1 ($_dev): authorized=0" ||
    fail "$1 ($_dev): authorized=$(cat "/sys/bus/usb/devices/$_dev/authorized")"
  no_disk && pass "$1: no block device" || fail "$1: block devices $(ls /sys/block)"
}
pam() { # CODE: pamtester's result for alice through pam_mamori.so
  echo "$1" | pamtester mamori-boot-test alice authenticate 2>&1
}
secret=$(cat /root/mfa-secret)

echo "@@METRIC boot_to_test_s $(cut -d' ' -f1 /proc/uptime)"

# Active under Type=notify means the agent sent READY=1; its STATUS= text says what it guards.
state=$(systemctl is-active mamori-agent.service)
[ "$state" = active ] && pass "mamori-agent.service is active" || fail "mamori-agent.service is $state"
[ "$(agent_show Type)" = notify ] && pass "Type=notify" || fail "Type is $(agent_show Type)"
status=$(agent_show StatusText)
case $status in
  guarding*) pass "sd_notify status: $status" ;;
  *) fail "no status from sd_notify: '$status'" ;;
esac
[ "$(systemctl is-active mamori-agent.socket)" = active ] && [ -S /run/mamori/agent.sock ] &&
  pass "mamori-agent.socket listens on /run/mamori/agent.sock" || fail "no PAM socket"
[ "$(systemctl is-enabled mamori-agent.service)" = enabled ] && pass "enabled by the postinst" ||
  fail "mamori-agent.service is $(systemctl is-enabled mamori-agent.service)"
[ "$failed" = 0 ] || agent_log

# A stick present at boot never got a chance: usbcore.authorized_default=0, then the agent.
stays_blocked BOOTSTICK1

# A wrong code is refused: the stack answers, and can fail.
wrong=000000
oathtool --totp -b -w 4 -N "now - 60 seconds" "$secret" | grep -qx "$wrong" && wrong=999999
out=$(pam "$wrong")
echo "$out" | grep -q "Authentication failure" && pass "wrong code refused" || fail "wrong code: $out"

# Kill the agent outright and ask PAM with a good code at once: the connection waits in systemd's
# socket until the agent restarted (RestartSec=1s) takes it. That it was sent before the new agent
# even started is checked by the clock (CLOCK_MONOTONIC: /proc/uptime in a guest that never sleeps).
old=$(agent_show MainPID)
restarts=$(agent_show NRestarts)
systemctl kill -s KILL mamori-agent.service
sent_us=$(($(cut -d' ' -f1 /proc/uptime | tr -d .) * 10000))
out=$(pam "$(oathtool --totp -b "$secret")")
answered_us=$(($(cut -d' ' -f1 /proc/uptime | tr -d .) * 10000))
echo "$out" | grep -q "successfully authenticated" &&
  pass "PAM verification sent with the agent killed succeeded" || fail "PAM during restart: $out"
wait_for 30 sh -c '[ "$(systemctl is-active mamori-agent.service)" = active ]' ||
  fail "agent not active again"
new=$(agent_show MainPID)
[ "$new" != 0 ] && [ "$new" != "$old" ] && pass "restarted by systemd (pid $old -> $new)" ||
  fail "MainPID $old -> $new"
[ "$(agent_show NRestarts)" -gt "$restarts" ] && pass "NRestarts $(agent_show NRestarts)" ||
  fail "NRestarts stayed $(agent_show NRestarts)"
started_us=$(agent_show ExecMainStartTimestampMonotonic)
echo "@@METRIC pam_answer_during_restart_ms $(((answered_us - sent_us) / 1000))"
[ "$sent_us" -lt "$started_us" ] &&
  pass "the PAM request preceded the new agent by $(((started_us - sent_us) / 1000)) ms" ||
  fail "the PAM request (${sent_us} us) came after the new agent started (${started_us} us)"
[ "$failed" = 0 ] || agent_log

# A stick plugged after the restart is blocked as well.
echo "@@QMP device_add driver=usb-storage bus=xhci.0 drive=d2 id=hot-stick serial=HOTSTICK2"
wait_for 20 usb_name_of HOTSTICK2 >/dev/null || fail "HOTSTICK2 never enumerated"
stays_blocked HOTSTICK2
[ "$failed" = 0 ] || agent_log

# No collector: a report fails at once and keeps the events.
t0=$(date +%s%N)
out=$(mamori report --timeout 10 2>&1) && fail "a report went out without a network: $out"
echo "@@METRIC report_unreachable_ms $((($(date +%s%N) - t0) / 1000000))"
echo "$out" | grep -q "events stay journalled" &&
  pass "report without a collector fails and keeps the events" || fail "report: $out"

# The collector back (its database, as the terminal enrolled there), then removal under systemd
# with the agent running: the prerm reports agent.removal, with the events journalled offline,
# before the agent stops.
. /root/collector/env
export MAMORI_COLLECTOR_URL MAMORI_CA MAMORI_TOKEN
mamori-collector --database /root/collector/collector.db --agent-port "$agent_port" \
  --admin-port "$admin_port" 2>/root/collector/log &
listening() { [ "$(grep -c '"listening"' /root/collector/log)" -ge 2 ]; }
wait_for 30 listening || { fail "collector did not start" && cat /root/collector/log; }
collector_has() { # TYPE: the collector's count of events of TYPE
  mamorictl events --format json | tr '{' '\n' | grep -c "\"type\":\"$1\""
}

# The pending-security-updates check as the agent runs it, inside its unit's sandbox (read-only
# system, private /tmp, CAP_SYS_ADMIN only, the system call filter): apt-get must answer there. The
# agent, restarted now that the collector is back, runs its whole catalogue at start and reports it;
# the collector's copy, stored after the restart, must be pass or fail with what apt observed.
restarted_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
systemctl restart mamori-agent.service
terminal=$(mamorictl fleet --format json | grep -o '"id":"t-[0-9a-f]*"' | head -1 | cut -d'"' -f4)
updates_check() { # the check's id, result, observed value and update time at the collector
  # (its current state comes before its history in the answer)
  mamorictl terminal show "$terminal" --format json | tr '{' '\n' |
    grep '"id":"os.security-updates"' | head -1 | tr -d '}]'
}
reported_since_restart() {
  _at=$(updates_check | grep -o '"updated_at":"[^"]*"' | cut -d'"' -f4)
  [ -n "$_at" ] && ! expr "$_at" \< "$restarted_at" >/dev/null
}
t0=$(date +%s)
if wait_for 240 reported_since_restart; then
  check=$(updates_check)
  result=$(echo "$check" | grep -o '"result":"[^"]*"' | cut -d'"' -f4)
  observed=$(echo "$check" | sed 's/.*"observed":"\(.*\)","changed_at".*/\1/')
  echo "@@METRIC updates_check_reported_s $(($(date +%s) - t0))"
  echo "os.security-updates under the unit's sandbox: $result: $observed"
  case $result in
    pass | fail)
      case $observed in
        *"pending (lists of "*) pass "the updates check ran apt in the sandbox: $result" ;;
        *) fail "updates check $result without apt's observation: $observed" ;;
      esac
      ;;
    *) fail "updates check in the sandbox: $result: $observed" ;;
  esac
else
  fail "no os.security-updates result reported within 240 s of the restart: $(updates_check)"
  agent_log
fi

# The unit's exposure as systemd rates it, with the systemd that runs it.
exposure=$(systemd-analyze security --no-pager mamori-agent.service 2>&1 |
  sed -n 's/.*Overall exposure level for mamori-agent.service: \([0-9.]*\).*/\1/p')
echo "@@METRIC exposure $exposure"
[ -n "$exposure" ] && [ "$(echo "$exposure" | tr -d .)" -le 30 ] &&
  pass "systemd-analyze security: exposure $exposure (at most 3.0)" ||
  fail "systemd-analyze security: exposure '$exposure'"

t0=$(date +%s)
out=$(DEBIAN_FRONTEND=noninteractive dpkg --remove mamori-agent 2>&1) &&
  pass "dpkg --remove succeeded in $(($(date +%s) - t0)) s" || fail "dpkg --remove: $out"
echo "$out" | grep -q "report acknowledged" && pass "prerm reported the removal" ||
  fail "prerm output: $out"
[ "$(collector_has agent.removal)" = 1 ] && pass "agent.removal is an event at the collector" ||
  fail "collector events: $(mamorictl events)"
[ "$(collector_has mfa.success)" -ge 1 ] && pass "events journalled offline reached the collector" ||
  fail "no mfa.success at the collector: $(mamorictl events)"
state=$(systemctl is-active mamori-agent.service)
[ "$state" != active ] && pass "agent stopped ($state)" || fail "agent still active after removal"
out=$(DEBIAN_FRONTEND=noninteractive dpkg --purge mamori-agent 2>&1) || fail "dpkg --purge: $out"
[ ! -e /var/lib/mamori ] && pass "purge removed /var/lib/mamori" || fail "/var/lib/mamori left"

echo "@@END rc=$failed"
systemctl poweroff --force --force
