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
case "${1:-}" in
  # Only the socket: no TCP port to collide with another test's server.
  start) exec "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
           -o "-k $dir -c listen_addresses= -c fsync=off -c max_connections=100" start ;;
  stop) exec "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
