#!/usr/bin/env bash
# Two rooms' rollmapd (separate processes and session folders) add what
# they record to one PostgreSQL library; the server is stopped for a
# minute while both go on recording: nothing is lost, `rollmap status`
# and the log say sessions are waiting and why, and once the server is
# back every session is in the library exactly once and `library check`
# is clean. Then rollmapd starts while the server is down and adds its
# session once the server answers. A throwaway cluster from
# tests/postgresql/with-cluster.sh.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"
: "${ROLLMAPD:?ROLLMAPD must name the rollmapd program}"
if [ -z "${ROLLMAP_TEST_POSTGRESQL:-}" ]; then
    exec "${ROLLMAP_SOURCE:?}/tests/postgresql/with-cluster.sh" bash "$0" "$@"
fi
ctl=$ROLLMAP_SOURCE/tests/postgresql/ctl.sh

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
fail() {
    echo "FAIL: $*" >&2
    for r in "$work"/room*.log; do echo "--- $r" >&2; tail -n 8 "$r" >&2; done
    exit 1
}
export XDG_DATA_HOME=$work/xdg
clinic="$ROLLMAP_TEST_POSTGRESQL dbname=clinic"
psql "$ROLLMAP_TEST_POSTGRESQL" -qc "CREATE DATABASE clinic" >/dev/null
# An outage as long as the issue's: a minute (RM_LIBRARY_INDEXER_MAX_BACKOFF_MS
# caps the pause between tries at 60 s, so the queue drains within 75 s).
OUTAGE_S=${OUTAGE_S:-60}

start_room() { # start_room N: rollmapd of room N on the virtual roller
    "$ROLLMAPD" --foreground --source "sim:seed=4$1,duration=600" \
        --socket "$work/room$1.sock" --library "$work/room$1" \
        --set "session.database=$clinic" --set session.auto=false \
        2>>"$work/room$1.log" &
    pids+=($!)
    eval "room$1_pid=$!"
    for _ in $(seq 100); do [ -S "$work/room$1.sock" ] && return 0; sleep 0.1; done
    fail "rollmapd of room $1 did not start"
}
record() { # record ROOM SIDE: one short session of C-017
    "$ROLLMAP" record start --socket "$work/room$1.sock" --client C-017 \
        --side "$2" >/dev/null || fail "record start in room $1"
    sleep 1
    "$ROLLMAP" record stop --socket "$work/room$1.sock" >/dev/null \
        || fail "record stop in room $1"
}
listed() { "$ROLLMAP" library list --db "$clinic" --client C-017 --json; }
count_listed() { listed | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
wait_listed() { # wait_listed N SECONDS
    for _ in $(seq $(($2 * 2))); do
        [ "$(count_listed 2>/dev/null || echo 0)" -ge "$1" ] && return 0
        sleep 0.5
    done
    fail "the library lists $(count_listed) sessions, not $1, after $2 s"
}

echo "-- two rooms record into one library"
start_room 1
start_room 2
record 1 left
record 2 right
wait_listed 2 20

echo "-- the server stops for ${OUTAGE_S} s while both rooms record"
"$ctl" stop >/dev/null
record 1 left
record 2 right
record 1 right
grep -q "not added yet (try 1)" "$work/room1.log" || sleep 2
grep -q "not added yet (try 1)" "$work/room1.log" \
    || fail "room 1's log does not say the session waits"
"$ROLLMAP" status --socket "$work/room1.sock" >"$work/status.txt"
grep -Eq "^index: .*: [12] sessions? waiting to be added: .*(connect|server)" "$work/status.txt" \
    || fail "status does not show the queue: $(cat "$work/status.txt")"
[ "$(ls "$work"/room1/*.rms "$work"/room2/*.rms | wc -l)" -eq 5 ] \
    || fail "the rooms did not record every session locally"
sleep "$OUTAGE_S"
"$ctl" start >/dev/null

echo "-- once it is back, the queues drain: every session once"
wait_listed 5 75
sleep 1
listed >"$work/list.json"
python3 - "$work/list.json" "$work" <<'EOF' || fail "listing after the outage: $(cat "$work/list.json")"
import glob, json, os, sys
rows = json.load(open(sys.argv[1]))
files = sorted(glob.glob(sys.argv[2] + "/room[12]/*.rms"))
assert len(rows) == len(files) == 5, (len(rows), files)
assert sorted(r["path"] for r in rows) == sorted(os.path.realpath(f) for f in files)
assert len({r["session_id"] for r in rows}) == 5
EOF
"$ROLLMAP" status --socket "$work/room1.sock" | grep -q "^index: .*clinic$" \
    || fail "status still shows a queue"
grep -q "(the database was locked or its server unreachable before)" "$work/room1.log" \
    || fail "room 1's log does not say the session went in after waiting"
"$ROLLMAP" library check --db "$clinic" --folder "$work/room1" --folder "$work/room2" \
    >"$work/check.txt" || fail "library check is not clean: $(cat "$work/check.txt")"

echo "-- rollmapd started while the server is down adds its session later"
kill -TERM "$room2_pid"
wait "$room2_pid" || fail "room 2's rollmapd exit status"
"$ctl" stop >/dev/null
rm -f "$work/room2.sock"
start_room 2
record 2 left
sleep 2
"$ctl" start >/dev/null
wait_listed 6 40
kill -TERM "$room1_pid" "$room2_pid"
wait "$room1_pid" || fail "room 1's rollmapd exit status"
wait "$room2_pid" || fail "room 2's rollmapd exit status"
echo "ok"
