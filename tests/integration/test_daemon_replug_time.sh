#!/usr/bin/env bash
# Replugs do not restart time: the virtual roller is unplugged six times
# for 1 s (its clock restarts at each boot, while the simulated person goes
# on rolling). The live view's unplug events carry the session's unwrapped
# time, each about the 5 s between unplugs after the one before, instead of
# starting over; the session file reads back with one unplug gap per
# replug. How far the file's last sample lands from the end of the
# simulation is printed (docs/PERFORMANCE.md): the host times each replug
# from the delivery of the samples around it, so a loaded machine adds a
# few ms per replug; the exact offset is pinned by test_recorder.
source "$(dirname "$0")/daemon_lib.sh"

start_daemon "sim:seed=6,duration=45,unplug=10/15/20/25/30/35,unplug_for=1" \
  --set session.auto=false
python3 - "$sock" >"$work/events.txt" <<'PY' &
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
f.write('{"cmd":"watch","samples":false,"events":true}\n')
f.flush()
for line in f:
    msg = json.loads(line)
    if msg.get("class") == "EVENT" and msg["event"] in ("unplug", "plug"):
        print(msg["event"], msg["t_s"], flush=True)
PY
watcher=$!
wait_log "device .* channels" 10
request '{"cmd":"start"}' | grep -q '"class":"OK"' || fail "start refused"
wait_log "session .* ended (the source ended)" 60
stop_daemon
kill "$watcher" 2>/dev/null || true

resumes=$(grep -c "resumed after" "$log" || true)
[ "$resumes" = 6 ] || fail "expected 6 resumes, the log has $resumes"
file=$(session_files)
"$ROLLMAP" export "$file" --csv -o "$work/s.csv" || fail "export failed"
last=$(tail -n 1 "$work/s.csv" | cut -d, -f1)
python3 - "$last" <<'PY'
import sys
drift = float(sys.argv[1]) - 44.999
print(f"last sample {float(sys.argv[1]):.6f} s: {drift * 1000:+.1f} ms after six replugs")
PY
[ "$(info_field "$file" gaps)" = 6 ] || fail "expected 6 gaps: $(cat "$work/info.txt")"
python3 - "$work/events.txt" <<'PY' || fail "unplug events: $(tr '\n' ' ' <"$work/events.txt")"
import sys
times = [float(line.split()[1]) for line in open(sys.argv[1]) if line.startswith("unplug")]
assert len(times) == 6, f"{len(times)} unplug events"
steps = [b - a for a, b in zip(times, times[1:])]
assert all(4.5 < d < 5.5 for d in steps), f"unplug events {times}"
print("unplug events at", " ".join(f"{t:.3f}" for t in times), "s")
PY

echo "ok: six replugs, live events on the session clock"
