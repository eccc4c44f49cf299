#!/usr/bin/env bash
# Stop or start again the throwaway server of with-cluster.sh (which sets
# the variables below), for tests of a server that goes away:
#
#   tests/postgresql/ctl.sh stop|start
set -euo pipefail
: "${ROLLMAP_TEST_POSTGRESQL_DIR:?run under tests/postgresql/with-cluster.sh}"
dir=$ROLLMAP_TEST_POSTGRESQL_DIR
bin=$ROLLMAP_TEST_POSTGRESQL_BIN
as_owner=()
[ "$(id -u)" = 0 ] && as_owner=(runuser -u nobody --)
# A throwaway cluster need not survive a crash of the machine: no
# flushes to disk, no waiting for them at commit, no full pages in the WAL.
fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
case "${1:-}" in
  # Only the socket: no TCP port to collide with another test's server.
  # (pg_ctl hands the options to a shell: one line.)
  start) exec "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
           -o "-k $dir -c listen_addresses= -c max_connections=100 $fast" start ;;
  stop) exec "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
