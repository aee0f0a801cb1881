#!/usr/bin/env bash
# The device guard's figures, measured in a QEMU guest (Debian's kernel, TCG) by
# tests/qemu/bench/agent_latency.sh: decision latency of mamori-agent from uevent receipt (p50,
# p99 over PLUGS hot-plugs each of a blocked and an allowed stick), its resident memory (built-in
# defaults, signed policy, after the plugs, idle) and its context switches over IDLE seconds.
# Prints the host's load average before and after (other work on the host stretches the guest's
# clock) and how much slower than the host the guest runs the same CPU and system-call work.
# usage: bench/run_usb_latency.sh BUILD_DIR [PLUGS] [IDLE_SECONDS]
#   BUILD_DIR is a configured build tree with mamori_guard_driver built (it pulls in the agent).
set -euo pipefail
build=$(realpath "$1")
plugs=${2:-50}
idle=${3:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
run=$build/tests/qemu/run
if [[ ! -e $run/kernel/vmlinuz || ! -e $run/initrd.cpio.gz ]]; then
  ctest --test-dir "$build" -R '^qemu\.kernel$' >/dev/null
fi
log=$run/agent_latency.log
mkdir -p "$run"

ms() { echo $(($(date +%s%N) / 1000000)); }
calibrate() {  # the guest runs the same commands (calibrate in agent_latency.sh)
  local t0 t1 t2
  t0=$(ms)
  sh -c 'head -c 16777216 /dev/zero | sha256sum' >/dev/null
  t1=$(ms)
  dd if=/dev/zero of=/dev/null bs=1 count=100000 2>/dev/null
  t2=$(ms)
  echo "sha256_16mib_ms=$((t1 - t0)) dd_100k_syscalls_ms=$((t2 - t1))"
}

start=$(date +%s)
echo "host load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
host_cal=$(calibrate)
echo "host calibration: $host_cal"
python3 "$src/tests/qemu/harness.py" --kernel "$run/kernel/vmlinuz" --initrd "$run/initrd.cpio.gz" \
  --scenario "$src/tests/qemu/bench/agent_latency.sh" \
  --driver "$build/tests/qemu/mamori_guard_driver" --workdir "$run" \
  --append "mamori.plugs=$plugs mamori.idle=$idle" --timeout $((400 + 6 * plugs + idle)) \
  >"$log" 2>&1 || { tail -n 40 "$log"; echo "the guest run failed; its console: $log"; exit 1; }
echo "host load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
grep '^@@METRIC' "$log" | sed 's/^@@METRIC //; s/ all_us=.*//'
tail -n 1 "$log"

value() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2" | head -n 1; }
guest_cal=$(grep '^@@METRIC calibrate' "$log" | head -n 1)
for key in sha256_16mib_ms dd_100k_syscalls_ms; do
  host=$(value "$key" "$host_cal")
  guest=$(value "$key" "$guest_cal")
  [[ -n $host && -n $guest && $host -gt 0 ]] &&
    echo "guest/host $key: $guest/$host = $(awk -v g="$guest" -v h="$host" 'BEGIN { printf "%.1f", g / h }')x"
done
echo "duration: $(($(date +%s) - start)) s; console: $log"
