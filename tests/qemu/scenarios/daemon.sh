# The real mamori-agent (not the guard driver) in the guest, with its journal and its CLI: a stick
# not allowed stays without a disk; after kill -9 of the agent the stick stays blocked and an
# allow-listed stick plugged while no agent runs stays unauthorized (authorized_default=0 stays in
# the kernel); the restarted agent re-decides and the allow-listed stick gets its disk;
# `mamori devices --json` lists both with their rules; the journal holds every decision; the idle
# agent does not wake up. (Its latency figures: bench/run_usb_latency.sh.)
. "/host$MAMORI_SRC/guest-lib.sh"
. "/host$MAMORI_SRC/agent-lib.sh"
agent_sign_policy
chroot /host "$BIN/mamori" --state-dir /mnt/state --trust-file /mnt/policy/trust.json \
  policy apply /mnt/policy/policy.bundle || fail "policy apply"
journalled() {  # journalled SERIAL ACTION RULE: a usb.decision line with these values
  journal | grep '"type":"usb.decision"' | grep "\"serial\":\"$1\"" |
    grep -q "\"action\":\"$2\",\"rule\":\"$3\",\"mode\":\"enforce\""
}
authorized() { cat "/sys/bus/usb/devices/$1/authorized"; }

agent_start "mamori-agent started" || exit 1
check "default deny on every root hub" \
  sh -c '! grep -L "^0$" /sys/bus/usb/devices/usb*/authorized_default | grep -q .'
check "no USB-bus problem logged on a host with a bus" sh -c "! grep -q 'no USB bus' $AGENT_LOG"

plug s1 d1 UNLISTED-1
wait_for 30 on_bus UNLISTED-1 || fail "stick UNLISTED-1 enumerated"
dev1=$(usb_name_of UNLISTED-1)
wait_for 20 journalled UNLISTED-1 block default && pass "block by rule default journalled" ||
  fail "block by rule default journalled"
# The log line follows the journal record: wait for it too.
wait_for 10 grep -q "^device decision: .*device=\"$dev1\".*serial=\"UNLISTED-1\".*action=block rule=\"default\"" \
  "$AGENT_LOG" && pass "the decision went to the log with its fields" ||
  fail "the decision went to the log with its fields"
sleep 3  # room for a disk to appear, were the stick authorized
check "unlisted stick unauthorized" [ "$(authorized "$dev1")" = 0 ]
check "unlisted stick never got a block device" no_disk

kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
check "after kill -9 the unlisted stick stays unauthorized" [ "$(authorized "$dev1")" = 0 ]
plug s2 d2 MAMORI-OK-1
wait_for 30 on_bus MAMORI-OK-1 || fail "stick MAMORI-OK-1 enumerated"
dev2=$(usb_name_of MAMORI-OK-1)
sleep 3
check "a stick plugged while the agent is dead stays unauthorized" [ "$(authorized "$dev2")" = 0 ]
check "a stick plugged while the agent is dead gets no block device" no_disk

agent_start "mamori-agent restarted after kill -9" || exit 1
wait_for 30 exists /sys/block/sda && pass "the restarted agent allowed MAMORI-OK-1: sda" ||
  fail "the restarted agent allowed MAMORI-OK-1: sda"
check "allow by rule ledger-ok journalled" journalled MAMORI-OK-1 allow ledger-ok
check "the unlisted stick is still unauthorized" [ "$(authorized "$dev1")" = 0 ]

chroot /host "$BIN/mamori" --runtime-dir /mnt/run devices --json >/tmp/devices.json 2>&1
cat /tmp/devices.json
check "mamori devices --json lists the allowed stick with its rule" grep -qE \
  "\"device\":\"$dev2\",[^}]*\"serial\":\"MAMORI-OK-1\",[^}]*\"action\":\"allow\",\"rule\":\"ledger-ok\",\"mode\":\"enforce\"" \
  /tmp/devices.json
check "mamori devices --json lists the blocked stick with its rule" grep -qE \
  "\"device\":\"$dev1\",[^}]*\"serial\":\"UNLISTED-1\",[^}]*\"action\":\"block\",\"rule\":\"default\",\"mode\":\"enforce\"" \
  /tmp/devices.json
chroot /host "$BIN/mamori" --runtime-dir /mnt/run devices

sleep 2
# Every thread of the agent (device events, socket workers, signals) sleeps until something happens.
switches() { cat /proc/$AGENT_PID/task/*/status | awk '/ctxt_switches/ { n += $2 } END { print n }'; }
before=$(switches)
sleep 10
after=$(switches)
echo "@@METRIC agent-idle context_switches_in_10s=$((after - before))"
check "the idle agent does not wake up" [ $((after - before)) -eq 0 ]
echo "@@METRIC agent-rss $(grep -E 'VmRSS|VmHWM' "/proc/$AGENT_PID/status" | tr -s ' \t' ' ' | tr '\n' ' ')"

kill "$AGENT_PID"
wait "$AGENT_PID"
check "mamori-agent stops cleanly on SIGTERM" [ $? -eq 0 ]
echo "---- agent log"
cat "$AGENT_LOG"
echo "---- journal"
journal
echo "----"
[ -z "$FAILED" ]
