#!/usr/bin/env bash
# rollmapd's count of session files waiting for the library (rollmap
# status, library.waiting) counts each file once. At start rollmapd
# sweeps its folder (sessions never added); sessions its recorder ends
# are queued. The sweep lists the folder before the capture starts and
# the recorder only creates new files, so no file is both: two old files
# and two sessions that end while the database is locked are four
# waiting, and each goes in once when the lock goes.
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
for _ in $(seq 100); do [ "$(status library.waiting)" = 4 ] && break; sleep 0.1; done
for _ in $(seq 10); do  # and it stays at 4 while the lock is held
  waiting=$(status library.waiting)
  [ "$waiting" = 4 ] || fail "$waiting files waiting for 4 session files (2 swept, 2 ended)"
  sleep 0.2
done
"$ROLLMAP" status --socket "$sock" >"$work/status.txt"
grep -Eq "^index: .*: 4 sessions waiting to be added: .*locked" "$work/status.txt" ||
  fail "rollmap status: $(cat "$work/status.txt")"

touch "$work/release"
wait "$locker"
for _ in $(seq 300); do [ "$(status library.waiting)" = 0 ] && break; sleep 0.1; done
[ "$(status library.waiting)" = 0 ] || fail "still $(status library.waiting) waiting after the lock went"
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
echo "PASS: 4 waiting while locked, each added once after"
