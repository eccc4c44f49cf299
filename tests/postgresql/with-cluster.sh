#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server:
#
#   tests/postgresql/with-cluster.sh COMMAND [ARG...]
#
# initdb + pg_ctl (Debian's /usr/lib/postgresql/*/bin) make a cluster in a
# temporary folder that listens only on a Unix socket in that folder; the
# command runs with ROLLMAP_TEST_POSTGRESQL set to a libpq connection
# string for it ("host=DIR dbname=postgres user=rollmap_test"), and the
# server is stopped and the folder removed afterwards, also when the
# command fails or the script is interrupted, and by a watchdog when the
# script is killed (-9) before it can do so. The server refuses to run as
# root, so under root (CI) it runs as the unprivileged user `nobody`, with
# the folder owned by it. tests/postgresql/ctl.sh stops and starts the
# same server again (tests of a server that goes away). Exits with the
# command's status, or 77 (skip)
# when no PostgreSQL server is installed.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "SKIP: no PostgreSQL server (Debian package postgresql) installed" >&2
  exit 77
fi

dir=$(mktemp -d /tmp/rollmap-pg.XXXXXX)
chmod 0755 "$dir"
as_owner=()
if [ "$(id -u)" = 0 ]; then
  chown nobody "$dir"
  as_owner=(runuser -u nobody --)
fi

# As bash -c SCRIPT NAME PG_CTL DIR [RUNUSER...]: stop the server at
# once, remove its folder.
stop_cluster='"${@:3}" "$1" -D "$2/data" -m immediate stop >/dev/null 2>&1; rm -rf "$2"'
# A watchdog in a session of its own stops the server and removes the
# folder once this script is gone, also when it was killed (-9, alone
# or with its process group) and its trap never ran.
setsid bash -c "tail --pid=$$ -f /dev/null; $stop_cluster" watchdog \
  "$bin/pg_ctl" "$dir" "${as_owner[@]}" </dev/null >/dev/null 2>&1 &
watchdog=$!
stop() {
  kill "$watchdog" 2>/dev/null || true
  bash -c "$stop_cluster" stop "$bin/pg_ctl" "$dir" "${as_owner[@]}"
}
trap stop EXIT
trap 'exit 130' INT TERM

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U rollmap_test -A trust \
  --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
export ROLLMAP_TEST_POSTGRESQL_DIR=$dir ROLLMAP_TEST_POSTGRESQL_BIN=$bin
"$(dirname "$0")/ctl.sh" start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

export ROLLMAP_TEST_POSTGRESQL="host=$dir dbname=postgres user=rollmap_test"
set +e
"$@"
status=$?
set -e
exit "$status"
