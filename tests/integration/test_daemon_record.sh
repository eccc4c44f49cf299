#!/usr/bin/env bash
# rollmap record: a foreground capture of a recorded stream keeps every
# sample the simulator sent; start/stop/tag drive a running rollmapd; tag
# --file sets metadata of a closed session; errors are clear; status of a
# session that gets no samples says 0.
source "$(dirname "$0")/daemon_lib.sh"

# Foreground, from a byte capture: 6 s at 1 kHz is exactly 6000 samples.
"$ROLLMAP" simulate --seed 8 --duration 6 --out "$work/capture.bin" 2>/dev/null
"$ROLLMAP" record --source "file:$work/capture.bin?fast" -o "$work/fg.rms" >"$work/fg.out" ||
  fail "foreground record failed: $(cat "$work/fg.out")"
grep -q "6000 samples recorded, 0 frames rejected, 0 frames lost" "$work/fg.out" ||
  fail "foreground record: $(cat "$work/fg.out")"
[ "$(stat -c %a "$work/fg.rms")" = 600 ] || fail "session file mode is not 0600"

# A calibration stored by rollmap calibrate applies to a foreground
# record as it does in rollmapd (the capture's seed-8 device is SIM-...08).
XDG_DATA_HOME=$work/data "$ROLLMAP" calibrate "file:$work/capture.bin?fast" \
  --tare --seconds 0.5 --yes >"$work/cal.out" || fail "calibrate: $(cat "$work/cal.out")"
[ -f "$work/data/rollmap/calibration/SIM-0000000000000008.ini" ] || fail "no stored calibration"
XDG_DATA_HOME=$work/data "$ROLLMAP" record --source "file:$work/capture.bin?fast" \
  -o "$work/cal.rms" >/dev/null || fail "record with a stored calibration failed"
"$ROLLMAP" info "$work/cal.rms" >"$work/cal.info"
grep -q "calibration: user" "$work/cal.info" ||
  fail "the stored calibration was not applied: $(grep calibration "$work/cal.info")"
grep -q "calibration: user" <("$ROLLMAP" info "$work/fg.rms") &&
  fail "the session before the calibration claims it"

# --duration ends a live capture on the device clock: 2 s at 1 kHz.
"$ROLLMAP" record --source "sim:seed=3" --duration 2 -o "$work/dur.rms" >"$work/dur.out"
n=$(sed -E 's/.*: ([0-9]+) samples recorded.*/\1/' "$work/dur.out")
[ "$n" = 2000 ] || fail "--duration 2 recorded $n samples"

# Onto an existing file: it is kept, and the capture ends at once with the
# file named instead of running on (a live roller would until Ctrl-C)
# without recording anything.
sum=$(md5sum <"$work/dur.rms")
rc=0; timeout 30 "$ROLLMAP" record --source "sim:seed=3" -o "$work/dur.rms" \
  >/dev/null 2>"$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q "rollmap record: .*$work/dur.rms: cannot create: File exists" "$work/err" ||
  fail "record onto an existing file: rc $rc, $(cat "$work/err")"
! grep -q "rollmap record: : " "$work/err" || fail "a message names an empty file: $(cat "$work/err")"
[ "$(md5sum <"$work/dur.rms")" = "$sum" ] || fail "record changed the existing file"

# Bad input: a clear message and a usage error.
rc=0; "$ROLLMAP" record --source "nonsense:x" 2>"$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q "rollmap record: --source" "$work/err" || fail "bad --source: rc $rc"
rc=0; "$ROLLMAP" record start --side middle 2>"$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q "left or right" "$work/err" || fail "bad --side: rc $rc"

# Against the daemon: explicit sessions with metadata.
start_daemon "sim:seed=6,duration=60" --set session.auto=false
"$ROLLMAP" record tag --socket "$sock" --muscle "biceps femoris" >/dev/null ||
  fail "tag before the session failed"
"$ROLLMAP" record start --socket "$sock" --client "Jane-Doe-17" --side left >"$work/start.out" ||
  fail "record start failed"
grep -q "recording session" "$work/start.out" || fail "start said: $(cat "$work/start.out")"
rc=0; "$ROLLMAP" record start --socket "$sock" 2>"$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q "already" "$work/err" || fail "a second start was not refused"
# A free tag, as docs/LIVE.md shows it, goes into the file and the library.
answer=$(request '{"cmd":"tag","key":"shoe","value":"none"}')
grep -q '"class":"OK"' <<<"$answer" || fail "free tag refused: $answer"
answer=$(request "{\"cmd\":\"tag\",\"key\":\"k\",\"value\":\"$(printf 'v%.0s' {1..60})\"}")
grep -q 'at most 58' <<<"$answer" || fail "an over-long tag: $answer"
"$ROLLMAP" record tag --socket "$sock" --tag phase=rehab >/dev/null || fail "record tag --tag failed"
sleep 1
"$ROLLMAP" record stop --socket "$sock" --notes "left knee sore" >/dev/null || fail "record stop failed"
file=$(session_files)
[ -n "$file" ] || fail "no session file"
case $file in *Jane*) fail "the client name is in the file name $file" ;; esac
stop_daemon
"$ROLLMAP" info "$file" | grep -q "tag:shoe=none" || fail "the tag is not in the file: $("$ROLLMAP" info "$file")"
"$ROLLMAP" library list --db "$work/library.db" --json >"$work/list.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[0]["tags"] == {"shoe": "none", "phase": "rehab"}, d[0]["tags"]' \
  "$work/list.json" || fail "the library has not the tag"
rc=0; "$ROLLMAP" record stop --socket "$sock" 2>"$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q "rollmapd running" "$work/err" || fail "stop without a daemon: rc $rc"

"$ROLLMAP" record tag --file "$file" --client "C-017" >/dev/null || fail "tag --file failed"

# A session that gets no samples (the virtual roller's stream ended after
# 3 s, which ends the first session) shows 0 in status, not the last
# session's count.
start_daemon "sim:seed=9,duration=3" --set session.auto=false
"$ROLLMAP" record start --socket "$sock" >/dev/null || fail "record start (first)"
wait_log "ended (the source ended)" 60
"$ROLLMAP" record start --socket "$sock" >/dev/null || fail "record start (quiet device)"
for _ in $(seq 100); do   # status is refreshed about once a second
  "$ROLLMAP" status --socket "$sock" >"$work/quiet.txt"
  grep -q "^session:  recording" "$work/quiet.txt" && break
  sleep 0.1
done
grep -q "^session:  recording .*, 0 samples$" "$work/quiet.txt" ||
  fail "status of a session without samples: $(cat "$work/quiet.txt")"
"$ROLLMAP" record stop --socket "$sock" >/dev/null
stop_daemon

echo "ok: foreground capture kept 6000 of 6000 samples; start/stop/tag work"
