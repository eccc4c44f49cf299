#!/usr/bin/env bash
# Bit errors on the wire (rate 1e-3): rollmapd rejects and counts the
# corrupted frames, records every good one with lost-frame gaps, and does
# not crash.
source "$(dirname "$0")/daemon_lib.sh"

# One sample per frame and two load cells keep frames short enough that
# most of them (and the INFO frame, needed to identify) arrive intact.
start_daemon "sim:seed=5,duration=8,ber=0.001,batch=1,pressure_cells=0,load_cells=2" \
  --set session.idle_s=600
wait_log "ended (the source ended)" 30
kill -0 "$daemon_pid" || fail "rollmapd died on corrupted input"
stop_daemon

rejected=$(summary rejected); linklost=$(summary linklost)
[ "$rejected" -gt 0 ] || fail "no corrupted frame was counted"
received=$(summary received)
# 8 s at 1 kHz, one sample a frame: every frame is either delivered or
# counted lost by its sequence number (a few at the very end may be neither).
total=$((received + linklost))
[ "$total" -ge 7980 ] && [ "$total" -le 8010 ] ||
  fail "$received delivered + $linklost lost = $total, expected 8000 frames"; recorded=$(summary recorded); outside=$(summary outside)
[ "$(summary overflow)" = 0 ] || fail "ring overflow"
[ $((recorded + outside)) = "$received" ] || fail "received $received, recorded $recorded + outside $outside"
gaps=$(sed -nE 's/.*ended \(.*\): [0-9]+ samples, ([0-9]+) gaps.*/\1/p' "$log")
[ "$gaps" -gt 0 ] || fail "the lost frames left no gap in the session"
echo "ok: $rejected frames rejected, $received samples kept, $gaps gaps"

# The session file says the link was bad, with the daemon's own counts: the
# session holds what the decoder counted while it recorded, so the share
# of the rejected and lost frames that fell into it is about the share of
# the samples it recorded (bit errors come at a steady rate).
session=$(session_files | tail -n 1)
[ -n "$session" ] || fail "no session file in $lib"
"$ROLLMAP" info --json "$session" >"$work/info.json" || fail "rollmap info --json $session failed"
# A graph of a session this gappy may fail to draw (an error of its own,
# tested elsewhere); report.json is written before the graphs either way.
"$ROLLMAP" report "$session" -o "$work/report" >"$work/report.log" 2>&1 || true
[ -f "$work/report/report.json" ] || fail "no report.json: $(cat "$work/report.log")"
python3 - "$work/info.json" "$work/report/report.json" "$rejected" "$linklost" \
  "$recorded" "$received" <<'PY' || fail "the session's link figures do not match the daemon's"
import json, sys
info, report = (json.load(open(p)) for p in sys.argv[1:3])
rejected, linklost, recorded, received = map(int, sys.argv[3:7])
link = info["session"]["link"]
quality = report["quality"]
assert quality["link"] == link, (quality["link"], link)
assert quality["crc_errors"] == link["crc_errors"] > 0, (quality, link)
in_session = link["crc_errors"] + link["malformed"] + link["oversized"]
share = recorded / received
for name, got, total in (("rejected", in_session, rejected),
                         ("lost", link["frames_lost"], linklost)):
    expected = total * share
    assert got <= total, f"{name}: session {got} > daemon {total}"
    assert abs(got - expected) <= 0.2 * expected + 10, \
        f"{name}: session {got}, expected about {expected:.0f} of {total}"
print(f"ok: session link {link}, daemon {rejected} rejected, {linklost} lost")
PY
