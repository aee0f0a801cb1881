# shellcheck shell=bash
# Sourced by the package tests: a real collector on loopback (a chroot shares the host's network, so
# its postinst can enroll there), with an admin API token, a one-use enrollment token and a policy
# root key. Needs $build, $work and fail(); sets collector_pid, agent_port, admin_port, mamorictl,
# enroll_token and root_key, and exports what mamorictl reads (MAMORI_COLLECTOR_URL, MAMORI_CA,
# MAMORI_TOKEN).

start_collector() {
  "$build/collector/mamori-collector" --database "$work/collector.db" --agent-port 0 --admin-port 0 \
    2>"$work/collector.log" &
  collector_pid=$!
  for _ in $(seq 100); do
    [[ $(grep -c '"listening"' "$work/collector.log") -ge 2 ]] && break
    sleep 0.1
  done
  agent_port=$(collector_port agent)
  admin_port=$(collector_port admin)
  [[ -n $agent_port && -n $admin_port ]] || { cat "$work/collector.log"; fail "collector did not listen"; }
  "$build/collector/mamori-collector" --database "$work/collector.db" ca-cert >"$work/ca.pem"
  export MAMORI_COLLECTOR_URL=https://127.0.0.1:$admin_port MAMORI_CA=$work/ca.pem
  MAMORI_TOKEN=$("$build/collector/mamori-collector" --database "$work/collector.db" \
    create-api-token --role admin --label package-test | tail -1)
  export MAMORI_TOKEN
  mamorictl=$build/collector/mamorictl
  enroll_token=$("$mamorictl" token create --group kojin-jumin --uses 1 --expires 1h | grep -o 'mme_[^ ]*')
  "$mamorictl" policy keygen --out "$work/root.key" --trust-out "$work/trust.json" >/dev/null
  root_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"][0])' "$work/trust.json")
}

collector_port() {  # LISTENER: its port, from the collector's log
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    try: o = json.loads(l)
    except ValueError: continue
    if o.get("msg") == "listening" and o.get("listener") == sys.argv[2]: print(o["port"])' \
    "$work/collector.log" "$1"
}
