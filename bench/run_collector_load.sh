#!/usr/bin/env bash
# Runs bench/collector_load against a collector on loopback, on SQLite or on a private PostgreSQL 15
# (tests/support/pg-test-server.sh), and stops everything afterwards.
#   bash bench/run_collector_load.sh sqlite|postgres [collector_load options...]
# e.g. bash bench/run_collector_load.sh sqlite --terminals 100000 --interval 60 --duration 300
#
# SQLite state persists between runs in $STATE_DIR (default /work/.bench-cache/collector-load/sqlite,
# outside git): the collector's database and CA, an admin token, and every simulated terminal's key
# and certificate (collector_load --identity-dir), so a second run enrolls only the terminals it
# lacks. Reset it with RESET=1 (or rm -rf the directory). PostgreSQL starts from nothing each run.
#
# RESTART_AT=S kills the collector with SIGKILL S seconds into the load and starts it again on the
# same ports. After every run the database is checked against what the terminals saw acknowledged:
# every acknowledged report stored, none stored twice.
#
# A connection is a descriptor and this script cannot lift the hard limit (ulimit -Hn); where it
# may be raised, give fs.nr_open >= 2 × terminals. net.ipv4.ip_local_port_range bounds the ports of
# one source address; collector_load spreads its connections over 127.0.0.2.. (--source-addresses).
set -euo pipefail
umask 077 # the state holds an admin token and the terminals' private keys
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
ulimit -n "$(ulimit -Hn)"

case $backend in
  sqlite)
    state=${STATE_DIR:-/work/.bench-cache/collector-load/sqlite}
    if [[ -n ${RESET:-} ]]; then rm -rf "$state"; fi
    mkdir -p "$state"
    database=$state/collector.db
    query() { sqlite3 "$database"; }
    ;;
  postgres)
    state=$work/state
    mkdir -p "$state"
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
if [[ ! -s $state/admin-token ]]; then
  "$collector" --config "$work/collector.json" create-api-token --role admin --label load \
    2>/dev/null >"$state/admin-token.new"
  mv "$state/admin-token.new" "$state/admin-token"
fi
token=$(cat "$state/admin-token")
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
    # The kernel closes a killed process's sockets before the port is free again (and the main
    # shell, busy with collector_load, does not reap it): wait for the listener to go.
    while ss -Hltn "sport = :$agent_port" | grep -q .; do sleep 0.02; done
    start_collector --agent-port "$agent_port" --admin-port "$admin_port"
    echo "== collector started again at $(date -u +%T.%N)"
  ) &
  restarter=$!
fi
echo "== $backend, state in $state, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
"$build/bench/collector_load" --agent-url "https://127.0.0.1:$agent_port" \
  --admin-url "https://localhost:$admin_port" --ca "$work/ca.pem" --token "$token" \
  --collector-pid-file "$work/collector.pid" --acked-file "$work/acked" \
  --identity-dir "$state/identities" --started-file "$work/load.started" "$@" || status=$?
if [[ -s $work/acked ]]; then
  # Every report a terminal saw acknowledged in this run is stored, and none twice: a report stored
  # again would store its event again (the check needs the default --events 1).
  {
    echo "CREATE TEMP TABLE acked (id TEXT PRIMARY KEY, first BIGINT, last BIGINT);"
    echo "BEGIN;"
    awk '{ printf "INSERT INTO acked VALUES (\x27%s\x27, %s, %s);\n", $1, $2, $3 }' "$work/acked"
    echo "COMMIT;"
    echo "SELECT 'acknowledged reports ' || (SELECT SUM(last - first + 1) FROM acked) ||
      ', stored ' || (SELECT COUNT(*) FROM reports r JOIN acked a ON r.terminal_id = a.id
        AND r.sequence BETWEEN a.first AND a.last) ||
      ', stored twice ' || (SELECT COUNT(*) FROM (SELECT e.terminal_id, e.sequence FROM events e
        JOIN acked a ON e.terminal_id = a.id AND e.sequence BETWEEN a.first AND a.last
        GROUP BY 1, 2 HAVING COUNT(*) > 1) d);"
  } | query
fi
echo "collector log: $(grep -c '"level":"error"' "$work/collector.log") errors, $(grep -c '"msg":"handshake failed"' "$work/collector.log") failed handshakes"
grep '"level":"error"' "$work/collector.log" | sed 's/"time":"[^"]*",//' | sort | uniq -c | sort -rn | head -5 || true
exit "$status"
