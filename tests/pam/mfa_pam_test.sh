#!/usr/bin/env bash
# End-to-end MFA through the real PAM stack: pamtester loads pam_mamori.so through pam_wrapper
# (service files from a test directory, never /etc/pam.d) and talks to a running mamori-agent.
# usage: mfa_pam_test.sh CASE AGENT_BIN MAMORI_BIN PAM_MODULE MAMORICTL_BIN
set -euo pipefail

case_name=$1 agent_bin=$2 mamori_bin=$3 module=$4 mamorictl_bin=$5
secret_b32=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ  # RFC 6238's SHA-1 key, 160 bits
pamtester=(pamtester)
if [[ -n ${MAMORI_TEST_PRELOAD:-} ]]; then
  # Sanitizer builds: the runtime goes first; leaks of pamtester and libpam are not ours to judge.
  pamtester=(env "LD_PRELOAD=$MAMORI_TEST_PRELOAD /usr/lib/x86_64-linux-gnu/libpam_wrapper.so"
    ASAN_OPTIONS=detect_leaks=0 pamtester)
fi
wrapper=/usr/lib/x86_64-linux-gnu/libpam_wrapper.so

work=$(mktemp -d /tmp/mamori-pam-XXXXXX)
chmod 755 "$work"  # pamtester also runs as nobody
agent_pid=""
cleanup() {
  local status=$?
  if [[ -n $agent_pid ]]; then
    kill "$agent_pid" 2>/dev/null || true
    # A sanitizer finding (or any unclean exit) of the agent fails the case.
    if ! wait "$agent_pid" && ((status == 0)); then
      echo "FAIL ($case_name): mamori-agent exited uncleanly" >&2
      cat "$work/agent.log" >&2
      status=1
    fi
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

fail() {
  echo "FAIL ($case_name): $*" >&2
  echo "--- agent log" >&2
  cat "$work/agent.log" >&2 || true
  exit 1
}

mkdir -m 700 "$work/etc"
cat >"$work/etc/policy.json" <<JSON
{"schema":1,"version":1,"issued_at":"2026-01-01T00:00:00Z","expires_at":"2099-01-01T00:00:00Z",
 "targets":["*"],
 "mfa":{"services":["login"],"max_failures":3,"lockout_seconds":600}}
JSON
# The agent takes policy only as a bundle signed by a pinned key: sign it and apply it locally.
"$mamorictl_bin" policy keygen --out "$work/etc/admin.key" --trust-out "$work/etc/trust.json" \
  >/dev/null || fail "policy keygen"
"$mamorictl_bin" policy sign --key "$work/etc/admin.key" --out "$work/etc/policy.bundle" \
  "$work/etc/policy.json" >/dev/null || fail "policy sign"
"$mamori_bin" --state-dir "$work/state" --trust-file "$work/etc/trust.json" \
  policy apply "$work/etc/policy.bundle" >/dev/null 2>&1 || fail "policy apply"

mkdir -m 755 "$work/pam.d"
sock="$work/run/agent.sock"
echo "auth required $module socket=$sock timeout=5" >"$work/pam.d/login"
cp "$work/pam.d/login" "$work/pam.d/other"
# Succeeds only when pam_mamori answers PAM_IGNORE: every other answer ends the stack in failure.
printf 'auth [ignore=ignore default=die] %s socket=%s\nauth required pam_permit.so\n' \
  "$module" "$sock" >"$work/pam.d/cron"
printf 'auth [ignore=ignore default=die] %s socket=%s exempt_users=breakglass,admin\nauth required pam_permit.so\n' \
  "$module" "$sock" >"$work/pam.d/login-exempt"
chmod 644 "$work/pam.d/"*

import_user() {  # USER
  cat >"$work/etc/$1.json" <<JSON
{"format":"mamori-mfa-import","version":1,"user":"$1",
 "totp":{"algorithm":"SHA1","digits":6,"period":30},
 "secret_base32":"$secret_b32","enrolled_at":1763900000,
 "recovery":{"kdf":"PBKDF2-HMAC-SHA256","iterations":60000,"salt":"AAAAAAAAAAAAAAAAAAAAAA==",
             "hashes":[]}}
JSON
  "$mamori_bin" --state-dir "$work/state" mfa import "$work/etc/$1.json" 2>/dev/null ||
    fail "import of $1"
}

start_agent() {  # [prefix command...]
  rm -f "$sock"
  "$@" "$agent_bin" --trust-file "$work/etc/trust.json" --state-dir "$work/state" \
    --runtime-dir "$work/run" 2>>"$work/agent.log" &
  agent_pid=$!
  for _ in $(seq 100); do
    [[ -S $sock ]] && return 0
    sleep 0.05
  done
  fail "agent did not start"
}

stop_agent() {
  kill "$agent_pid"
  local pid=$agent_pid
  agent_pid=""
  wait "$pid" || fail "mamori-agent exited uncleanly"
}

code_now() { oathtool --totp -b "$secret_b32"; }
# A code that no step within two steps of now has.
wrong_code() {
  local near
  near=$(oathtool --totp -b -w 4 -N "now - 60 seconds" "$secret_b32")
  for c in 000000 111111 222222 333333 444444; do
    grep -qx "$c" <<<"$near" || { echo "$c"; return; }
  done
}

# pam SERVICE USER CODE [runner...]: prints pamtester's result line, returns its status.
pam() {
  local service=$1 user=$2 code=$3
  shift 3
  echo "$code" | "$@" env LD_PRELOAD="$wrapper" PAM_WRAPPER=1 \
    PAM_WRAPPER_SERVICE_DIR="$work/pam.d" "${pamtester[@]}" "$service" "$user" authenticate 2>&1
}

expect() {  # WANTED_MESSAGE SERVICE USER CODE [runner...]
  local want=$1 out
  shift
  out=$(pam "$@") || true
  grep -q "$want" <<<"$out" || fail "$2 $3: wanted '$want', got: $out"
}
ok_msg="successfully authenticated"
auth_err="Authentication failure"
maxtries="Have exhausted maximum number of retries"
unknown="User not known"

events() { cat "$work/state/journal/"*.jsonl | grep -c "\"type\":\"$1\"" || true; }

import_user alice
start_agent

case $case_name in
  right_code)
    expect "$ok_msg" login alice "$(code_now)"
    [[ $(events mfa.success) == 1 ]] || fail "no success event"
    ;;
  wrong_code)
    expect "$auth_err" login alice "$(wrong_code)"
    [[ $(events mfa.failure) == 1 ]] || fail "no failure event"
    ;;
  replay)
    code=$(code_now)
    expect "$ok_msg" login alice "$code"
    expect "$auth_err" login alice "$code"
    [[ $(events mfa.replay) == 1 ]] || fail "no replay event"
    ;;
  lockout_and_unlock)
    bad=$(wrong_code)
    expect "$auth_err" login alice "$bad"
    expect "$auth_err" login alice "$bad"
    expect "$maxtries" login alice "$bad"
    # Locked: the right code is refused, and stays unspent.
    code=$(code_now)
    expect "$maxtries" login alice "$code"
    [[ $(events mfa.lockout) == 1 ]] || fail "no lockout event"
    "$mamori_bin" --state-dir "$work/state" mfa status alice | grep -q "locked: until" ||
      fail "status does not show the lock"
    "$mamori_bin" --state-dir "$work/state" mfa unlock alice 2>/dev/null || fail "unlock"
    expect "$ok_msg" login alice "$(code_now)"
    ;;
  enroll_and_recovery_code_once)
    # Enrollment for real: read the secret from the URI, answer with the app's code.
    coproc ENROLL {
      "$mamori_bin" --state-dir "$work/state" --png "$work/etc/carol.png" mfa enroll carol 2>&1
    }
    # Bash forgets a coproc's descriptors once it exits: keep copies.
    enroll_pid=$ENROLL_PID
    exec {enroll_out}<&"${ENROLL[0]}" {enroll_in}>&"${ENROLL[1]}"
    secret="" qr_rows=0 uri=""
    while IFS= read -r line <&"$enroll_out"; do
      if [[ $line == *█* ]]; then qr_rows=$((qr_rows + 1)); fi
      if [[ $line == otpauth://* ]]; then
        uri=$line
        secret=$(sed -E 's/.*[?&]secret=([A-Z2-7]+).*/\1/' <<<"$line")
        break
      fi
    done
    [[ ${#secret} -ge 32 ]] || fail "no secret of 160 bits in the otpauth URI"
    ((qr_rows > 10)) || fail "no QR code in the terminal"
    enroll_code=$(oathtool --totp -b "$secret")
    echo "$enroll_code" >&"$enroll_in"
    recovery=()
    while IFS= read -r line <&"$enroll_out"; do
      if [[ $line =~ ^\ \ ([0-9]{4}-[0-9]{4})$ ]]; then recovery+=("${BASH_REMATCH[1]}"); fi
    done
    wait "$enroll_pid" || fail "enroll failed"
    [[ ${#recovery[@]} == 10 ]] || fail "expected 10 recovery codes, got ${#recovery[@]}"
    [[ $(head -c 8 "$work/etc/carol.png" | od -An -tx1 | tr -d ' ') == 89504e470d0a1a0a ]] ||
      fail "--png did not write a PNG"
    [[ $(zbarimg --raw -q "$work/etc/carol.png") == "$uri" ]] ||
      fail "the PNG's QR code does not decode to the otpauth URI"
    [[ $(stat -c %a "$work/etc/carol.png") == 600 ]] || fail "the PNG holds the secret: mode must be 0600"
    # The enrollment code itself is spent.
    expect "$auth_err" login carol "$enroll_code"
    expect "$ok_msg" login carol "${recovery[0]}"
    expect "$auth_err" login carol "${recovery[0]}"
    expect "$ok_msg" login carol "${recovery[1]//-/}"
    [[ $(events mfa.recovery_used) == 2 ]] || fail "expected 2 recovery events"
    "$mamori_bin" --state-dir "$work/state" mfa status carol | grep -q "recovery codes left: 8" ||
      fail "status does not count 8 recovery codes left"
    ! grep -q "${recovery[2]}\|${recovery[2]//-/}\|$secret" -r "$work/state" ||
      fail "a recovery code or the secret is stored in plaintext"
    ;;
  unenrolled_denied)
    expect "$unknown" login bob "$(code_now)"
    [[ $(events mfa.unenrolled_denied) == 1 ]] || fail "no unenrolled event"
    ;;
  non_root_caller)
    import_user nobody
    runner=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    # Asking about another user is refused however right the code.
    expect "$auth_err" login alice "$(code_now)" "${runner[@]}"
    [[ $(events mfa.caller_refused) == 1 ]] || fail "no caller_refused event"
    # A screen locker running as the user may check the user itself.
    expect "$ok_msg" login nobody "$(code_now)" "${runner[@]}"
    # alice's code was not consumed by the refused request.
    expect "$ok_msg" login alice "$(code_now)"
    ;;
  agent_down)
    stop_agent
    expect "$auth_err" login alice "$(code_now)"
    ;;
  service_out_of_scope)
    expect "$ok_msg" cron alice "000000"
    expect "$ok_msg" cron bob "000000"
    # In scope the same stack fails: the successes above were PAM_IGNORE.
    cp "$work/pam.d/cron" "$work/pam.d/login"
    expect "$unknown" login bob "000000"
    ;;
  exempt_user)
    stop_agent
    expect "$ok_msg" login-exempt breakglass "x"
    expect "$auth_err" login-exempt alice "$(code_now)"
    ;;
  japanese_prompt)
    out=$(echo "$(code_now)" | env LANG=ja_JP.UTF-8 LD_PRELOAD="$wrapper" PAM_WRAPPER=1 \
      PAM_WRAPPER_SERVICE_DIR="$work/pam.d" "${pamtester[@]}" login alice authenticate 2>&1) || true
    grep -q "確認コード" <<<"$out" || fail "no Japanese prompt: $out"
    grep -q "$ok_msg" <<<"$out" || fail "login failed: $out"
    ;;
  write_failure_denies)
    stop_agent
    before=$(cat "$work/state/mfa/alice.cred")
    # A file size limit makes every state write fail for real (EFBIG).
    start_agent prlimit --fsize=64
    code=$(code_now)
    expect "$auth_err" login alice "$code"
    [[ $(cat "$work/state/mfa/alice.cred") == "$before" ]] || fail "record changed"
    ! ls -A "$work/state/mfa" | grep -q tmp || fail "temp file left behind"
    stop_agent
    start_agent
    expect "$ok_msg" login alice "$code"
    ;;
  parallel_same_code)
    rounds=${MAMORI_PARALLEL_ROUNDS:-50}
    for r in $(seq "$rounds"); do import_user "u$r"; done
    for r in $(seq "$rounds"); do
      # All 16 logins start and wait at the prompt; the code then reaches them all within a
      # millisecond or so, so their verifications overlap in the agent. The test holds each pipe
      # open itself, so a login that dies early (pam_wrapper's config directory names collide
      # now and then) cannot block the writer.
      pids=() fds=()
      for i in $(seq 16); do
        mkfifo "$work/in.$r.$i"
        exec {fd}<>"$work/in.$r.$i"
        fds+=("$fd")
        env LD_PRELOAD="$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
          "${pamtester[@]}" login "u$r" authenticate <"$work/in.$r.$i" >"$work/out.$i" 2>&1 &
        pids+=($!)
      done
      sleep 0.3
      code=$(code_now)
      for fd in "${fds[@]}"; do echo "$code" >&"$fd"; done
      wait "${pids[@]}" || true
      for fd in "${fds[@]}"; do exec {fd}>&-; done
      n=$(cat "$work"/out.* | grep -c "$ok_msg" || true)
      [[ $n == 1 ]] || fail "round $r: the same code was accepted $n times by 16 parallel logins"
    done
    ;;
  *)
    fail "unknown case"
    ;;
esac
echo "ok: $case_name"
