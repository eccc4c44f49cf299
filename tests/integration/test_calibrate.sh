#!/usr/bin/env bash
# rollmap calibrate against a text-mode (HX711) device on a real pty,
# answered like a person: the device keeps streaming while the prompt
# waits, so the first lines read after Enter are the old load. The saved
# gain must be the device's (about 0.000265 N/count), the measured counts
# and the fit's residual shown, and a load that never rests refused.
set -euo pipefail
: "${ROLLMAP:?}" "${ROLLMAP_SOURCE:?}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
device=$ROLLMAP_SOURCE/tests/integration/hx711_device.py
profile=$ROLLMAP_SOURCE/docs/profiles/hx711-arduino.ini

echo "== known weights after a backlog of the old load"
python3 "$device" "$ROLLMAP" "$profile" steady --weight 10 --weight 20 \
    --seconds 1 --dir "$work/cal" >"$work/out" 2>"$work/err" ||
    fail "calibrate failed: $(cat "$work/err")"
cat "$work/out"
grep -q "measured (counts): ch0 8000.0 ch1 -1000.0" "$work/out" ||
    fail "the empty roller's counts are not shown"
grep -q "residual [0-9.]* N rms" "$work/out" || fail "no residual shown"
python3 - "$work/cal/diy-hx711-01.ini" <<'PY'
import configparser, sys
ini = configparser.ConfigParser()
ini.read(sys.argv[1])
for ch in ("channel0", "channel1"):
    gain = float(ini[ch]["c1"])
    assert abs(gain - 0.000265) < 0.000265 * 0.02, "%s: %g N/count" % (ch, gain)
PY

echo "== a load that never comes to rest is reported, nothing saved"
status=0
python3 "$device" "$ROLLMAP" "$profile" wobble --weight 10 --seconds 1 \
    --dir "$work/wobble" >"$work/out" 2>"$work/err" || status=$?
[ "$status" = 1 ] || fail "wobbling load: exit $status"
grep -q "did not settle within 20 s" "$work/err" || fail "no settling message: $(cat "$work/err")"
[ ! -e "$work/wobble/diy-hx711-01.ini" ] || fail "saved a calibration of a moving load"
echo PASS
