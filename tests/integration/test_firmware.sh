#!/usr/bin/env bash
# The roller firmware (hw/firmware) running in simavr with emulated HX711s,
# encoder and button (hw/firmware/bench), through the real capture chain:
# roller_bench -> pty -> rollmapd --source tty:PATH -> session file ->
# rollmap report. The virtual person's tender spots must be found (recall
# >= 0.9 over three seeds, counted as bench_accuracy counts: a found spot
# within 3 cm of a true one of severity >= 0.3), no frame lost or rejected,
# the mark button's presses in the report at the person's position, a
# power-on reset mid-session recorded and the session going on, and every
# command answered as docs/PROTOCOL.md says (roller_bench --check).
source "$(dirname "$0")/daemon_lib.sh"
# The interpreter, found once: through a version manager's shim (pyenv)
# every python3 starts a dozen shells, 0.5 s of CPU each time.
python=$(python3 -c 'import sys; print(sys.executable)')
python3() { "$python" "$@"; }

bench=$ROLLMAP_BUILD/roller_bench
elf=$ROLLMAP_BUILD/firmware/roller.elf
if [ ! -x "$bench" ] || [ ! -f "$elf" ]; then
  echo "SKIP: the firmware or its bench is not built (needs gcc-avr, avr-libc, simavr, libsimavr-dev)"
  exit 77
fi
bench_pid=
trap 'if [ -n "$bench_pid" ]; then kill "$bench_pid" 2>/dev/null || true; fi; cleanup' EXIT

# The protocol, command by command, with the bench as the host.
"$bench" --check "$elf" >"$work/check.out" 2>/dev/null ||
  fail "roller_bench --check: $(grep FAIL "$work/check.out")"

# wait_link DIR: until the bench has made its pty (DIR/roller), however
# long a loaded machine takes, as long as the bench runs.
wait_link() {
  until [ -L "$1/roller" ]; do
    kill -0 "$bench_pid" 2>/dev/null || fail "roller_bench exited: $(cat "$1/bench.err")"
    sleep 0.1
  done
}

# run_session NAME SIM_OPTIONS [bench options...]: one session recorded by
# rollmapd from the firmware; leaves $work/NAME/{truth.json,report/,bench.err}.
# With $pause_host set, rollmapd is stopped that many seconds once the
# device is up, as a loaded machine would stall it: the bench runs on to
# the end and must still hand over every frame.
run_session() {
  local dir=$work/$1
  mkdir -p "$dir"
  "$bench" --link "$dir/roller" --sim "$2" --truth "$dir/truth.json" --speed 0 \
    "${@:3}" "$elf" >/dev/null 2>"$dir/bench.err" &
  bench_pid=$!
  wait_link "$dir"
  lib=$dir/lib
  log=$dir/rollmapd.log
  start_daemon "tty:$dir/roller"
  if [ -n "${pause_host:-}" ]; then
    wait_log "device .* channels" 60
    kill -STOP "$daemon_pid"
    sleep "$pause_host"
    kill -CONT "$daemon_pid"
  fi
  wait "$bench_pid" || fail "$1: roller_bench failed: $(tail -n 3 "$dir/bench.err")"
  bench_pid=
  # simavr stops the AVR on a crash as on a watchdog timeout, and the bench
  # resets it either way; a crash may also jump to address 0: none of these
  # may happen in a session.
  grep -q ", 0 by the watchdog" "$dir/bench.err" && grep -q " 0 jumps to address 0" "$dir/bench.err" ||
    fail "$1: the firmware was reset by its watchdog or crashed: $(tail -n 2 "$dir/bench.err")"
  sleep 0.5
  stop_daemon
  [ "$(summary rejected)" -le "${max_rejected:-0}" ] && [ "$(summary linklost)" = 0 ] ||
    fail "$1: frames rejected or lost: $(grep 'received .* samples' "$log")"
  # Every sample the firmware sent reached rollmapd, to the session's end.
  local sent
  sent=$(sed -nE 's/^frames: .* ([0-9]+) samples$/\1/p' "$dir/bench.err")
  [ "$(summary received)" = "$sent" ] ||
    fail "$1: the firmware sent $sent samples, rollmapd received $(summary received)"
  local file
  file=$(find "$dir/lib" -name '*.rms')
  [ -n "$file" ] || fail "$1: no session file"
  "$ROLLMAP" report "$file" -o "$dir/report" >/dev/null 2>"$dir/report.err" ||
    fail "$1: rollmap report: $(cat "$dir/report.err")"
}

pause_host=3 run_session seed1000 "seed=1000,duration=240,spots=2"
for seed in 8919 16838; do
  run_session "seed$seed" "seed=$seed,duration=240,spots=2"
done

python3 - "$work" <<'PY' || fail "spots or marks not found"
import json, pathlib, re, sys
work = pathlib.Path(sys.argv[1])
true_n = found_n = 0
for d in sorted(work.glob("seed*")):
    truth = json.load(open(d / "truth.json"))
    report = json.load(open(d / "report" / "report.json"))
    found = [s["position_cm"] for s in report["tender_spots"]]
    for spot in truth["spots"]:
        if spot["severity"] >= 0.3:
            true_n += 1
            found_n += any(abs(spot["position_cm"] - f) <= 3 for f in found)
    marks = [(m["t_s"], m["position_cm"]) for m in report["marks"]]
    # The session's clock starts at its first sample; the person's at the
    # firmware's boot. How long before the first sample the emulator ran
    # depends on when rollmapd started the stream, so the bench says it.
    first = float(re.search(r"first sample at ([0-9.]+) s", (d / "bench.err").read_text())[1])
    for m in truth["marks"]:
        near = [p for t, p in marks if abs(t - (m["t_s"] - first)) <= 0.5]
        if not near or abs(near[0] - m["position_cm"]) > 3:
            sys.exit(f"{d.name}: the mark at {m['t_s'] - first:.1f} s, {m['position_cm']:.1f} cm "
                     f"is not in the report (marks: {marks})")
    if report["device"]["model"] != "rollmap DIY roller":
        sys.exit(f"{d.name}: the session's device is {report['device']['model']}")
recall = found_n / true_n
print(f"spot recall {recall:.2f} ({found_n} of {true_n})")
if recall < 0.9:
    sys.exit(1)
PY

# A power-on reset 20 s into a session: recorded as a device reset, and the
# session goes on to the end.
# The reset may cut the frame the UART is sending (its start depends on
# when rollmapd's START arrived): that one torn frame is rejected, as it
# would be from a real board losing power.
max_rejected=1 run_session reset "seed=5,duration=40,spots=1" --reset-at 20
grep -q "2 boots" "$work/reset/bench.err" || fail "the bench saw no second boot: $(cat "$work/reset/bench.err")"
grep -q "gap in the stream (device-reset)" "$work/reset/rollmapd.log" ||
  fail "rollmapd did not log the device reset"
"$ROLLMAP" info "$(find "$work/reset/lib" -name '*.rms')" >"$work/reset/info.txt"
grep -q " device-reset$" "$work/reset/info.txt" || fail "the session has no reset: $(cat "$work/reset/info.txt")"
python3 - "$work/reset/report/report.json" <<'PY' || fail "the session stopped at the reset"
import json, sys
duration = json.load(open(sys.argv[1]))["summary"]["duration_s"]
sys.exit(0 if duration > 35 else f"the session lasted {duration} s")
PY

# The rate from rollmap (docs/man/rollmap-rate.1): 10, then 80; a rate the
# firmware lacks is refused, and it keeps its rate; INFO, `rollmap status`
# and the next session's header carry the rate.
dir=$work/rate
mkdir -p "$dir"
"$bench" --link "$dir/roller" --sim "seed=7,duration=120,spots=1" --speed 1 \
  "$elf" >/dev/null 2>"$dir/bench.err" &
bench_pid=$!
wait_link "$dir"
lib=$dir/lib
log=$dir/rollmapd.log
start_daemon "tty:$dir/roller" --set session.auto=false
wait_log "device .* channels" 20
device_rate() {
  "$ROLLMAP" status --socket "$sock" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["device"].get("sample_rate_hz"))'
}
for rate in 10 80; do
  "$ROLLMAP" rate "$rate" --socket "$sock" >/dev/null 2>"$dir/err" || fail "rate $rate: $(cat "$dir/err")"
  for _ in $(seq 50); do [ "$(device_rate)" = "$rate" ] && break; sleep 0.1; done
  [ "$(device_rate)" = "$rate" ] || fail "status says $(device_rate) Hz after rate $rate"
done
if "$ROLLMAP" rate 50 --socket "$sock" 2>"$dir/err"; then fail "the firmware took 50 Hz"; fi
grep -q "refused 50 samples a second (rates: 10 and 80 a second)" "$dir/err" || fail "rate 50: $(cat "$dir/err")"
[ "$(device_rate)" = 80 ] || fail "status says $(device_rate) Hz after a refused rate"
request '{"cmd":"start"}' | grep -q '"class":"OK"' || fail "start refused"
sleep 2
request '{"cmd":"stop"}' | grep -q '"class":"OK"' || fail "stop refused"
stop_daemon
kill "$bench_pid" 2>/dev/null || true
bench_pid=
"$ROLLMAP" info "$(find "$dir/lib" -name '*.rms')" >"$dir/info.txt" || fail "rollmap info: the rate session"
grep -q "^rate  *80 Hz nominal" "$dir/info.txt" || fail "the session's rate: $(grep rate "$dir/info.txt")"

echo "ok: firmware in simavr -> rollmapd -> report: spots and marks found, commands answered, reset recorded, rate set from rollmap"
