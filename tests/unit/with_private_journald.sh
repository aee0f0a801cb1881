#!/usr/bin/env bash
# Runs a command with a journald of its own, in a private mount namespace (tmpfs over /run/systemd
# and /run/log), so the machine's logging is untouched, then writes what the journal holds as JSON
# lines (journalctl -o json) to OUT.
#   unshare --mount --propagation private bash with_private_journald.sh OUT COMMAND...
set -euo pipefail
out=${1:?usage: with_private_journald.sh OUT COMMAND...}
shift
mkdir -p /run/systemd /run/log
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
/lib/systemd/systemd-journald &
journald=$!
trap 'kill $journald 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [[ -S /run/systemd/journal/socket ]] && break
  sleep 0.05
done
"$@" || true
journalctl --directory=/run/log/journal --no-pager -o json >"$out"
