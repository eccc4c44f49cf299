#!/usr/bin/env bash
# rollmapd's counts of session files for the library (rollmap status,
# library.waiting and library.unchecked) count each file once. At start
# rollmapd sweeps its folder; sessions its recorder ends are queued. The
# sweep lists the folder before the capture starts and the recorder only
# creates new files, so no file is both. A swept file counts as waiting
# once it has been looked up in the library (most are in it already);
# until then it is unchecked. With the database locked for writing (WAL:
# reads go on), the first old file is looked up and waits, the second is
# never reached: of two old files and two sessions that end, three wait
# and one is unchecked, and each goes in once when the lock goes.
source "$(dirname "$0")/daemon_lib.sh"

recorded() {  # recorded NAME SEED DIR: a short session of the virtual roller
  "$ROLLMAP" simulate --seed "$2" --duration 5 --out "$work/$1.bin" 2>/dev/null
  "$ROLLMAP" record --source "file:$work/$1.bin?fast" -o "$3/$1.rms" >/dev/null
}
mkdir -p "$lib"
recorded old1 1 "$lib"
recorded old2 2 "$lib"
recorded elsewhere 3 "$work"
"$ROLLMAP" library add --db "$work/library.db" "$work/elsewhere.rms" >/dev/null

# another process holds the write lock from "locked" until "release"
python3 "$(dirname "$0")/sqlite_locker.py" "$work/library.db" "$work/locked" "$work/release" &
locker=$!
for _ in $(seq 200); do [ -e "$work/locked" ] && break; sleep 0.05; done
[ -e "$work/locked" ] || fail "the locker did not take the lock"

start_daemon "sim:seed=6" --set session.auto=false
for n in 1 2; do
  "$ROLLMAP" record start --socket "$sock" --client "C-W$n" --side left >/dev/null ||
    fail "record start $n"
  sleep 1
  "$ROLLMAP" record stop --socket "$sock" >/dev/null || fail "record stop $n"
done
[ "$(session_files | wc -l)" = 4 ] || fail "not 4 session files: $(session_files)"
counts() { echo "$(status library.waiting)/$(status library.unchecked)"; }
for _ in $(seq 100); do [ "$(counts)" = 3/1 ] && break; sleep 0.1; done
for _ in $(seq 10); do  # and they stay so while the lock is held
  [ "$(counts)" = 3/1 ] ||
    fail "waiting/unchecked $(counts) for 4 session files (1 swept and looked up, 1 swept, 2 ended)"
  sleep 0.2
done
"$ROLLMAP" status --socket "$sock" >"$work/status.txt"
grep -Eq "^index: .*: 3 sessions waiting to be added, 1 file of the folder to look up in it: .*locked" \
  "$work/status.txt" || fail "rollmap status: $(cat "$work/status.txt")"

touch "$work/release"
wait "$locker"
for _ in $(seq 300); do [ "$(counts)" = 0/0 ] && break; sleep 0.1; done
[ "$(counts)" = 0/0 ] || fail "still $(counts) waiting/unchecked after the lock went"
stop_daemon
"$ROLLMAP" library list --db "$work/library.db" --json >"$work/list.json"
python3 - "$work/list.json" "$lib" <<'PY' || fail "the library does not hold each session once"
import json, os, sys
paths = [e["path"] for e in json.load(open(sys.argv[1]))]
wanted = sorted(os.path.join(os.path.realpath(sys.argv[2]), f) for f in os.listdir(sys.argv[2]))
mine = sorted(p for p in paths if os.path.dirname(p) == os.path.realpath(sys.argv[2]))
print(f"library: {len(paths)} sessions; {len(mine)} from the folder", file=sys.stderr)
sys.exit(0 if mine == wanted and len(paths) == 5 else 1)
PY
echo "PASS: 3 waiting and 1 unchecked while locked, each added once after"
