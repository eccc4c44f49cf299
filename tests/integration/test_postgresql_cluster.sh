#!/usr/bin/env bash
# tests/postgresql/with-cluster.sh killed with -9 (its trap cannot run):
# its PostgreSQL server stops and its folder goes all the same, first
# with the script alone killed, then with its whole process group.
set -euo pipefail
: "${ROLLMAP_SOURCE:?ROLLMAP_SOURCE must name the source folder}"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "SKIP: no PostgreSQL server (Debian package postgresql) installed" >&2
    exit 77
fi

work=$(mktemp -d)
commands=()
trap 'for p in "${commands[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# killed_cluster_goes WHAT: start with-cluster.sh in a process group of its
# own, kill WHAT (script: it alone; group: its process group) with -9
# once its server answers, then wait for the server and its folder to go.
killed_cluster_goes() {
    rm -f "$work/dir"
    setsid "$ROLLMAP_SOURCE/tests/postgresql/with-cluster.sh" bash -c \
        'echo "$ROLLMAP_TEST_POSTGRESQL_DIR" >"$1.tmp" && mv "$1.tmp" "$1"; exec sleep 600' \
        command "$work/dir" &
    local script=$!
    for _ in $(seq 600); do [ -s "$work/dir" ] && break; sleep 0.1; done
    [ -s "$work/dir" ] || fail "with-cluster.sh did not start its server"
    local dir server command=
    dir=$(cat "$work/dir")
    server=$(head -n 1 "$dir/data/postmaster.pid")
    for _ in $(seq 100); do command=$(pgrep -P "$script" -x sleep) && break; sleep 0.1; done
    [ -n "$command" ] || fail "no command under with-cluster.sh"
    commands+=("$command")
    kill -0 "$server" || fail "no server running"
    if [ "$1" = group ]; then kill -9 -- "-$script"; else kill -9 "$script"; fi
    wait "$script" 2>/dev/null || true
    for _ in $(seq 300); do
        kill -0 "$server" 2>/dev/null || [ -e "$dir" ] || return 0
        sleep 0.1
    done
    kill -0 "$server" 2>/dev/null && fail "the server ($server) still runs after with-cluster.sh was killed ($1)"
    fail "$dir is still there after with-cluster.sh was killed ($1)"
}

echo "-- with-cluster.sh alone killed with -9"
killed_cluster_goes script
echo "-- its process group killed with -9"
killed_cluster_goes group
echo "ok"
