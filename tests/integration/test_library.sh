#!/usr/bin/env bash
# rollmap library end to end: sessions of two clients on both legs, made by
# the virtual roller and recorded from its capture, are added (twice), listed
# through every filter and format, shown, tagged, named, checked after their
# files change or vanish, reanalysed and removed (asking on a pty); two adds
# run at once while a list reads; a locked and a damaged database fail with
# clear messages; rollmapd adds a session it records; sessions recorded
# without a client are assigned to one with set.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"
: "${ROLLMAPD:?ROLLMAPD must name the rollmapd program}"

work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export XDG_DATA_HOME=$work/xdg     # the default database lives here
db=$XDG_DATA_HOME/rollmap/library.db

session() { # session NAME SEED SIDE CLIENT
    "$ROLLMAP" simulate --seed "$2" --duration 120 --set "side=$3" \
        --out "$work/$1.cap" 2>/dev/null
    "$ROLLMAP" record --source "file:$work/$1.cap?fast" -o "$work/$1.rms" \
        --client "$4" --side "$3" >/dev/null 2>&1 \
        || fail "record $1 failed"
}
session a 11 left C01
session b 12 right C01
session c 13 left C02
session d 14 right C02
session e 15 left C02

lib() { "$ROLLMAP" library "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

echo "-- add: one id per file, again: unchanged"
lib add "$work"/{a,b,c,d}.rms >"$work/add1.txt"
[ "$(grep -c $'\tadded\t' "$work/add1.txt")" -eq 4 ] || fail "add: $(cat "$work/add1.txt")"
lib add "$work"/{a,b,c,d}.rms >"$work/add2.txt"
[ "$(grep -c $'\tunchanged\t' "$work/add2.txt")" -eq 4 ] || fail "re-add: $(cat "$work/add2.txt")"
diff <(cut -f1 "$work/add1.txt") <(cut -f1 "$work/add2.txt") >/dev/null \
    || fail "ids changed on a second add"
[ "$(stat -c %a "$db")" = 600 ] || fail "database mode $(stat -c %a "$db")"
[ "$(stat -c %a "$(dirname "$db")")" = 700 ] || fail "folder mode"
id_a=$(awk -F'\t' '/a.rms$/ {print $1}' "$work/add1.txt")

echo "-- a bad file is named and the others still go in"
echo "not a session" >"$work/junk.rms"
if lib add "$work/junk.rms" "$work/e.rms" >"$work/add3.txt" 2>"$work/err.txt"; then
    fail "adding junk succeeded"
fi
grep -q "junk.rms" "$work/err.txt" || fail "error does not name the file: $(cat "$work/err.txt")"
grep -q $'\tadded\t.*e.rms' "$work/add3.txt" || fail "e.rms not added after the junk"

echo "-- list: filters and formats"
count() { lib list --json "$@" | json 'len(d)'; }
[ "$(count)" -eq 5 ] || fail "list all: $(count)"
[ "$(count --client C01)" -eq 2 ] || fail "client C01"
[ "$(count --client C02 --side left)" -eq 2 ] || fail "C02 left"
[ "$(count --side right)" -eq 2 ] || fail "right legs"
[ "$(count --client C02 --last 1)" -eq 1 ] || fail "last 1"
[ "$(count --muscle calf)" -eq 0 ] || fail "muscle calf"
# The sessions' own start days, so a run across UTC midnight still holds.
first_day=$(lib list --json | json 'min(s["start"] for s in d)[:10]')
last_day=$(lib list --json | json 'max(s["start"] for s in d)[:10]')
day_after=$(date -u -d "$last_day + 1 day" +%F)
[ "$(count --since "$first_day" --until "$last_day")" -eq 5 ] || fail "their days"
[ "$(count --since "$day_after")" -eq 0 ] || fail "since the day after"
newest=$(lib list --json --client C02 --last 1 | json 'd[0]["path"]')
[ "$(basename "$newest")" = e.rms ] || fail "newest C02 is $newest"
lib list >"$work/table.txt"
[ "$(wc -l <"$work/table.txt")" -eq 6 ] || fail "table: $(cat "$work/table.txt")"
lib list --csv >"$work/list.csv"
python3 - "$work/list.csv" <<'PY' || fail "CSV does not parse"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 5, len(rows)
assert {r["client"] for r in rows} == {"C01", "C02"}
assert all(float(r["duration_s"]) > 100 for r in rows)
PY

echo "-- show: what the analysis stored"
lib show "$id_a" >"$work/show.txt"
lib show "$id_a" --json >"$work/show.json"
spots=$(json 'len(d["spots"])' <"$work/show.json")
dwells=$(json 'len(d["dwells"])' <"$work/show.json")
grep -q "^tender spots ($spots)" "$work/show.txt" || fail "show text spots"
grep -q "^dwells ($dwells)" "$work/show.txt" || fail "show text dwells"
"$ROLLMAP" report "$work/a.rms" -o "$work/report" >/dev/null 2>&1 \
    || [ -s "$work/report/report.json" ] || fail "report of a.rms"
want=$(json '"(%d, %d)" % (len(d["tender_spots"]), len(d["dwells"]))' <"$work/report/report.json")
[ "($spots, $dwells)" = "$want" ] || fail "library has ($spots, $dwells) spots and dwells, report $want"
lib show "$work/a.rms" --json | json 'd["id"]' | grep -qx "$id_a" \
    || fail "show by path"

echo "-- tags and display names"
lib tag "$id_a" phase=rehab coach=kim
lib list --json --client C01 | json '[e["tags"] for e in d]' | grep -q "'phase': 'rehab'" \
    || fail "tag not listed"
lib tag "$id_a" coach=
[ "$(lib show "$id_a" --json | json 'len(d["tags"])')" -eq 1 ] || fail "tag not removed"
lib name C01 "Ada Lovelace"
lib list --names | grep -q "Ada Lovelace" || fail "--names shows no name"
! lib list | grep -q "Ada" || fail "the name shows without --names"
! find "$work" -name '*Ada*' | grep -q . || fail "a file name holds the client name"
lib tag "$id_a" 'remark=sore, "very"'
lib list --csv --client C01 >"$work/quoted.csv"
python3 - "$work/quoted.csv" <<'PY' || fail "CSV quoting: $(cat "$work/quoted.csv")"
import csv, sys
tags = [r["tags"] for r in csv.DictReader(open(sys.argv[1]))]
assert 'phase=rehab remark=sore, "very"' in tags, tags
PY
lib tag "$id_a" remark=
lib notes "$id_a" "tight distally"
lib show "$id_a" | grep -q "^notes       tight distally" || fail "notes"

echo "-- check: changed and missing files"
lib check >/dev/null || fail "check of intact files failed"
touch "$work/b.rms"
lib check >/dev/null || fail "a touched but unchanged file counts as changed"
printf 'x' >>"$work/c.rms"
rm "$work/d.rms"
if lib check >"$work/check.txt"; then fail "check missed the changes"; fi
grep -q $'\tchanged\t.*c.rms' "$work/check.txt" || fail "c.rms not changed: $(cat "$work/check.txt")"
grep -q $'\tmissing\t.*d.rms' "$work/check.txt" || fail "d.rms not missing"
lib check --json >"$work/check.json" || true
[ "$(json 'sorted(e["state"] for e in d)' <"$work/check.json")" = \
  "['changed', 'missing', 'ok', 'ok', 'ok']" ] || fail "check --json: $(cat "$work/check.json")"

echo "-- reanalyse: a changed file needs --force, the missing file is reported, the rest done"
id_c=$(lib list --json --client C02 --side left | json '[e["id"] for e in d if e["path"].endswith("/c.rms")][0]')
if lib reanalyse </dev/null >"$work/re.txt" 2>"$work/re.err"; then fail "reanalyse took a changed file without --force"; fi
grep -q $'changed\t.*c.rms' "$work/re.err" || fail "the changed file is not listed: $(cat "$work/re.err")"
grep -q "1 files changed since they were indexed (listed above): nothing was reanalysed" "$work/re.err" \
    || fail "no refusal: $(cat "$work/re.err")"
[ "$(lib show "$id_c" --json | json 'd["damage"]')" = "" ] || fail "the refused reanalyse changed the rows"
if lib reanalyse --force >"$work/re.txt" 2>"$work/re.err"; then fail "reanalyse hid a missing file"; fi
grep -q "reanalysed 4 sessions, 1 failed" "$work/re.txt" || fail "reanalyse: $(cat "$work/re.txt")"
grep -q "d.rms" "$work/re.err" || fail "reanalyse error names no file"
# c.rms has a stray byte after its closing index: its analysis says so
lib show "$id_c" | grep -q "^damage      " || fail "show does not mark the damaged file: $(lib show "$id_c")"
lib list --client C02 --side left | grep -q "damaged file" || fail "list does not mark the damaged file"

echo "-- reanalyse --jobs: four at once store what one after the other does"
shows() { for id in $(lib list --json | json '" ".join(str(e["id"]) for e in d)'); do lib show "$id" --json; done; }
lib reanalyse --force --jobs 1 >"$work/re1.txt" 2>"$work/re1.err" || true
shows >"$work/show1.json"
lib reanalyse --force --jobs 4 >"$work/re4.txt" 2>"$work/re4.err" || true
shows >"$work/show4.json"
cmp -s "$work/show1.json" "$work/show4.json" || fail "--jobs 4 stored other rows: $(diff "$work/show1.json" "$work/show4.json" | head)"
cmp -s "$work/re1.txt" "$work/re4.txt" || fail "--jobs 4 counted otherwise: $(cat "$work/re1.txt" "$work/re4.txt")"
grep -q "d.rms" "$work/re4.err" || fail "--jobs 4 names no failed file: $(cat "$work/re4.err")"
if lib reanalyse --jobs 0 2>"$work/jobs.err"; then fail "--jobs 0 accepted"; fi
grep -q -- "--jobs '0': expected a count" "$work/jobs.err" || fail "--jobs 0: $(cat "$work/jobs.err")"

echo "-- rm: asks, keeps the file unless --purge"
if lib rm "$id_a" </dev/null 2>/dev/null; then fail "rm without a terminal or --yes"; fi
[ "$(count)" -eq 5 ] || fail "rm without --yes removed something"
# on a terminal (a real pty through script(1)) it asks
if command -v script >/dev/null; then
    echo n | script -qec "'$ROLLMAP' library rm $id_a" /dev/null >"$work/ask.txt"
    grep -q "Remove session $id_a .*the file is kept? \[y/N\]" "$work/ask.txt" \
        || fail "rm did not ask: $(cat "$work/ask.txt")"
    [ "$(count)" -eq 5 ] || fail "rm removed after 'n'"
fi
lib rm --yes "$id_a" >/dev/null
[ -f "$work/a.rms" ] || fail "rm deleted the file"
[ "$(count)" -eq 4 ] || fail "rm kept the session"
id_e=$(lib list --json --client C02 --last 1 | json 'd[0]["id"]')
lib rm --yes --purge "$id_e" >/dev/null
[ ! -e "$work/e.rms" ] || fail "rm --purge kept the file"

echo "-- two adds at once while a list reads"
for n in 1 2 3 4; do session "p$n" $((20 + n)) left C03; done
lib add "$work/p1.rms" "$work/p2.rms" >"$work/par1.txt" 2>&1 &
first=$!
lib add "$work/p3.rms" "$work/p4.rms" >"$work/par2.txt" 2>&1 &
second=$!
lib list >/dev/null || fail "list during adds"
wait "$first" || fail "parallel add 1: $(cat "$work/par1.txt")"
wait "$second" || fail "parallel add 2: $(cat "$work/par2.txt")"
[ "$(count --client C03)" -eq 4 ] || fail "rows lost in parallel adds"

echo "-- a locked database is named and nothing is lost"
# the locker holds the write lock from "locked" until "release" appears
python3 "$(dirname "$0")/sqlite_locker.py" "$db" "$work/locked" "$work/release" &
locker=$!
for _ in $(seq 200); do [ -e "$work/locked" ] && break; sleep 0.05; done
[ -e "$work/locked" ] || fail "the locker did not take the lock"
some_id=$(lib list --json | json 'd[0]["id"]')
if lib tag "$some_id" k=v 2>"$work/lock.err"; then fail "tag while locked succeeded"; fi
grep -q "library.db is locked by another process" "$work/lock.err" \
    || fail "lock message: $(cat "$work/lock.err")"
lib list >/dev/null || fail "readers are blocked by a writer"
touch "$work/release"
wait "$locker"
lib tag "$some_id" k=v || fail "tag after the lock was released"
[ "$(count)" -eq 7 ] || fail "rows lost around the lock"

echo "-- a damaged database is named and left alone"
head -c 8192 /dev/urandom >"$work/bad.db"
cp "$work/bad.db" "$work/bad.copy"
if lib list --db "$work/bad.db" 2>"$work/bad.err"; then fail "damaged db listed"; fi
grep -q "bad.db: the library database is damaged" "$work/bad.err" \
    || fail "damage message: $(cat "$work/bad.err")"
cmp -s "$work/bad.db" "$work/bad.copy" || fail "the damaged file was changed"
grep -q "rollmap library rebuild --db $work/bad.db" "$work/bad.err" \
    || fail "the message does not say how to rebuild: $(cat "$work/bad.err")"

echo "-- a damaged page: list, show and add refuse; rebuild from the session files"
ddb=$work/dmg.db
mkdir -p "$work/rebuild-src"
cp "$work/a.rms" "$work/b.rms" "$work/rebuild-src/"
lib add --db "$ddb" "$work"/rebuild-src/*.rms >/dev/null
python3 - "$ddb" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode = DELETE")   # every page in the file
c.close()
data = bytearray(open(sys.argv[1], "rb").read())
page = int.from_bytes(data[16:18], "big")
for i in range(len(data) - page, len(data)):   # scribble the last page
    data[i] = (i * 13) & 0xff
open(sys.argv[1], "wb").write(data)
PY
cp "$ddb" "$work/dmg.copy"
for cmd in "list" "show 1" "add $work/c.rms"; do
    # shellcheck disable=SC2086
    if lib $cmd --db "$ddb" >/dev/null 2>"$work/dmg.err"; then fail "$cmd on a damaged database succeeded"; fi
    grep -q "dmg.db: the library database is damaged.*rollmap library rebuild" "$work/dmg.err" \
        || fail "$cmd: $(cat "$work/dmg.err")"
done
cmp -s "$ddb" "$work/dmg.copy" || fail "a command wrote into the damaged database"
lib rebuild --db "$ddb" --folder "$work/rebuild-src" >"$work/rebuild.txt" \
    || fail "rebuild: $(cat "$work/rebuild.txt")"
grep -q "rebuilt $ddb: 2 sessions added, 0 files failed; the old database is kept as $ddb.damaged-" \
    "$work/rebuild.txt" || fail "rebuild summary: $(cat "$work/rebuild.txt")"
cmp -s "$ddb".damaged-* "$work/dmg.copy" || fail "the damaged database was not kept as it was"
[ "$(count --db "$ddb")" -eq 2 ] || fail "the rebuilt library does not list both sessions"
if lib rebuild --db "$ddb" --folder "$work/rebuild-src" >/dev/null 2>"$work/rebuild.err"; then
    fail "rebuild of a sound database without --force"
fi
grep -q "is not damaged.*--force" "$work/rebuild.err" || fail "rebuild refusal: $(cat "$work/rebuild.err")"

echo "-- rollmapd adds the sessions it records (to the default database)"
dsock=$work/rollmapd.sock
"$ROLLMAPD" --foreground --source "sim:seed=6,duration=60" --socket "$dsock" \
    --library "$work/daemon-sessions" --set session.auto=false \
    2>"$work/rollmapd.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$dsock" ] && break; sleep 0.1; done
[ -S "$dsock" ] || fail "rollmapd did not start: $(cat "$work/rollmapd.log")"
"$ROLLMAP" record start --socket "$dsock" --client C05 --side right >/dev/null \
    || fail "record start"
sleep 1
"$ROLLMAP" record stop --socket "$dsock" >/dev/null || fail "record stop"
kill -TERM "$daemon"
wait "$daemon" || fail "rollmapd exit status: $(tail -5 "$work/rollmapd.log")"
grep -q "session library: .* is session [0-9]" "$work/rollmapd.log" \
    || fail "rollmapd did not add the session: $(tail -5 "$work/rollmapd.log")"
[ "$(count --client C05 --side right)" -eq 1 ] || fail "the daemon's session is not listed"
recorded=$(ls "$work"/daemon-sessions/*.rms)
lib list --json --client C05 | json 'd[0]["path"]' | grep -qx "$recorded" \
    || fail "the listed path is not the recorded file"

echo "-- set: automatic sessions (no client) assigned to one in their files"
adb=$work/auto.db
alib() { lib --db "$adb" "$@"; }
for n in 1 2; do
    "$ROLLMAP" record --source "sim:seed=3$n,duration=60?fast" \
        -o "$work/auto$n.rms" >/dev/null 2>&1 || fail "record auto$n failed"
done
alib add "$work"/auto{1,2}.rms >/dev/null
set +e
alib tag 1 client=C-099 2>"$work/tag.err"; status=$?
set -e
[ "$status" -eq 2 ] || fail "tag client= exit status $status"
grep -q "rollmap library set 1 --client C-099" "$work/tag.err" \
    || fail "tag client= does not point to set: $(cat "$work/tag.err")"
[ "$(alib show 1 --json | json 'len(d["tags"])')" -eq 0 ] || fail "tag client= made a tag"
set +e
alib tag 1 "muscle=long head" 2>"$work/tag.err"; status=$?
set -e
[ "$status" -eq 2 ] && grep -qF -- "library set 1 --muscle \"long head\"" "$work/tag.err" \
    || fail "tag muscle= with a space: $status, $(cat "$work/tag.err")"
alib set 1 "$work/auto2.rms" --client C-099 --side left >"$work/set.txt" \
    || fail "set: $(cat "$work/set.txt")"
[ "$(count --db "$adb" --client C-099 --side left)" -eq 2 ] \
    || fail "list --client after set: $(alib list)"
"$ROLLMAP" info "$work/auto1.rms" | grep -q "^client *C-099" \
    || fail "the file does not hold the client"
"$ROLLMAP" compare --db "$adb" --client C-099 >"$work/compare.txt" 2>&1 \
    || fail "compare --client after set: $(cat "$work/compare.txt")"
! find "$work" -name '*C-099*' | grep -q . || fail "a file name holds the client code"
rm "$work/auto1.rms"
if alib set 1 2 --muscle calf >"$work/set2.txt" 2>"$work/set2.err"; then
    fail "set on a deleted file succeeded"
fi
grep -q "session 1: .*auto1.rms" "$work/set2.err" \
    || fail "set error names no id and file: $(cat "$work/set2.err")"
grep -q $'^2\tC-099\tleft\tcalf\t.*auto2.rms$' "$work/set2.txt" \
    || fail "the other session was not set: $(cat "$work/set2.txt")"
[ "$(alib show 1 --json | json 'd["muscle"]')" = hamstring ] \
    || fail "the failed set changed the rows"

echo "-- check finds session files in the folder that are not in the library"
sdb=$work/sweep.db
mkdir -p "$work/sweepdir"
session q1 41 left C06
session q2 42 right C06
mv "$work/q1.rms" "$work/sweepdir/"
# q2 without its closing index, as a recorder leaves a session it is writing
size=$(stat -c %s "$work/q2.rms")
head -c $((size - 100)) "$work/q2.rms" >"$work/sweepdir/q2.rms"
if lib check --db "$sdb" --folder "$work/sweepdir" >"$work/sweep.txt"; then
    fail "check found nothing: $(cat "$work/sweep.txt")"
fi
grep -q $'^[0-9]*\tadded\t.*sweepdir/q1.rms\twas not in the library: added as' "$work/sweep.txt" \
    || fail "check did not add q1: $(cat "$work/sweep.txt")"
grep -q $'^0\tnot-indexed\t.*sweepdir/q2.rms\tnot added: never closed .* still being recorded' "$work/sweep.txt" \
    || fail "check added a session that may be recording: $(cat "$work/sweep.txt")"
grep -q "2 files not in the library: 1 added" "$work/sweep.txt" || fail "summary: $(cat "$work/sweep.txt")"
touch -d '10 minutes ago' "$work/sweepdir/q2.rms"
if lib check --db "$sdb" --folder "$work/sweepdir" >"$work/sweep.txt"; then
    fail "check did not report q2"
fi
grep -q $'\tadded\t.*sweepdir/q2.rms' "$work/sweep.txt" || fail "q2 not added: $(cat "$work/sweep.txt")"
lib check --db "$sdb" --folder "$work/sweepdir" >"$work/sweep.txt" \
    || fail "a third check still finds something: $(cat "$work/sweep.txt")"
[ "$(count --db "$sdb" --client C06)" -eq 2 ] || fail "the swept sessions are not listed"

echo "-- usage errors exit 2"
set +e
lib frobnicate 2>/dev/null; [ $? -eq 2 ] || fail "unknown subcommand"
lib list --side middle 2>/dev/null; [ $? -eq 2 ] || fail "bad side"
lib show 2>/dev/null; [ $? -eq 2 ] || fail "show without id"
lib show 9999 2>/dev/null; [ $? -eq 1 ] || fail "show of an unknown id"
lib set 1 2>/dev/null; [ $? -eq 2 ] || fail "set without META"
set -e
echo "PASS"
