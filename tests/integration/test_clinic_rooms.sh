#!/usr/bin/env bash
# Eight rooms and four therapists on one PostgreSQL library (a throwaway
# cluster from tests/postgresql/with-cluster.sh): eight rollmapd (separate
# processes, session folders and caches) record sessions of four clients
# from virtual rollers at 4 kHz and add them to the library, while four
# `rollmap` processes list the library and compare clients in a loop.
# Afterwards every session is in the library exactly once, under the file
# that holds it, with the duration of every sample the file holds, its
# file's bytes stored whole, no client command failed, and `library check
# --hash` over the eight folders is clean.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"
: "${ROLLMAPD:?ROLLMAPD must name the rollmapd program}"

ROOMS=8
THERAPISTS=4
SESSIONS_PER_ROOM=2
. "$ROLLMAP_SOURCE/tests/postgresql/clinic-test.sh"
fail() {
    echo "FAIL: $*" >&2
    for r in "$work"/room*.log "$work"/therapist*.err; do
        [ -s "$r" ] && { echo "--- $r" >&2; tail -n 5 "$r" >&2; }
    done
    exit 1
}
client_of() { echo "C-10$(( $1 % 4 + 1 ))"; }

echo "-- $ROOMS rooms start on one library"
for n in $(seq "$ROOMS"); do
    XDG_CACHE_HOME=$work/cache$n XDG_DATA_HOME=$work/data$n \
    "$ROLLMAPD" --foreground --source "sim:seed=6$n,rate=4000,duration=3600" \
        --socket "$work/room$n.sock" --library "$work/room$n" \
        --set "session.database=$clinic" --set session.auto=false \
        2>"$work/room$n.log" &
    pids+=($!)
    eval "room${n}_pid=$!"
done
for n in $(seq "$ROOMS"); do
    for _ in $(seq 150); do [ -S "$work/room$n.sock" ] && break; sleep 0.1; done
    [ -S "$work/room$n.sock" ] || fail "rollmapd of room $n did not start"
done

# therapist N: list and compare until told to stop; any failure is kept
therapist() {
    local n=$1 round=0
    while [ ! -e "$work/stop" ]; do
        round=$((round + 1))
        "$ROLLMAP" library list --db "$clinic" --json >"$work/t$n.json" \
            2>>"$work/therapist$n.err" || { echo "list failed" >>"$work/therapist$n.failed"; continue; }
        local c; c=$(client_of $((n + round)))
        local have
        have=$(python3 -c 'import json,sys; print(sum(r["client"] == sys.argv[2] for r in json.load(open(sys.argv[1]))))' \
               "$work/t$n.json" "$c")
        [ "$have" -ge 2 ] || continue
        "$ROLLMAP" compare --client "$c" --db "$clinic" -o "$work/cmp$n" >/dev/null \
            2>>"$work/therapist$n.err" || echo "compare $c failed" >>"$work/therapist$n.failed"
        echo "$round" >"$work/therapist$n.rounds"
    done
}
therapists=()
for n in $(seq "$THERAPISTS"); do
    therapist "$n" &
    therapists+=($!)
    pids+=($!)
done

echo "-- each room records $SESSIONS_PER_ROOM sessions while $THERAPISTS therapists list and compare"
room_sessions() { # room_sessions N
    local side
    for s in $(seq "$SESSIONS_PER_ROOM"); do
        side=$([ $((s % 2)) = 1 ] && echo left || echo right)
        "$ROLLMAP" record start --socket "$work/room$1.sock" --client "$(client_of "$1")" \
            --side "$side" >/dev/null || return 1
        sleep 2
        "$ROLLMAP" record stop --socket "$work/room$1.sock" >/dev/null || return 1
    done
}
recorders=()
for n in $(seq "$ROOMS"); do
    room_sessions "$n" &
    recorders+=($!)
done
for p in "${recorders[@]}"; do wait "$p" || fail "a room could not record"; done

expected=$((ROOMS * SESSIONS_PER_ROOM))
count_listed() {
    "$ROLLMAP" library list --db "$clinic" --json \
        | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
for _ in $(seq 300); do
    [ "$(count_listed 2>/dev/null || echo 0)" -ge "$expected" ] && break
    sleep 0.1
done
# Each room uploads a session's bytes once it has closed it.
for _ in $(seq 300); do
    [ "$(sql "SELECT count(*) FROM session_data WHERE complete = 1")" -ge "$expected" ] && break
    sleep 0.2
done
touch "$work/stop"
for n in $(seq "$ROOMS"); do eval "kill -TERM \$room${n}_pid"; done
for n in $(seq "$ROOMS"); do eval "wait \$room${n}_pid" || fail "rollmapd of room $n exit status"; done
for p in "${therapists[@]}"; do wait "$p"; done

echo "-- every session once, with every sample, and no client failed"
! cat "$work"/therapist*.failed 2>/dev/null | grep . \
    || fail "client commands failed while the rooms recorded"
for n in $(seq "$THERAPISTS"); do
    [ -s "$work/therapist$n.rounds" ] || fail "therapist $n never compared"
done
"$ROLLMAP" library list --db "$clinic" --json >"$work/list.json"
for f in "$work"/room*/*.rms; do
    "$ROLLMAP" info --json "$f" >"$f.info.json" || fail "info $f"
done
python3 - "$work" "$expected" <<'EOF' || fail "the library does not hold every session once"
import glob, json, os, sys
work, expected = sys.argv[1], int(sys.argv[2])
rows = json.load(open(work + "/list.json"))
files = sorted(glob.glob(work + "/room*/*.rms"))
assert len(files) == expected, (len(files), files)
assert len(rows) == expected, len(rows)
assert len({r["session_id"] for r in rows}) == expected
by_path = {r["path"]: r for r in rows}
assert sorted(by_path) == sorted(os.path.realpath(f) for f in files)
for f in files:
    info = json.load(open(f + ".info.json"))
    row = by_path[os.path.realpath(f)]
    assert info["samples"] > 4000, (f, info["samples"])
    assert info["samples_lost_in_gaps"] == 0, f
    assert info["session"]["session_id"] == row["session_id"], f
    # the analysis saw the samples the file holds: one sample period at most
    assert abs(info["duration_s"] - row["duration_s"]) <= 1 / 4000 + 1e-6, \
        (f, info["duration_s"], row["duration_s"])
EOF
stored_whole "$work"/room*/*.rms || fail "a room's session is not stored whole, byte for byte"
[ "$(sql "SELECT count(*) FROM session_data")" -eq "$expected" ] \
    || fail "not $expected sessions' bytes: $(sql "SELECT count(*) FROM session_data")"
folders=()
for n in $(seq "$ROOMS"); do folders+=(--folder "$work/room$n"); done
"$ROLLMAP" library check --db "$clinic" --hash "${folders[@]}" >"$work/check.txt" \
    || fail "library check is not clean: $(cat "$work/check.txt")"
echo "ok ($expected sessions; client rounds: $(cat "$work"/therapist*.rounds | paste -sd' '))"
