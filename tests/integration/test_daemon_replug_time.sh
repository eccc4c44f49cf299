#!/usr/bin/env bash
# Replugs do not move time: the virtual roller (frames of 20 samples) is
# unplugged six times for 1 s (its clock restarts at each boot, while the
# simulated person goes on rolling). The session file's last sample must
# land where the simulator's last sample is. Anchoring a frame's first
# sample to the frame's arrival moved the clock on by a frame less one
# sample (19 ms here) at every replug, and anchoring it to the arrival of
# one frame moved it by however late that frame was read (up to 51 ms
# after six replugs on a busy machine). The restarted clock is now anchored
# by the least delayed of its first frames (hw/source_clock.c), so the
# test allows one sample period per replug whatever else the machine
# runs, and runs beside other tests. The live view's unplug events must
# carry the same unwrapped time as the file's unplug events, instead of
# starting over; the file reads back with one unplug gap per replug.
source "$(dirname "$0")/daemon_lib.sh"

# The first unplug comes 20 s after the daemon starts. On a busy machine
# starting the daemon and the session took 10 s, and starting Python alone
# 7-10 s at load 25-30 (the session then began after the first unplug): so
# the client that watches the events and starts the session runs before
# the daemon, and asks for the session as soon as the device is there.
python3 - "$sock" "$work/client" >"$work/events.txt" <<'PY' &
import json, os, socket, sys, time
give_up = time.time() + 60

def connect():
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(sys.argv[1])
            f = s.makefile("rw")
            f.readline()  # VERSION
            return f
        except (FileNotFoundError, ConnectionRefusedError):
            assert time.time() < give_up, "rollmapd never answered"
            time.sleep(0.01)

def answer(f, request):
    f.write(request + "\n")
    f.flush()
    for line in f:
        if json.loads(line).get("class") not in ("SAMPLE", "EVENT", "NOTICE"):
            return json.loads(line)

open(sys.argv[2] + ".ready", "w").close()
watch = connect()
watch.write('{"cmd":"watch","samples":false,"events":true}\n')
watch.flush()
control = connect()
while answer(control, '{"cmd":"start"}').get("class") != "OK":
    assert time.time() < give_up, "start refused"  # no device yet
    time.sleep(0.05)
open(sys.argv[2] + ".started", "w").close()
for line in watch:
    msg = json.loads(line)
    if msg.get("class") == "EVENT" and msg["event"] in ("unplug", "plug"):
        print(msg["event"], msg["t_s"], flush=True)
PY
watcher=$!
for _ in $(seq 600); do [ -e "$work/client.ready" ] && break; sleep 0.1; done
start_daemon "sim:seed=6,duration=55,batch=20,unplug=20/25/30/35/40/45,unplug_for=1" \
  --set session.auto=false
for _ in $(seq 600); do [ -e "$work/client.started" ] && break; sleep 0.1; done
[ -e "$work/client.started" ] || fail "the session did not start"
wait_log "session .* ended (the source ended)" 60
stop_daemon
kill "$watcher" 2>/dev/null || true

resumes=$(grep -c "resumed after" "$log" || true)
[ "$resumes" = 6 ] || fail "expected 6 resumes, the log has $resumes"
file=$(session_files)
"$ROLLMAP" export "$file" --csv -o "$work/s.csv" || fail "export failed"
last=$(tail -n 1 "$work/s.csv" | cut -d, -f1)
python3 - "$last" <<'PY' || fail "the replugs moved the session clock"
import sys
# 55 s at 1 kHz: the simulator's last sample is at 54.999 s.
drift_ms = (float(sys.argv[1]) - 54.999) * 1000
print(f"last sample {float(sys.argv[1]):.6f} s: {drift_ms:+.1f} ms after six replugs")
assert abs(drift_ms) <= 6 * 1.0, "more than a sample period (1 ms) per replug"
PY
[ "$(info_field "$file" gaps)" = 6 ] || fail "expected 6 gaps: $(cat "$work/info.txt")"
"$ROLLMAP" info "$file" --json >"$work/info.json" || fail "info failed"
python3 - "$work/events.txt" "$work/info.json" <<'PY' || fail "unplug events: $(tr '\n' ' ' <"$work/events.txt")"
import json, sys
times = [float(line.split()[1]) for line in open(sys.argv[1]) if line.startswith("unplug")]
assert len(times) == 6, f"{len(times)} unplug events"
steps = [b - a for a, b in zip(times, times[1:])]
assert all(4.5 < d < 5.5 for d in steps), f"unplug events {times}"
info = json.load(open(sys.argv[2]))
# live t_s counts from the session's first sample
in_file = [(e["t_us"] - info["first_us"]) / 1e6 for e in info["events"]
           if e["kind"] == "unplug"]
assert len(in_file) == 6, f"the file has {len(in_file)} unplug events"
for live, stored in zip(times, in_file):
    assert abs(live - stored) <= 0.0015, f"live unplug at {live} s, the file's at {stored} s"
print("unplug events at", " ".join(f"{t:.3f}" for t in times), "s, as in the file")
PY

echo "ok: six replugs, live events on the session clock"
