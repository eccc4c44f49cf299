#!/usr/bin/env bash
# rollmapd on an emulated USB CDC-ACM roller (umockdev): it finds the board
# by usb:VID:PID:SERIAL through libserialport, records a session on its
# own once the roller is loaded, notices the unplug, takes the replug at
# once through libusb hotplug (its back-off is set to 10 s, so only the
# hotplug arrival can explain a quick reconnect) and resumes the same
# session with one unplugged gap; rollmap status flags the roller's stored
# calibration, 400 days old, as stale. rollmapd runs as a child of the driver
# (tests/umockdev/umockdev_roller.c --daemon), inside the driver's testbed.
# Exit 77 (skipped) only when umockdev cannot work in this environment.
set -euo pipefail
: "${ROLLMAP:?}" "${ROLLMAPD:?}" "${ROLLMAP_BUILD:?}" "${ROLLMAP_SOURCE:?}"

untested="rollmapd on the emulated USB roller"
source "$ROLLMAP_SOURCE/tests/umockdev/umockdev_lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config
log=$work/rollmapd.log

fail() {
    echo "FAIL: $*" >&2
    echo "--- rollmapd log (last lines):" >&2
    tail -n 30 "$log" >&2 || true
    exit 1
}

echo "== rollmapd under the emulated roller: plug, unplug, replug"
LD_PRELOAD="$shim:libumockdev-preload.so.0" \
    "$driver" --daemon "$description" "$ROLLMAPD" "$work" &
driver_pid=$!

# While it records: the calibration the driver stored 400 days ago is
# applied but flagged stale (the limit is 180 days), in both forms.
for _ in $(seq 150); do
    grep -q "started (load detected)" "$log" 2>/dev/null && break
    sleep 0.1
done
"$ROLLMAP" status --socket "$work/rollmapd.sock" >"$work/status.txt" ||
    fail "rollmap status failed"
"$ROLLMAP" status --socket "$work/rollmapd.sock" --json >"$work/status.json" ||
    fail "rollmap status --json failed"
cat "$work/status.txt"

rc=0
wait "$driver_pid" || rc=$?
[ "$rc" = 77 ] && skip "umockdev cannot emulate the roller here"
[ "$rc" = 0 ] || fail "the driver reported failures (exit $rc)"

grep -Eq "^calibration: stale, made [0-9-]{10} \(400 days ago\): .*180" "$work/status.txt" ||
    fail "rollmap status does not flag the stale calibration: $(cat "$work/status.txt")"
python3 - "$work/status.json" <<'PY' || fail "rollmap status --json: $(cat "$work/status.json")"
import json, sys
cal = json.load(open(sys.argv[1]))["device"]["calibration"]
assert cal["state"] == "stale" and cal["age_days"] == 400, cal
assert "180" in cal["problem"], cal
PY
grep -q "stored calibration applied but stale" "$log" ||
    fail "rollmapd did not log the stale calibration"

grep -q "hotplug: libusb" "$log" || fail "rollmapd did not watch libusb hotplug"
grep -q "resumed after" "$log" || fail "the session was not resumed after the replug"

mapfile -t files < <(find "$work/library" -name '*.rms' | sort)
[ "${#files[@]}" = 1 ] || fail "expected one session file, found ${#files[@]}: ${files[*]}"
"$ROLLMAP" info --json "${files[0]}" >"$work/info.json" ||
    fail "rollmap info cannot read ${files[0]}"
python3 - "$work/info.json" <<'PY' || fail "the session does not show the plug-unplug-replug"
import json, sys
info = json.load(open(sys.argv[1]))
def find(obj, key):
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            r = find(v, key)
            if r is not None:
                return r
    return None
print(json.dumps(info, indent=1)[:1500])
samples = find(info, "samples")
gaps = find(info, "gaps")
assert isinstance(gaps, list), "no gaps list in rollmap info --json"
unplugged = [g for g in gaps if g.get("reason") == "unplugged"]
assert len(unplugged) == 1, f"{len(unplugged)} unplugged gaps: {gaps}"
# Two plug-ins of 4 s at 1 kHz; the session starts once the roller is
# loaded, so it holds most, not all, of the 8000 samples.
assert isinstance(samples, int) and samples > 4000, f"only {samples} samples"
print(f"ok: one session, {samples} samples, gaps {gaps}")
PY
echo "ok: rollmapd recorded, lost and resumed the umockdev roller's session"
