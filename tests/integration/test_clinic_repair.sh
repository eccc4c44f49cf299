#!/usr/bin/env bash
# A session's bytes damaged on the clinic's server (a throwaway cluster
# from tests/postgresql/with-cluster.sh) are repaired by `rollmap library
# check --hash`, run as a therapist, from a good copy on the machine it
# runs on: the room's own file (a chunk's bytes changed, then the whole
# content's checksum), or a therapist's cached copy of a session recorded
# elsewhere. A machine without a good copy says so and what to do, and a
# file changed since it was indexed is never uploaded over the server's
# copy. Each machine is a HOME of its own with the other rooms' folders
# out of reach. And a session recorded in another room is not missing on
# a machine without its file when the server holds its bytes.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"

. "$ROLLMAP_SOURCE/tests/postgresql/clinic-test.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$ROLLMAP" library migrate --db "$clinic" >/dev/null
psql "$clinic" -q -v ON_ERROR_STOP=1 -f "$ROLLMAP_SOURCE/dist/clinic-roles.sql" >/dev/null
psql "$clinic" -qc "CREATE ROLE dr_lee LOGIN IN ROLE rollmap_therapist" >/dev/null
therapist="$clinic user=dr_lee"

session() { # session ROOM NAME SEED: 200 s of C-017 (2 chunks), added
    mkdir -p "$work/$1"
    "$ROLLMAP" simulate --seed "$3" --duration 200 --out "$work/$2.cap" 2>/dev/null
    "$ROLLMAP" record --source "file:$work/$2.cap?fast" -o "$work/$1/$2.rms" \
        --client C-017 --side left >/dev/null 2>&1 || fail "record $2 failed"
    "$ROLLMAP" library add --db "$clinic" "$work/$1/$2.rms" >/dev/null
    "$ROLLMAP" info --json "$work/$1/$2.rms" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"]["session_id"])'
}
damage() { # damage SID IDX: one byte of a stored chunk changed
    sql "UPDATE session_chunks SET bytes = set_byte(bytes, 100, get_byte(bytes, 100) # 255)
         WHERE session_id = '$1' AND idx = $2" >/dev/null
}
machine() { # machine NAME ARG...: rollmap on a machine of its own
    HOME=$work/$1 XDG_CACHE_HOME= "$ROLLMAP" "${@:2}"
}
check() { # check MACHINE OUT: library check --hash there, which must exit 1
    if machine "$1" library check --db "$therapist" --hash --folder "$work/$1" >"$2"; then
        fail "check --hash on $1 found nothing: $(cat "$2")"
    fi
}

a=$(session room1 a 21)
b=$(session room2 b 22)
mv "$work/room2" "$work/room2.away"

echo "-- a therapist's laptop caches room 2's session; then both are damaged"
machine laptop report "$b" --db "$therapist" >/dev/null 2>"$work/report.err" \
    || fail "report on the laptop: $(cat "$work/report.err")"
damage "$a" 1
damage "$b" 0

echo "-- room 1 repairs its session, and cannot repair room 2's"
check room1 "$work/check1.txt"
grep -qx "[0-9]*	repaired-in-database	$work/room1/a.rms	session $a chunk 1 (bytes 1048576-[0-9]*) fails its checksum; repaired: 1 of 2 chunks written again from $work/room1/a.rms" \
    "$work/check1.txt" || fail "room 1 did not repair a: $(cat "$work/check1.txt")"
grep -qx "[0-9]*	damaged-in-database	$work/room2/b.rms	session $b chunk 0 (bytes 0-[0-9]*) fails its checksum; not repaired: this machine has no good copy ($work/room2/b.rms: not on this machine; no cached copy); run 'rollmap library check --hash' on the machine that recorded it, or restore the session from the server's backups" \
    "$work/check1.txt" || fail "room 1 does not say why b is not repaired: $(cat "$work/check1.txt")"
grep -q "2 damaged in the database: 1 repaired;" "$work/check1.txt" \
    || fail "summary: $(cat "$work/check1.txt")"
stored_whole "$work/room1/a.rms" || fail "a's stored bytes are not its file's"

echo "-- the laptop repairs room 2's session from its cached copy"
check laptop "$work/check2.txt"
grep -qx "[0-9]*	repaired-in-database	$work/room2/b.rms	session $b chunk 0 (bytes 0-[0-9]*) fails its checksum; repaired: 1 of 2 chunks written again from $work/laptop/.cache/rollmap/sessions/$b.rms" \
    "$work/check2.txt" || fail "the laptop did not repair b: $(cat "$work/check2.txt")"
mv "$work/room2.away" "$work/room2"
stored_whole "$work/room2/b.rms" || fail "b's stored bytes are not its file's"
mv "$work/room2" "$work/room2.away"

echo "-- a file changed since it was indexed is not uploaded over the server's copy"
damage "$a" 0
size=$(stat -c %s "$work/room1/a.rms")
printf 'appended' >>"$work/room1/a.rms"
check room1 "$work/check3.txt"
grep -q "	damaged-in-database	$work/room1/a.rms	session $a chunk 0 .*; not repaired: this machine has no good copy ($work/room1/a.rms: size $size -> $((size + 8)) bytes; no cached copy)" \
    "$work/check3.txt" || fail "a changed file was used or not named: $(cat "$work/check3.txt")"
truncate -s "$size" "$work/room1/a.rms"

echo "-- the whole content's checksum, then a clean check"
sql "UPDATE session_data SET content_crc32c = content_crc32c # 1 WHERE session_id = '$a'" >/dev/null
check room1 "$work/check4.txt"
grep -q "	repaired-in-database	$work/room1/a.rms	session $a chunk 0 .*; repaired: 1 of 2 chunks written again" \
    "$work/check4.txt" || fail "chunk 0 not repaired: $(cat "$work/check4.txt")"
stored_whole "$work/room1/a.rms" || fail "a's stored bytes are not its file's after the repair"
[ "$(sql "SELECT content_crc32c FROM session_data WHERE session_id = '$a'")" \
    = "$(sql "SELECT file_crc32c FROM sessions WHERE session_id = '$a'")" ] \
    || fail "the stored checksum was not written again"
sql "UPDATE session_data SET content_crc32c = content_crc32c # 1 WHERE session_id = '$a'" >/dev/null
check room1 "$work/check5.txt"
grep -q "	repaired-in-database	$work/room1/a.rms	session $a: its [0-9]* bytes fail the whole content's CRC-32C .*; repaired: 0 of 2 chunks written again from $work/room1/a.rms" \
    "$work/check5.txt" || fail "the whole checksum not repaired: $(cat "$work/check5.txt")"
"$ROLLMAP" library check --db "$therapist" --hash --folder "$work/room1" --folder "$work/room2" \
    >"$work/check6.txt" || fail "not clean after the repairs: $(cat "$work/check6.txt")"

echo "-- room 2's session is not missing on room 1's machine: the server holds it"
machine room1 library check --db "$therapist" --folder "$work/room1" >"$work/check7.txt" \
    || fail "check on room 1 is not clean: $(cat "$work/check7.txt")"
[ "$(cat "$work/check7.txt")" = "2 sessions checked: 0 missing, 0 changed, 1 on other machines (their bytes in the database); 0 files not in the library: 0 added" ] \
    || fail "check on room 1: $(cat "$work/check7.txt")"
machine room1 library check --db "$therapist" --folder "$work/room1" --json \
    | python3 -c 'import json,sys; print(sorted(i["state"] for i in json.load(sys.stdin)))' \
    >"$work/states.txt"
[ "$(cat "$work/states.txt")" = "['elsewhere', 'ok']" ] || fail "JSON states: $(cat "$work/states.txt")"
sql "DELETE FROM session_chunks WHERE session_id = '$b' AND idx = 1;
     UPDATE session_data SET content_length = 1048576, complete = 0 WHERE session_id = '$b'" >/dev/null
if machine room1 library check --db "$therapist" --folder "$work/room1" >"$work/check8.txt"; then
    fail "a file the server holds only part of passed: $(cat "$work/check8.txt")"
fi
grep -qx "[0-9]*	missing	$work/room2/b.rms	file is missing, and the database holds only 1048576 of its [0-9]* bytes ('rollmap library sync' where it was recorded sends the rest)" \
    "$work/check8.txt" || fail "check on room 1: $(cat "$work/check8.txt")"
sql "DELETE FROM session_data WHERE session_id = '$b'" >/dev/null
if machine room1 library check --db "$therapist" --folder "$work/room1" >"$work/check9.txt"; then
    fail "a file the server lacks passed: $(cat "$work/check9.txt")"
fi
grep -qx "[0-9]*	missing	$work/room2/b.rms	file is missing, and the database holds none of its bytes" \
    "$work/check9.txt" || fail "check on room 1: $(cat "$work/check9.txt")"
echo "ok"
