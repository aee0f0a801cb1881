#!/usr/bin/env bash
# Runs pam_mfa_bench: pam_mamori.so + mamori-agent beside pam_oath.so, both through pam_wrapper.
# usage: bench/run_pam_bench.sh BUILD_DIR [ITERATIONS]
set -euo pipefail
build=$(realpath "$1")
iterations=${2:-1000}
work=$(mktemp -d /tmp/mamori-bench-XXXXXX)
agent_pid=""
cleanup() {
  if [[ -n $agent_pid ]]; then kill "$agent_pid"; wait "$agent_pid" || true; fi
  [[ -n ${MAMORI_BENCH_KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

mkdir -m 700 "$work/etc" "$work/pam.d"
cat >"$work/etc/policy.json" <<JSON
{"schema":1,"version":1,"issued_at":"2026-01-01T00:00:00Z","expires_at":"2099-01-01T00:00:00Z",
 "targets":["*"],"mfa":{"services":["mamori"]}}
JSON
# The agent takes policy only as a bundle signed by a pinned key.
"$build/collector/mamorictl" policy keygen --out "$work/etc/admin.key" \
  --trust-out "$work/etc/trust.json" >/dev/null
"$build/collector/mamorictl" policy sign --key "$work/etc/admin.key" \
  --out "$work/etc/policy.bundle" "$work/etc/policy.json" >/dev/null
echo "auth required $build/agent/pam_mamori.so socket=$work/run/agent.sock" >"$work/pam.d/mamori"
echo "auth required pam_oath.so usersfile=$work/oath/\${USER}.oath window=1 digits=6" \
  >"$work/pam.d/oath"
cp "$work/pam.d/mamori" "$work/pam.d/other"
# pam_oath resolves ${USER} through getpwnam: nss_wrapper supplies the bench users to both modules.
for ((i = 0; i < 2 * iterations; i++)); do echo "u$i:x:$((20000 + i)):20000::/nonexistent:/bin/false"; done \
  >"$work/passwd"
echo "bench:x:20000:" >"$work/group"

"$build/bench/pam_mfa_bench" --setup "$work" "$((2 * iterations))"
"$build/agent/mamori" --state-dir "$work/state" --trust-file "$work/etc/trust.json" \
  policy apply "$work/etc/policy.bundle" >/dev/null
"$build/agent/mamori-agent" --trust-file "$work/etc/trust.json" --state-dir "$work/state" \
  --runtime-dir "$work/run" 2>"$work/agent.log" &
agent_pid=$!
for _ in $(seq 100); do [[ -S $work/run/agent.sock ]] && break; sleep 0.05; done

MAMORI_BENCH_USERS=$((2 * iterations)) MAMORI_BENCH_ITERATIONS=$iterations \
  LD_PRELOAD="/usr/lib/x86_64-linux-gnu/libpam_wrapper.so /usr/lib/x86_64-linux-gnu/libnss_wrapper.so" \
  PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
  NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group" \
  "$build/bench/pam_mfa_bench" "${@:3}"
