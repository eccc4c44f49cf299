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
