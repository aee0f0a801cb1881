#!/usr/bin/env bash
# A private PostgreSQL 15 for the tests labelled `postgres`.
#   start DIR  initdb's a fresh cluster in DIR/server and serves it on a Unix socket only (no TCP
#              listener), under a port number free on this machine; writes the socket directory to
#              DIR/host and the port to DIR/port. Does nothing if that server is already running.
#   stop DIR   stops it and removes DIR. Does nothing if there is nothing to stop.
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user; if that user
# cannot reach DIR (a build tree under /root), the cluster lives in a private directory under /tmp
# instead, recorded in DIR/server_root.
set -euo pipefail

usage="usage: pg-test-server.sh start|stop DIR"
action=${1:?$usage}
dir=${2:?$usage}
bin=/usr/lib/postgresql/15/bin
if [[ ! -x $bin/pg_ctl ]]; then
  echo "pg-test-server: $bin/pg_ctl missing (tests/install-deps.sh installs postgresql-15)" >&2
  exit 1
fi

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

server_root() { cat "$dir/server_root" 2>/dev/null || true; }

running() {
  local root
  root=$(server_root)
  [[ -n $root && -f $root/data/postmaster.pid && -f $dir/port ]] &&
    as_owner "$bin/pg_ctl" status -D "$root/data" >/dev/null 2>&1
}

stop_server() {
  local root
  root=$(server_root)
  if [[ -n $root && -f $root/data/postmaster.pid ]]; then
    as_owner "$bin/pg_ctl" stop -D "$root/data" -m fast -w >/dev/null 2>&1 ||
      as_owner "$bin/pg_ctl" stop -D "$root/data" -m immediate >/dev/null 2>&1 || true
  fi
  if [[ -n $root ]]; then rm -rf "$root"; fi
  rm -rf "$dir"
}

case $action in
  start)
    if running; then
      echo "pg-test-server: already running, socket $(cat "$dir/host") port $(cat "$dir/port")"
      exit 0
    fi
    stop_server
    mkdir -p "$dir"
    root=$dir/server
    mkdir -p "$root"
    if [[ $(id -u) -eq 0 ]]; then
      chown postgres: "$root"
      if ! runuser -u postgres -- test -w "$root"; then
        rm -rf "$root"
        root=$(mktemp -d /tmp/mamori-pg.XXXXXX)
        chown postgres: "$root"
      fi
    fi
    echo "$root" >"$dir/server_root"
    as_owner mkdir -m 700 "$root/socket"
    as_owner "$bin/initdb" -D "$root/data" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # Trust is safe here: the socket directory is the server user's, mode 0700.
    if ! as_owner "$bin/pg_ctl" start -D "$root/data" -w -t 60 -l "$root/server.log" \
      -o "-k $root/socket -p $port -c listen_addresses='' -c max_connections=300" >/dev/null; then
      cat "$root/server.log" >&2
      exit 1
    fi
    echo "$root/socket" >"$dir/host"
    echo "$port" >"$dir/port"
    echo "pg-test-server: PostgreSQL 15, socket $root/socket port $port"
    ;;
  stop)
    stop_server
    echo "pg-test-server: stopped"
    ;;
  *)
    echo "pg-test-server: unknown action '$action'; $usage" >&2
    exit 2
    ;;
esac
