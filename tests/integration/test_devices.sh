#!/usr/bin/env bash
# rollmap devices and rollmap calibrate with real programs: the listing in
# text and JSON, stored calibrations with their age, calibration against
# the virtual roller in-process, from a capture file and through a real pty
# from `rollmap simulate --pty`, and clear errors for bad input.
set -euo pipefail
: "${ROLLMAP:?}"

work=$(mktemp -d)
sim_pid=
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
export XDG_DATA_HOME=$work/data
store=$work/data/rollmap/calibration

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_fail CODE PATTERN command...: exit status CODE, stderr matches.
expect_fail() {
    local code=$1 pattern=$2 rc=0
    shift 2
    "$@" >"$work/out" 2>"$work/err" || rc=$?
    [ "$rc" = "$code" ] || fail "$* exited $rc, expected $code ($(cat "$work/err"))"
    grep -q -- "$pattern" "$work/err" || fail "$*: stderr lacks '$pattern': $(cat "$work/err")"
}

echo "== devices: listing without probing, text and JSON"
"$ROLLMAP" devices --no-probe >"$work/devices.txt"
grep -q "^Serial ports" "$work/devices.txt" || fail "no port section"
grep -q "Stored calibrations in $store (0)" "$work/devices.txt" || fail "no calibration section"
"$ROLLMAP" devices --no-probe --json >"$work/devices.json"
python3 - "$work/devices.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["probed"] is False, d
assert isinstance(d["ports"], list)
assert d["calibrations"] == [] and d["stale_days"] == 180, d
PY

echo "== calibrate: the virtual roller in-process"
# The virtual roller is a person rolling, never a weight at rest: known
# weights on it are refused (test_calibrate.sh has a real weight device).
expect_fail 1 "did not settle within 20 s" \
    "$ROLLMAP" calibrate "sim:seed=5,duration=60?fast" --weight 10 --weight 20 \
    --seconds 1 --yes
grep -q "place 10 kg" "$work/out" || fail "no prompt for 10 kg"
[ ! -e "$store" ] || [ -z "$(ls "$store")" ] || fail "a refused calibration was saved"
"$ROLLMAP" calibrate "sim:seed=5,duration=60?fast" --tare --seconds 1 --yes \
    >"$work/cal.txt"
cat "$work/cal.txt"
grep -q "^channel 0: tare" "$work/cal.txt" || fail "no tare for channel 0"
saved=$(sed -n 's/^saved //p' "$work/cal.txt")
[ -f "$saved" ] || fail "calibration file $saved missing"
grep -q "^serial = SIM-" "$saved" || fail "no serial in $saved"
grep -q "^date = $(date -u +%Y-%m-%d)" "$saved" || fail "no date of today in $saved"

echo "== calibrate: answers on standard input, then stdin ends too early"
printf '\n\n' | "$ROLLMAP" calibrate "sim:seed=6,duration=60?fast" --weight 5 \
    --seconds 1 --dir "$work/interactive" >"$work/prompted.txt" 2>/dev/null &&
    fail "a person rolling was taken for 5 kg at rest"
grep -q "place 5 kg centred on the roller, then press Enter" "$work/prompted.txt" ||
    fail "no interactive prompt"
expect_fail 1 "no answer on standard input" \
    "$ROLLMAP" calibrate "sim:seed=6,duration=60?fast" --weight 5 --dir "$work/x" </dev/null

echo "== calibrate: a trigger-point ball and a probe (no encoder)"
"$ROLLMAP" calibrate "sim:kind=ball,seed=2,duration=30?fast" --tare --seconds 1 \
    --yes --dir "$work/ball" >"$work/ball.txt"
grep -q "^channel 0: tare" "$work/ball.txt" || fail "no tare for the ball"
# The person presses the probe while it expects 2 kg: the fitted gain is
# nothing like the channel's, and it says so instead of saving it.
expect_fail 1 "channel 0: the fit gives .* N/count, .* the channel's nominal 0.005 N/count: not saved" \
    "$ROLLMAP" calibrate "sim:kind=probe,seed=3,duration=30?fast" --weight 2 \
    --seconds 1 --yes --dir "$work/probe"
grep -q "place 2 kg centred on the probe" "$work/out" || fail "prompt does not name the probe"
grep -q "^  measured (counts): ch0 " "$work/out" || fail "measured counts not shown"
[ ! -e "$work/probe" ] || [ -z "$(ls "$work/probe")" ] || fail "an implausible fit was saved"

echo "== calibrate: a raw capture replayed from a file"
"$ROLLMAP" simulate --seed 8 --duration 20 --out "$work/capture.bin"
"$ROLLMAP" calibrate "file:$work/capture.bin?fast" --tare --seconds 2 --yes \
    --dir "$work/fromfile" >"$work/tare.txt"
grep -q "^channel 0: tare" "$work/tare.txt" || fail "no tare from the capture"
ls "$work/fromfile"/SIM-*.ini >/dev/null || fail "no calibration saved from the capture"

echo "== calibrate: the same capture on standard input"
"$ROLLMAP" calibrate - --tare --seconds 2 --yes --dir "$work/fromstdin" \
    <"$work/capture.bin" >"$work/stdin.txt"
cmp <(grep '^channel' "$work/tare.txt") <(grep '^channel' "$work/stdin.txt") ||
    fail "standard input and file: gave different tares"
expect_fail 1 "ended before the device's INFO" \
    "$ROLLMAP" calibrate - --tare --yes --dir "$work/x" </dev/null

echo "== calibrate: through a real pty from rollmap simulate --pty"
# A ball rests between presses, so the tare finds the unloaded reading.
"$ROLLMAP" simulate --pty --link "$work/roller" --seed 9 --duration 60 --set kind=ball \
    >"$work/pty.txt" 2>&1 &
sim_pid=$!
for _ in $(seq 50); do [ -e "$work/roller" ] && break; sleep 0.1; done
[ -e "$work/roller" ] || fail "simulate --pty made no link: $(cat "$work/pty.txt")"
"$ROLLMAP" calibrate "tty:$work/roller" --tare --seconds 1 --yes \
    --dir "$work/frompty" >"$work/ptytare.txt"
cat "$work/ptytare.txt"
grep -q "^channel 0: tare" "$work/ptytare.txt" || fail "no tare through the pty"
kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; sim_pid=

echo "== a port another program holds: busy, and who to ask"
# TIOCEXCL makes a second open fail with EBUSY for anyone but root.
python3 - "$ROLLMAP" "$work/busy" >"$work/busy.txt" <<'PY' || fail "busy port: $(cat "$work/busy.txt")"
import fcntl, os, pty, subprocess, sys, termios
master, slave = pty.openpty()
name = os.ttyname(slave)
os.chmod(name, 0o666)
fcntl.ioctl(slave, termios.TIOCEXCL)
r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "env", "XDG_DATA_HOME=" + sys.argv[2], sys.argv[1], "calibrate",
                    "tty:" + name, "--tare", "--yes"], capture_output=True, text=True)
print(r.stderr)
assert r.returncode == 1, r.returncode
assert "cannot open: Device or resource busy; another program holds the port" in r.stderr
PY

echo "== devices: stored calibrations with their age; old ones are stale"
cat >"$store/OLD-1.ini" <<'INI'
[device]
serial = OLD-1
model = RM-1
channels = 1
date = 2020-01-01T00:00:00Z
date_unix = 1577836800
[channel0]
tare_counts = 0
c0 = 0
c1 = 0.01
c2 = 0
c3 = 0
INI
"$ROLLMAP" devices --no-probe >"$work/devices.txt"
cat "$work/devices.txt"
grep -q "OLD-1 .*STALE" "$work/devices.txt" || fail "old calibration not flagged stale"
grep "SIM-" "$work/devices.txt" | grep -q -v STALE || fail "today's calibration flagged stale"
"$ROLLMAP" devices --no-probe --json --stale-days 100000 >"$work/devices.json"
python3 - "$work/devices.json" <<'PY'
import json, sys
cals = {c["serial"]: c for c in json.load(open(sys.argv[1]))["calibrations"]}
old = cals["OLD-1"]
assert old["stale"] is False and old["age_days"] > 365, old
assert old["date"] == "2020-01-01T00:00:00Z", old
assert any(s.startswith("SIM-") and c["age_days"] == 0 for s, c in cals.items()), cals
PY

echo "== errors name what is wrong"
expect_fail 2 "unknown source 'bogus:x'" "$ROLLMAP" calibrate bogus:x --tare
expect_fail 2 "baud rate 'fast'" "$ROLLMAP" calibrate serial:/dev/ttyACM0@fast --tare
expect_fail 1 "$work/missing.bin: cannot open" "$ROLLMAP" calibrate "file:$work/missing.bin" --tare --yes
expect_fail 1 "tty:/dev/rollmap-none" "$ROLLMAP" calibrate serial:/dev/rollmap-none --tare --yes
expect_fail 2 "--cubic needs at least 3 weights" "$ROLLMAP" calibrate auto --weight 1 --cubic
expect_fail 2 "nothing to do" "$ROLLMAP" calibrate auto
expect_fail 2 "--weight 'ten'" "$ROLLMAP" calibrate auto --weight ten
expect_fail 1 "/dev/null: cannot hold the calibration folder" \
    "$ROLLMAP" calibrate "sim:seed=1,duration=30?fast" --tare --yes --dir /dev/null/cal
grep -q "remove everything" "$work/out" && fail "measured before finding the folder unusable"
expect_fail 2 "--stale-days 'x'" "$ROLLMAP" devices --stale-days x
expect_fail 2 "USB id 'zz:1'" "$ROLLMAP" devices --usb-id zz:1
# A stored calibration that does not fit the device is refused, not used.
capture_serial=$(basename "$(ls "$work/fromfile"/SIM-*.ini)" .ini)
mkdir -p "$work/mismatch"
sed "s/OLD-1/$capture_serial/" "$store/OLD-1.ini" >"$work/mismatch/$capture_serial.ini"
expect_fail 1 "stored for 1 channels" "$ROLLMAP" calibrate "file:$work/capture.bin?fast" \
    --tare --seconds 1 --yes --dir "$work/mismatch"
echo "test_devices: ok"
