#!/usr/bin/env bash
# Runs bench/collector_load against a fresh collector on loopback, on SQLite or on a private
# PostgreSQL 15 (tests/support/pg-test-server.sh), and stops everything afterwards.
#   bash bench/run_collector_load.sh sqlite|postgres [collector_load options...]
# e.g. bash bench/run_collector_load.sh postgres --terminals 1000 --interval 1 --duration 30
set -euo pipefail
backend=${1:?usage: run_collector_load.sh sqlite|postgres [collector_load options]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build/default}
work=$(mktemp -d /tmp/mamori-load.XXXXXX)
collector_pid=""
cleanup() {
  if [[ -n $collector_pid ]]; then kill "$collector_pid" 2>/dev/null || true; wait "$collector_pid" 2>/dev/null || true; fi
  if [[ $backend == postgres ]]; then bash "$root/tests/support/pg-test-server.sh" stop "$work/pg" >/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

case $backend in
  sqlite) database=$work/collector.db ;;
  postgres)
    bash "$root/tests/support/pg-test-server.sh" start "$work/pg" >/dev/null
    host=$(cat "$work/pg/host") port=$(cat "$work/pg/port")
    psql -q "host=$host port=$port user=postgres dbname=postgres" -c "CREATE DATABASE load"
    database="postgresql:///load?host=$host&port=$port&user=postgres"
    ;;
  *) echo "run_collector_load: backend must be sqlite or postgres" >&2; exit 2 ;;
esac

cat >"$work/collector.json" <<JSON
{"database": "$database", "agent_port": 0, "admin_port": 0, "long_poll_max_seconds": 60}
JSON
collector=$build/collector/mamori-collector
token=$("$collector" --config "$work/collector.json" create-api-token --role admin --label load 2>/dev/null)
"$collector" --config "$work/collector.json" ca-cert >"$work/ca.pem" 2>/dev/null
"$collector" --config "$work/collector.json" 2>"$work/collector.log" &
collector_pid=$!
for _ in $(seq 100); do
  if [[ $(grep -c '"msg":"listening"' "$work/collector.log") -ge 2 ]]; then break; fi
  sleep 0.1
done
port_of() { grep '"msg":"listening"' "$work/collector.log" | grep "\"listener\":\"$1\"" | sed 's/.*"port":\([0-9]*\).*/\1/'; }
echo "== $backend"
"$build/bench/collector_load" --agent-url "https://127.0.0.1:$(port_of agent)" \
  --admin-url "https://localhost:$(port_of admin)" --ca "$work/ca.pem" --token "$token" \
  --collector-pid "$collector_pid" "$@" || status=$?
echo "collector log: $(grep -c '"level":"error"' "$work/collector.log") errors, $(grep -c '"msg":"handshake failed"' "$work/collector.log") failed handshakes"
grep '"level":"error"' "$work/collector.log" | sort | uniq -c | sort -rn | head -5 || true
exit "${status:-0}"
