#!/usr/bin/env bash
# Runs bench/collector_load against a fresh collector on loopback, on SQLite or on a private
# PostgreSQL 15 (tests/support/pg-test-server.sh), and stops everything afterwards.
#   bash bench/run_collector_load.sh sqlite|postgres [collector_load options...]
# e.g. bash bench/run_collector_load.sh postgres --terminals 1000 --interval 1 --duration 30
# RESTART_AT=S kills the collector with SIGKILL S seconds into the load and starts it again on
# the same ports; afterwards the database is checked against what the terminals saw
# acknowledged: every acknowledged report stored, none stored twice.
set -euo pipefail
backend=${1:?usage: run_collector_load.sh sqlite|postgres [collector_load options]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build/default}
work=$(mktemp -d /tmp/mamori-load.XXXXXX)
restarter=""
cleanup() {
  if [[ -n $restarter ]]; then kill "$restarter" 2>/dev/null || true; wait "$restarter" 2>/dev/null || true; fi
  if [[ -s $work/collector.pid ]]; then
    pid=$(cat "$work/collector.pid")
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  if [[ $backend == postgres ]]; then bash "$root/tests/support/pg-test-server.sh" stop "$work/pg" >/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
# Every terminal holds one or two connections.
ulimit -Hn 1048576 2>/dev/null && ulimit -n 1048576 2>/dev/null || true

case $backend in
  sqlite) database=$work/collector.db; query() { sqlite3 "$database"; } ;;
  postgres)
    bash "$root/tests/support/pg-test-server.sh" start "$work/pg" >/dev/null
    host=$(cat "$work/pg/host") port=$(cat "$work/pg/port")
    psql -q "host=$host port=$port user=postgres dbname=postgres" -c "CREATE DATABASE load"
    database="postgresql:///load?host=$host&port=$port&user=postgres"
    query() { psql -qtA "host=$host port=$port user=postgres dbname=load"; }
    ;;
  *) echo "run_collector_load: backend must be sqlite or postgres" >&2; exit 2 ;;
esac

cat >"$work/collector.json" <<JSON
{"database": "$database", "agent_port": 0, "admin_port": 0, "long_poll_max_seconds": 60}
JSON
collector=$build/collector/mamori-collector
token=$("$collector" --config "$work/collector.json" create-api-token --role admin --label load 2>/dev/null)
"$collector" --config "$work/collector.json" ca-cert >"$work/ca.pem" 2>/dev/null
start_collector() { # [--agent-port P --admin-port Q]
  "$collector" --config "$work/collector.json" "$@" 2>>"$work/collector.log" &
  echo $! >"$work/collector.pid"
}
start_collector
for _ in $(seq 100); do
  if [[ $(grep -c '"msg":"listening"' "$work/collector.log") -ge 2 ]]; then break; fi
  sleep 0.1
done
port_of() { grep '"msg":"listening"' "$work/collector.log" | grep "\"listener\":\"$1\"" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/'; }
agent_port=$(port_of agent) admin_port=$(port_of admin)
if [[ -n ${RESTART_AT:-} ]]; then
  (
    # Start counting once the terminals are enrolled and reporting.
    until [[ -s $work/load.started ]]; do sleep 0.2; done
    sleep "$RESTART_AT"
    kill -9 "$(cat "$work/collector.pid")"
    echo "== collector killed (SIGKILL) at $(date -u +%T.%N)"
    start_collector --agent-port "$agent_port" --admin-port "$admin_port"
  ) &
  restarter=$!
fi
echo "== $backend"
"$build/bench/collector_load" --agent-url "https://127.0.0.1:$agent_port" \
  --admin-url "https://localhost:$admin_port" --ca "$work/ca.pem" --token "$token" \
  --collector-pid "$(cat "$work/collector.pid")" --acked-file "$work/acked" \
  --started-file "$work/load.started" "$@" || status=$?
if [[ -s $work/acked ]]; then
  # Every acknowledged sequence 1..n of every terminal is stored; no report's events twice.
  {
    echo "CREATE TEMP TABLE acked (id TEXT, seq BIGINT);"
    awk '{ printf "INSERT INTO acked VALUES (\x27%s\x27, %s);\n", $1, $2 }' "$work/acked"
    echo "SELECT 'acknowledged reports ' || (SELECT SUM(seq) FROM acked) || ', lost ' ||
      (SELECT COUNT(*) FROM acked a WHERE (SELECT COUNT(*) FROM reports r
        WHERE r.terminal_id = a.id AND r.sequence <= a.seq) <> a.seq) || ' terminals, stored twice ' ||
      (SELECT COUNT(*) FROM (SELECT terminal_id, sequence FROM events GROUP BY 1, 2
        HAVING COUNT(*) > 1) d) || ' reports';"
  } | query
fi
echo "collector log: $(grep -c '"level":"error"' "$work/collector.log") errors, $(grep -c '"msg":"handshake failed"' "$work/collector.log") failed handshakes"
grep '"level":"error"' "$work/collector.log" | sort | uniq -c | sort -rn | head -5 || true
exit "${status:-0}"
