#!/usr/bin/env bash
# Quickstart: on a fresh Debian 12 machine, builds Mamori and runs a complete local setup — a
# collector on 127.0.0.1 (SQLite), an admin API token, a policy signing key with its trust file, a
# default policy, and an agent on this host enrolled against the collector — then pushes the signed
# policy, waits for the agent's first report carrying that policy version, prints the fleet and
# stops everything it started.
#
# The agent runs in a development setup: its state (enrollment, journal, applied policy) lives under
# build/quickstart, its MFA socket too, and it changes nothing of this host's USB authorization or
# PAM configuration. Everything the quickstart creates stays under build/quickstart; run it again
# at will (the collector's database, the keys and the enrollment are kept and reused).
#
# usage: bash installer/quickstart.sh
# environment: QUICKSTART_AGENT_PORT (default 18443), QUICKSTART_ADMIN_PORT (default 18444)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/default
qs=$root/build/quickstart
agent_port=${QUICKSTART_AGENT_PORT:-18443}
admin_port=${QUICKSTART_ADMIN_PORT:-18444}
say() { printf '\n== %s\n' "$*"; }
die() {
  printf 'quickstart: %s\n' "$*" >&2
  exit 1
}

pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((status != 0)) && [[ -d $qs ]]; then
    echo "--- collector log (tail)" >&2
    tail -n 20 "$qs/collector.log" >&2 2>/dev/null || true
    echo "--- agent log (tail)" >&2
    tail -n 20 "$qs/agent.log" >&2 2>/dev/null || true
  fi
  exit "$status"
}
trap cleanup EXIT

say "dependencies (tests/install-deps.sh)"
bash "$root/tests/install-deps.sh"

say "build"
cd "$root"
cmake --preset default >/dev/null
cmake --build "$build" -j2 --target mamori-collector mamorictl mamori-agent mamori

collector_bin=$build/collector/mamori-collector
ctl_bin=$build/collector/mamorictl
agent_bin=$build/agent/mamori-agent
mamori_bin=$build/agent/mamori

say "collector (state in $qs)"
mkdir -p "$qs"
chmod 700 "$qs"
cat >"$qs/collector.json" <<JSON
{"database":"$qs/collector.db","agent_address":"127.0.0.1","agent_port":$agent_port,
 "admin_address":"127.0.0.1","admin_port":$admin_port,"server_names":["localhost","127.0.0.1"]}
JSON
"$collector_bin" --config "$qs/collector.json" ca-cert >"$qs/ca.pem"
# A fresh admin token per run: the database keeps only hashes, so an earlier one cannot be shown.
admin_token=$("$collector_bin" --config "$qs/collector.json" create-api-token --role admin \
  --label quickstart 2>/dev/null)
export MAMORI_COLLECTOR_URL=https://127.0.0.1:$admin_port MAMORI_CA=$qs/ca.pem
export MAMORI_TOKEN=$admin_token

"$collector_bin" --config "$qs/collector.json" 2>"$qs/collector.log" &
pids+=($!)
for _ in $(seq 100); do
  (($(grep -c '"msg":"listening"' "$qs/collector.log" || true) >= 2)) && break
  kill -0 "${pids[0]}" 2>/dev/null || die "the collector did not start"
  sleep 0.1
done
"$ctl_bin" fleet >/dev/null || die "the collector's admin API does not answer"

say "policy signing key and trust file"
if [[ ! -f $qs/admin.key ]]; then
  "$ctl_bin" policy keygen --out "$qs/admin.key" --trust-out "$qs/trust.json"
fi
# Every run pushes a new version: the collector and the agent accept only a higher one.
version=$(date +%s)
cat >"$qs/policy.json" <<JSON
{"schema":1,"version":$version,"issued_at":"$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "expires_at":"$(date -u -d '+365 days' +%Y-%m-%dT%H:%M:%SZ)","targets":["*"],
 "mfa":{"services":["login","sshd"]},
 "compliance":{"report_interval_seconds":60}}
JSON
"$ctl_bin" policy sign --key "$qs/admin.key" --out "$qs/policy-$version.bundle" "$qs/policy.json"

say "agent on this host (development setup: state in $qs/agent)"
if [[ ! -f $qs/agent/enrollment.json ]]; then
  token=$("$ctl_bin" token create --group quickstart --uses 1 --expires 1h --format json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  "$mamori_bin" --state-dir "$qs/agent" enroll --url "https://127.0.0.1:$agent_port" \
    --ca "$qs/ca.pem" --token-file - <<<"$token"
fi
terminal=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["terminal_id"])' \
  "$qs/agent/enrollment.json")
"$agent_bin" --dev --state-dir "$qs/agent" --runtime-dir "$qs/run" --trust-file "$qs/trust.json" \
  2>"$qs/agent.log" &
pids+=($!)

say "push policy version $version"
"$ctl_bin" policy push "$qs/policy-$version.bundle"

say "waiting for $terminal to report policy version $version"
for _ in $(seq 120); do
  if "$ctl_bin" terminal show "$terminal" 2>/dev/null | grep -q "policy_version: $version\$"; then
    reported=1
    break
  fi
  kill -0 "${pids[1]}" 2>/dev/null || die "the agent stopped"
  sleep 0.5
done
[[ -n ${reported:-} ]] || die "no report with policy version $version within 60 s"

say "mamorictl fleet"
"$ctl_bin" fleet
echo
echo "Quickstart done. The collector's state, keys and the agent's state are in $qs;"
echo "start the collector again with: $collector_bin --config $qs/collector.json"
