#!/usr/bin/env bash
# One clinic library on a real PostgreSQL server (a throwaway cluster from
# tests/postgresql/with-cluster.sh): two rooms (separate folders) add their
# sessions of client C-017, one through ROLLMAP_LIBRARY_DB and one through
# --library-db; a third place lists and compares them all; migrate reports
# the schema; rollmap serve shows the client from the same server; a
# password in the connection string is refused without being echoed; a
# server that is not there is a clear error; the roles of
# dist/clinic-roles.sql: a recorder adds and uploads sessions but cannot
# read client metadata, a therapist reads and edits; a third machine (its
# own HOME and cache, the rooms' files out of reach) reports a session
# from the bytes the server holds, and a byte changed in a stored chunk is
# named on read while the rest is still reported (a cache holding the
# good copy is read without a word, `library check --hash` names the
# chunk and writes it again from the file); and a machine without
# any of this still uses its SQLite file.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"

. "$ROLLMAP_SOURCE/tests/postgresql/clinic-test.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

# A server that takes connections and never answers (a host behind a
# firewall that drops packets looks the same to libpq): the default
# connect timeout runs in the background while the rest goes on.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$work/silent.port" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/silent.port" ] && break; sleep 0.1; done
silent_port=$(cat "$work/silent.port")
timed_list() { # timed_list OUT CONNINFO: seconds taken into OUT.time
    local start=$SECONDS
    if "$ROLLMAP" library list --db "$2" >/dev/null 2>"$1"; then echo listed >>"$1"; fi
    echo $((SECONDS - start)) >"$1.time"
}
timed_list "$work/silent-default.txt" "host=127.0.0.1 port=$silent_port dbname=x" &
pids+=($!)
silent_default_pid=$!

session() { # session ROOM NAME SEED SIDE
    mkdir -p "$work/$1"
    "$ROLLMAP" simulate --seed "$3" --duration 90 --set "side=$4" \
        --out "$work/$1/$2.cap" 2>/dev/null
    "$ROLLMAP" record --source "file:$work/$1/$2.cap?fast" -o "$work/$1/$2.rms" \
        --client C-017 --side "$4" >/dev/null 2>&1 || fail "record $2 failed"
}
session room1 a 21 left
session room1 b 22 right
session room2 c 23 left
session room2 d 24 right

echo "-- two rooms add into one library"
ROLLMAP_LIBRARY_DB=$clinic "$ROLLMAP" library add "$work"/room1/*.rms >"$work/add1.txt"
"$ROLLMAP" library add --library-db "$clinic" "$work"/room2/*.rms >"$work/add2.txt"
[ "$(cat "$work"/add*.txt | grep -c $'\tadded\t')" -eq 4 ] || fail "add: $(cat "$work"/add*.txt)"
"$ROLLMAP" library add --db "$clinic" "$work"/room1/a.rms | grep -q $'\tunchanged\t' \
    || fail "a second add is not unchanged"
[ ! -e "$XDG_DATA_HOME/rollmap/library.db" ] || fail "a SQLite file was made"

echo "-- a third place lists and compares them all"
"$ROLLMAP" library list --db "$clinic" --client C-017 --json >"$work/list.json"
python3 - "$work/list.json" <<'EOF' || fail "list: $(cat "$work/list.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 4, rows
assert sorted(r["side"] for r in rows) == ["left", "left", "right", "right"]
assert all(r["duration_s"] > 80 and r["spots"] >= 0 for r in rows)
EOF
"$ROLLMAP" compare --client C-017 --db "$clinic" -o "$work/cmp" >/dev/null \
    || fail "compare --client on PostgreSQL failed"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d['sessions'])==4, d['sessions']" \
    "$work/cmp/compare.json" || fail "compare did not see the 4 sessions"

echo "-- a third machine reads a session's bytes from the server"
# 400 s: three chunks of 1 MiB (2.5 MB), so that one in the middle can
# be damaged
mkdir -p "$work/room4"
"$ROLLMAP" simulate --seed 31 --duration 400 --out "$work/room4/f.cap" 2>/dev/null
"$ROLLMAP" record --source "file:$work/room4/f.cap?fast" -o "$work/room4/f.rms" \
    --client C-020 --side left >/dev/null 2>&1 || fail "record f failed"
"$ROLLMAP" library add --db "$clinic" "$work/room4/f.rms" >/dev/null
[ "$(stat -c %s "$work/room4/f.rms")" -gt 2097152 ] || fail "f.rms is not three chunks long"
sid=$("$ROLLMAP" info --json "$work/room4/f.rms" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"]["session_id"])')
mv "$work/room4" "$work/room4.away"
third() { HOME=$work/$1 XDG_CACHE_HOME= "$ROLLMAP" "${@:2}"; }
third third report "$sid" --db "$clinic" >"$work/third.txt" 2>"$work/third.err" \
    || fail "report from the server's bytes: $(cat "$work/third.err")"
[ ! -s "$work/third.err" ] || fail "report warned: $(cat "$work/third.err")"
cached=$work/third/.cache/rollmap/sessions/$sid.rms
[ "$(stat -c %a "$cached")" = 600 ] || fail "cache file mode"
[ "$(stat -c %a "$(dirname "$cached")")" = 700 ] || fail "cache folder mode"
cmp -s "$cached" "$work/room4.away/f.rms" || fail "the cached file differs from the recorded one"
[ "$(cat "$work/third.txt")" = "$("$ROLLMAP" report "$work/room4.away/f.rms")" ] \
    || fail "the report from the server differs from the file's"

echo "-- a byte changed in a stored chunk is named, the rest is read"
psql "$clinic" -qc "UPDATE session_chunks SET bytes = set_byte(bytes, 100, get_byte(bytes, 100) # 255)
                    WHERE session_id = '$sid' AND idx = 1" >/dev/null
third fourth report "$sid" --db "$clinic" >"$work/damaged.txt" 2>"$work/damaged.err" \
    || fail "report of a session with a damaged chunk failed: $(cat "$work/damaged.err")"
grep -q "warning: 1 damaged chunk .*session $sid chunk 1 (bytes 1048576-2097151) fails its checksum" \
    "$work/damaged.err" || fail "the damaged chunk is not named: $(cat "$work/damaged.err")"
grep -Eq "^Damaged file blocks +[1-9]" "$work/damaged.txt" || fail "the report does not count the lost blocks: $(cat "$work/damaged.txt")"
mv "$work/room4.away" "$work/room4"

echo "-- a cached copy is still read whole; check --hash names the damaged chunk"
third third report "$sid" --db "$clinic" >/dev/null 2>"$work/cached.err" \
    || fail "report from the cache: $(cat "$work/cached.err")"
[ ! -s "$work/cached.err" ] || fail "the intact cached copy warned: $(cat "$work/cached.err")"
"$ROLLMAP" library check --db "$clinic" >"$work/check-quick.txt" \
    || fail "check without --hash: $(cat "$work/check-quick.txt")"
if "$ROLLMAP" library check --db "$clinic" --hash >"$work/check-hash.txt"; then
    fail "check --hash passed a damaged chunk: $(cat "$work/check-hash.txt")"
fi
grep -q "^[0-9]*	repaired-in-database	$work/room4/f.rms	session $sid chunk 1 (bytes 1048576-2097151) fails its checksum; repaired: 1 of 3 chunks written again from $work/room4/f.rms$" \
    "$work/check-hash.txt" || fail "check --hash does not name the chunk: $(cat "$work/check-hash.txt")"
[ "$(grep -vc "sessions checked" "$work/check-hash.txt")" = 1 ] \
    || fail "check --hash found more: $(cat "$work/check-hash.txt")"
grep -q "checked with content: 0 missing, 0 changed, 0 on other machines (their bytes in the database), 1 damaged in the database: 1 repaired;" \
    "$work/check-hash.txt" || fail "check --hash summary: $(cat "$work/check-hash.txt")"

echo "-- migrate names the server and the schema, without a password"
"$ROLLMAP" library migrate --db "$clinic" >"$work/migrate.txt"
grep -q "^postgresql://.*/clinic: postgresql library, schema version [0-9]* (current)$" \
    "$work/migrate.txt" || fail "migrate: $(cat "$work/migrate.txt")"

echo "-- a password in the connection string is refused and not echoed"
if "$ROLLMAP" library list --db "$clinic password=s3cret-pw" >/dev/null 2>"$work/pw.txt"; then
    fail "a password on the command line was accepted"
fi
grep -q "pgpass" "$work/pw.txt" || fail "no hint at ~/.pgpass: $(cat "$work/pw.txt")"
! grep -q "s3cret-pw" "$work/pw.txt" || fail "the password was echoed"

echo "-- a server that is not there"
if "$ROLLMAP" library list --db "host=$work/nowhere dbname=x" >/dev/null 2>"$work/gone.txt"; then
    fail "listing from no server succeeded"
fi
grep -q "cannot connect to the PostgreSQL server" "$work/gone.txt" \
    || fail "unclear error: $(cat "$work/gone.txt")"

echo "-- a server that never answers: the connection string's connect_timeout"
timed_list "$work/silent-2.txt" "postgresql://127.0.0.1:$silent_port/x?connect_timeout=2"
grep -q "cannot connect to the PostgreSQL server: .*timeout expired" "$work/silent-2.txt" \
    || fail "no timeout error: $(cat "$work/silent-2.txt")"
[ "$(cat "$work/silent-2.txt.time")" -le 4 ] \
    || fail "connect_timeout=2 took $(cat "$work/silent-2.txt.time") s"

echo "-- rollmap serve reads the same library"
"$ROLLMAP" serve --library-db "$clinic" --socket "$work/none.sock" \
    --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
pids+=($!)
port=
for _ in $(seq 50); do
    port=$(sed -n 's/.*:\([0-9]*\)\/.*/\1/p' "$work/serve.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fail "serve did not start: $(cat "$work/serve.log")"
curl -s "http://127.0.0.1:$port/library/client?code=C-017" >"$work/page.html"
[ "$(grep -o 'href="/session/[0-9]*"' "$work/page.html" | sort -u | wc -l)" -eq 4 ] \
    || fail "serve's client page does not link the 4 sessions"

echo "-- roles: a recorder adds but cannot read clients' metadata"
psql "$clinic" -q -f "$ROLLMAP_SOURCE/dist/clinic-roles.sql" >/dev/null
psql "$clinic" -qc "CREATE ROLE room3 LOGIN IN ROLE rollmap_recorder;
                    CREATE ROLE dr_lee LOGIN IN ROLE rollmap_therapist" >/dev/null
session room3 e 25 left
"$ROLLMAP" library add --db "$clinic user=room3" "$work/room3/e.rms" | grep -q $'\tadded\t' \
    || fail "the recorder cannot add a session"
touch "$work/room3/e.rms"
"$ROLLMAP" library add --db "$clinic user=room3" "$work/room3/e.rms" >/dev/null \
    || fail "the recorder cannot add a touched file again"
"$ROLLMAP" record tag --file "$work/room3/e.rms" --notes "tender mid-thigh" >/dev/null 2>&1 \
    || fail "record tag --file"
"$ROLLMAP" library add --db "$clinic user=room3" "$work/room3/e.rms" | grep -q $'\tupdated\t' \
    || fail "the recorder cannot store a changed file's analysis again"
"$ROLLMAP" library sync --db "$clinic user=room3" --folder "$work/room3" >"$work/sync.txt" \
    || fail "the recorder's sync: $(cat "$work/sync.txt")"
[ ! -s "$work/sync.txt" ] || fail "add did not upload the file: $(cat "$work/sync.txt")"
if psql "$clinic user=room3" -Atc "SELECT length(bytes) FROM session_chunks LIMIT 1" \
    >/dev/null 2>&1; then
    fail "the recorder can read sessions' bytes"
fi
for cmd in "list" "show 5" "name C-017 Ada"; do
    # shellcheck disable=SC2086
    if "$ROLLMAP" library $cmd --db "$clinic user=room3" >/dev/null 2>"$work/denied.txt"; then
        fail "the recorder could: library $cmd"
    fi
    grep -q "permission denied" "$work/denied.txt" || fail "library $cmd: $(cat "$work/denied.txt")"
done
"$ROLLMAP" library name --db "$clinic user=dr_lee" C-017 "Ada Lee" >/dev/null \
    || fail "the therapist cannot name a client"
"$ROLLMAP" library tag --db "$clinic user=dr_lee" 5 phase=rehab >/dev/null \
    || fail "the therapist cannot tag"
[ "$("$ROLLMAP" library list --db "$clinic user=dr_lee" --names --client C-017 --json \
     | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), d[-1]["display_name"])')" = "5 Ada Lee" ] \
    || fail "the therapist does not see the 5 sessions with the name"

echo "-- a server that never answers: 10 s without a connect_timeout"
wait "$silent_default_pid"
grep -q "cannot connect to the PostgreSQL server: .*timeout expired" "$work/silent-default.txt" \
    || fail "no timeout error: $(cat "$work/silent-default.txt")"
took=$(cat "$work/silent-default.txt.time")
[ "$took" -ge 9 ] && [ "$took" -le 13 ] || fail "the default connect timeout took $took s, not 10"

echo "-- without any of this, the SQLite file as before"
"$ROLLMAP" library add "$work"/room1/a.rms >/dev/null
[ -s "$XDG_DATA_HOME/rollmap/library.db" ] || fail "no SQLite library by default"
echo "ok"
