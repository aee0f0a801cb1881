# The agent's decision latency, resident memory and idle wake-ups in the guest, run by
# bench/run_usb_latency.sh (not a test: it asserts nothing about time). The real mamori-agent with
# its journal: MAMORI_BENCH_PLUGS hot-plugs of an unlisted stick (blocked by rule `default`) and as
# many of an allow-listed one (rule `ledger-ok`; its decision is recorded before the write, and the
# kernel then configures the stick). Latencies are the `latency_us` of the journal's records.
# The loop between plugs polls with shell builtins only, so no process of its own competes with
# the agent while it decides. Prints @@METRIC lines; bench/run_usb_latency.sh summarizes them.
. "/host$MAMORI_SRC/guest-lib.sh"
. "/host$MAMORI_SRC/agent-lib.sh"
for arg in $(cat /proc/cmdline); do
  case $arg in
    mamori.plugs=*) PLUGS=${arg#*=} ;;
    mamori.idle=*) IDLE=${arg#*=} ;;
  esac
done
PLUGS=${PLUGS:-50}
IDLE=${IDLE:-60}

# Milliseconds since boot, from the guest's clock.
now_ms() { read -r up _ </proc/uptime; echo "${up%.*}${up#*.}0"; }
calibrate() {  # the same work the bench script times on the host: CPU, then system calls
  t0=$(now_ms)
  chroot /host sh -c 'head -c 16777216 /dev/zero | sha256sum' >/dev/null
  t1=$(now_ms)
  chroot /host dd if=/dev/zero of=/dev/null bs=1 count=100000 2>/dev/null
  t2=$(now_ms)
  echo "@@METRIC calibrate sha256_16mib_ms=$((t1 - t0)) dd_100k_syscalls_ms=$((t2 - t1))"
}

agent_sign_policy
rss() { echo "@@METRIC agent-rss-$1 $(grep -E 'VmRSS|VmHWM' "/proc/$AGENT_PID/status" | tr -s ' \t' ' ' | tr '\n' ' ')threads=$(ls /proc/$AGENT_PID/task | wc -l)"; }

agent_stop() {
  kill "$AGENT_PID"
  wait "$AGENT_PID"
}

calibrate
# Built-in defaults first, then the signed policy applied (the agent reads it at start).
agent_start "mamori-agent started with built-in defaults" || exit 1
sleep 2
rss defaults
agent_stop
chroot /host "$BIN/mamori" --state-dir /mnt/state --trust-file /mnt/policy/trust.json \
  policy apply /mnt/policy/policy.bundle >/dev/null || fail "policy apply"
agent_start "mamori-agent started with the signed policy" || exit 1
sleep 2
rss policy

plugged() {  # a device below a root hub, found with shell builtins only
  for d in /sys/bus/usb/devices/[0-9]*-[0-9]*; do
    case $d in *:*) ;; *) [ -e "$d" ] && return 0 ;; esac
  done
  return 1
}
gone() { ! plugged; }
cycle() {  # cycle SERIAL ID: plug a stick, let the agent decide, unplug it
  qmp blockdev-add driver=null-co node-name="$2"
  qmp device_add driver=usb-storage bus=xhci.0 id="$2" drive="$2" serial="$1"
  wait_for 30 plugged || fail "stick $2 enumerated"
  usleep 1500000
  qmp device_del id="$2"
  wait_for 30 gone || fail "stick $2 unplugged"
}
i=1
while [ "$i" -le "$PLUGS" ]; do
  cycle "LATENCY-$i" blk$i
  cycle MAMORI-OK-1 ok$i
  i=$((i + 1))
done

percentiles() {  # percentiles NAME SERIAL_PATTERN ACTION
  journal | grep '"type":"usb.decision"' | grep "\"serial\":\"$2\"" |
    grep "\"action\":\"$3\"" | grep -o '"latency_us":"[0-9]*"' | grep -o '[0-9]*' | sort -n >/tmp/lat
  count=$(wc -l </tmp/lat)
  [ "$count" -gt 0 ] || { fail "$1 latencies recorded"; return; }
  p50=$(sed -n "$(((count * 50 + 99) / 100))p" /tmp/lat)
  p99=$(sed -n "$(((count * 99 + 99) / 100))p" /tmp/lat)
  max=$(tail -n 1 /tmp/lat)
  echo "@@METRIC $1 samples=$count p50_us=$p50 p99_us=$p99 max_us=$max all_us=$(tr '\n' ' ' </tmp/lat)"
  check "$1: a decision for every hot-plug" [ "$count" -eq "$PLUGS" ]
}
percentiles block-decision 'LATENCY-[0-9]*' block
percentiles allow-decision MAMORI-OK-1 allow
rss after-plugs

# Idle: every thread of the agent, over IDLE seconds with no device event.
sleep 2
switches() { cat /proc/$AGENT_PID/task/*/status | awk '/ctxt_switches/ { n += $2 } END { print n }'; }
per_thread() {
  for t in /proc/$AGENT_PID/task/*; do
    echo "$(basename "$t"):$(cat "$t/comm"):$(awk '/ctxt_switches/ { n += $2 } END { print n }' "$t/status")"
  done | tr '\n' ' '
}
before=$(switches)
threads_before=$(per_thread)
sleep "$IDLE"
after=$(switches)
echo "@@METRIC agent-idle seconds=$IDLE context_switches=$((after - before))"
[ $((after - before)) -eq 0 ] || echo "threads before: $threads_before; after: $(per_thread)"
rss idle
calibrate

agent_stop
echo "---- agent log"
grep -v "^device decision" "$AGENT_LOG"
echo "----"
[ -z "$FAILED" ]
