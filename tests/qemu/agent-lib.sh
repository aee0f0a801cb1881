# Helpers for guest scripts that run the real mamori-agent (not the guard driver), sourced after
# guest-lib.sh: the binaries, the signed policy (tests/qemu/policies/sticks.json under a key made
# here), the agent's start and its journal.
BIN=$(dirname "$MAMORI_DRIVER")/../../agent
CTL=$(dirname "$MAMORI_DRIVER")/../../collector/mamorictl
AGENT_LOG=/tmp/agent.log

# Writes /mnt/policy/{policy.json,admin.key,trust.json,policy.bundle}; the agent takes policy only
# as a bundle signed by a pinned key.
agent_sign_policy() {
  chmod 755 /host/mnt
  mkdir -m 755 /host/mnt/policy
  cp "/host$MAMORI_SRC/policies/sticks.json" /host/mnt/policy/policy.json
  chroot /host "$CTL" policy keygen --out /mnt/policy/admin.key --trust-out /mnt/policy/trust.json \
    >/dev/null || fail "policy keygen"
  chroot /host "$CTL" policy sign --key /mnt/policy/admin.key --out /mnt/policy/policy.bundle \
    /mnt/policy/policy.json >/dev/null || fail "policy sign"
}

# The journal's segments, oldest first.
journal() { cat /host/mnt/state/journal/seg-*.jsonl 2>/dev/null; }

agent_start() {  # agent_start CHECK_NAME: passes once the agent serves
  : >"$AGENT_LOG"
  chroot /host "$BIN/mamori-agent" --trust-file /mnt/policy/trust.json --state-dir /mnt/state \
    --runtime-dir /mnt/run >>"$AGENT_LOG" 2>&1 &
  AGENT_PID=$!
  wait_for 60 sh -c "grep -q '^mamori-agent: .*serving' $AGENT_LOG || ! kill -0 $AGENT_PID"
  grep -q '^mamori-agent: .*serving' "$AGENT_LOG" || { fail "$1"; cat "$AGENT_LOG"; return 1; }
  pass "$1"
}
