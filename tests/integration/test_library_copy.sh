#!/usr/bin/env bash
# rollmap library copy on a real PostgreSQL server (a throwaway cluster
# from tests/postgresql/with-cluster.sh): a room's SQLite library with
# tags, notes and a client's display name goes into the clinic's
# PostgreSQL and back into a fresh SQLite file, and every session's
# `library show` (text and JSON) and the list are identical apart from
# the row ids; a second copy writes nothing; a source that is not there
# is a clear error; a machine without the
# session files gets them from the server's bytes, identical to the
# originals, and `library check` is clean there; a copy killed (-9) in
# the middle of a session completes when run again, with every session
# once.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"

. "$ROLLMAP_SOURCE/tests/postgresql/clinic-test.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
export XDG_CACHE_HOME=$work/cache
server=$ROLLMAP_TEST_POSTGRESQL
psql "$server" -qc "CREATE DATABASE clinic2" >/dev/null
clinic2="$server dbname=clinic2"
room=$work/room.db

session() { # session NAME SEED CLIENT SIDE
    "$ROLLMAP" simulate --seed "$2" --duration 30 --set "side=$4" \
        --out "$work/room/$1.cap" 2>/dev/null
    "$ROLLMAP" record --source "file:$work/room/$1.cap?fast" -o "$work/room/$1.rms" \
        --client "$3" --side "$4" >/dev/null 2>&1 || fail "record $1 failed"
    rm "$work/room/$1.cap"
}
mkdir -p "$work/room"
session a 31 C-017 left
session b 32 C-017 right
session c 33 C-020 left
session d 34 C-020 right
session e 35 C-017 left
"$ROLLMAP" library add --db "$room" "$work"/room/*.rms >/dev/null
"$ROLLMAP" library tag --db "$room" 2 phase=rehab pain=3 >/dev/null
"$ROLLMAP" library notes --db "$room" 3 "tender mid-thigh, eased after 2 min" >/dev/null
"$ROLLMAP" library name --db "$room" C-017 "Ada Lee" >/dev/null
session_ids=$("$ROLLMAP" library list --db "$room" --json \
    | python3 -c 'import json,sys; print(" ".join(r["session_id"] for r in json.load(sys.stdin)))')

# same_library A B [--paths-differ] [FORMATS]: list and every session's
# show (text and JSON, or FORMATS) identical apart from the row ids (and
# the paths)
same_library() {
    local a=$1 b=$2 drop=${3:-} formats=${4:-text --json}
    for sid in $session_ids; do
        for fmt in $formats; do
            [ "$fmt" = text ] && fmt=""
            "$ROLLMAP" library show --db "$a" "$sid" $fmt >"$work/show-a" \
                || fail "show $sid in $a"
            "$ROLLMAP" library show --db "$b" "$sid" $fmt >"$work/show-b" \
                || fail "show $sid in $b"
            python3 - "$work/show-a" "$work/show-b" "$fmt" "$drop" <<'EOF' \
                || fail "library show $sid $fmt differs between $a and $b"
import json, re, sys
a, b = (open(p).read() for p in sys.argv[1:3])
json_form, drop_paths = sys.argv[3] == "--json", sys.argv[4] != ""
if json_form:
    a, b = json.loads(a), json.loads(b)
    for d in (a, b):
        del d["id"]
        if drop_paths:
            del d["path"]
else:
    def strip(text):
        lines = [l for l in text.splitlines() if not re.match(r"^\s*id\b", l)]
        if drop_paths:
            lines = [l for l in lines if not re.match(r"^\s*(file|path)\b", l)]
        return lines
    a, b = strip(a), strip(b)
if a != b:
    print(a, b, sep="\n---\n", file=sys.stderr)
    sys.exit(1)
EOF
        done
    done
    "$ROLLMAP" library list --db "$a" --names --json >"$work/list-a"
    "$ROLLMAP" library list --db "$b" --names --json >"$work/list-b"
    python3 - "$work/list-a" "$work/list-b" "$drop" <<'EOF' || fail "library list differs between $a and $b"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for rows in (a, b):
    for r in rows:
        del r["id"]
        if sys.argv[3]:
            del r["path"]
assert len(a) == 5 and a == b, (a, b)
EOF
}

echo "-- a source that is not there is an error, and nothing is made"
if "$ROLLMAP" library copy --from "$work/nowhere/room.db" --to "$work/x.db" 2>"$work/none.err"; then
    fail "a copy from no library succeeded"
fi
grep -q "no library there" "$work/none.err" || fail "unclear error: $(cat "$work/none.err")"
[ ! -e "$work/nowhere" ] && [ ! -e "$work/x.db" ] || fail "the copy made files"

echo "-- a room's SQLite library into the clinic's PostgreSQL"
"$ROLLMAP" library copy --from "$room" --to "$clinic" >"$work/copy1.txt" 2>"$work/copy1.err" \
    || fail "copy: $(cat "$work/copy1.txt" "$work/copy1.err")"
grep -q ": 5 sessions, rows written for 5, data for 5, 0 without data; 1 client names written$" \
    "$work/copy1.txt" || fail "copy said: $(cat "$work/copy1.txt")"
[ "$(grep -c "^copy: [1-5]/5 .*: rows and data$" "$work/copy1.err")" -eq 5 ] \
    || fail "no progress on stderr: $(cat "$work/copy1.err")"
same_library "$room" "$clinic"

echo "-- a second copy writes nothing"
"$ROLLMAP" library copy --from "$room" --to "$clinic" >"$work/copy2.txt" 2>"$work/copy2.err"
grep -q ": 5 sessions, rows written for 0, data for 0, 0 without data; 0 client names written$" \
    "$work/copy2.txt" || fail "second copy said: $(cat "$work/copy2.txt")"
[ ! -s "$work/copy2.err" ] || fail "second copy printed: $(cat "$work/copy2.err")"

echo "-- back from PostgreSQL into a fresh SQLite library"
"$ROLLMAP" library copy --from "$clinic" --to "$work/back.db" >"$work/copy3.txt" 2>/dev/null \
    || fail "copy back: $(cat "$work/copy3.txt")"
same_library "$room" "$work/back.db"
"$ROLLMAP" library copy --from "$clinic" --to "$work/back.db" | grep -q "rows written for 0, data for 0" \
    || fail "a second copy back wrote something"

echo "-- a machine without the session files gets them from the server"
mv "$work/room" "$work/room.away"
"$ROLLMAP" library copy --from "$clinic" --to "$work/other.db" --folder "$work/fetched" \
    >"$work/copy4.txt" 2>/dev/null || fail "copy to another machine: $(cat "$work/copy4.txt")"
grep -q "rows written for 5, data for 5" "$work/copy4.txt" || fail "$(cat "$work/copy4.txt")"
same_library "$room" "$work/other.db" --paths-differ --json
for sid in $session_ids; do
    path=$("$ROLLMAP" library show --db "$work/other.db" "$sid" --json \
           | python3 -c 'import json,sys; print(json.load(sys.stdin)["path"])')
    [ "$path" = "$work/fetched/$sid.rms" ] || fail "session $sid is at $path"
    original=$("$ROLLMAP" library show --db "$clinic" "$sid" --json \
           | python3 -c 'import json,sys; print(json.load(sys.stdin)["path"])')
    cmp -s "$path" "$work/room.away/$(basename "$original")" || fail "$path differs from its original"
done
"$ROLLMAP" library check --db "$work/other.db" --folder "$work/fetched" >"$work/check.txt" \
    || fail "library check on the other machine: $(cat "$work/check.txt")"
"$ROLLMAP" library copy --from "$clinic" --to "$work/other.db" --folder "$work/fetched" \
    | grep -q "rows written for 0, data for 0" || fail "a second copy to the other machine wrote"
mv "$work/room.away" "$work/room"

echo "-- a copy killed in the middle of a session completes when run again"
"$ROLLMAP" library migrate --db "$clinic2" >/dev/null
third=$(echo "$session_ids" | cut -d' ' -f3)
psql "$clinic2" -q >/dev/null <<EOF
CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF NEW.session_id = '$third' THEN PERFORM pg_sleep(300); END IF;
  RETURN NEW;
END \$\$;
CREATE TRIGGER stall BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION stall();
EOF
"$ROLLMAP" library copy --from "$room" --to "$clinic2" >/dev/null 2>"$work/killed.err" &
copy_pid=$!
pids+=($copy_pid)
stalled=0
for _ in $(seq 300); do
    stalled=$(psql "$server" -Atc "SELECT count(*) FROM pg_stat_activity
                                   WHERE datname = 'clinic2' AND wait_event = 'PgSleep'")
    [ "$stalled" = 1 ] && break
    sleep 0.1
done
[ "$stalled" = 1 ] || fail "the copy never reached the third session: $(cat "$work/killed.err")"
kill -9 "$copy_pid"
wait "$copy_pid" 2>/dev/null || true
psql "$server" -qAtc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                      WHERE datname = 'clinic2' AND wait_event = 'PgSleep'" >/dev/null
psql "$clinic2" -qc "DROP TRIGGER stall ON sessions" >/dev/null
[ "$("$ROLLMAP" library list --db "$clinic2" --json \
     | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -eq 2 ] \
    || fail "the killed copy left other than its two whole sessions"
"$ROLLMAP" library copy --from "$room" --to "$clinic2" >"$work/resumed.txt" 2>/dev/null \
    || fail "the copy run again: $(cat "$work/resumed.txt")"
grep -q ": 5 sessions, rows written for 3, data for 2, 0 without data; 1 client names written$" \
    "$work/resumed.txt" || fail "the copy run again said: $(cat "$work/resumed.txt")"
same_library "$room" "$clinic2" "" --json
echo "ok"
