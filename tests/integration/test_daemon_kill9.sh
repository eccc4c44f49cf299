#!/usr/bin/env bash
# kill -9 in the middle of a session: the file still opens and holds at
# least every sample recorded one flush interval before the kill.
source "$(dirname "$0")/daemon_lib.sh"

start_daemon "sim:seed=9,duration=60" --set session.flush_interval_ms=200
wait_log "session .* started" 15
sleep 2
before=$(status session.samples)
[ "$before" -gt 0 ] || fail "no samples recorded after 2 s"
sleep 1  # five flush intervals
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=

file=$(session_files)
[ -n "$file" ] || fail "no session file after the kill"
count=$(info_field "$file" samples)
[ -n "$count" ] || fail "rollmap info shows no sample count: $(cat "$work/info.txt")"
[ "$count" -ge "$before" ] || fail "the file holds $count samples, $before were recorded a second before the kill"
echo "ok: $count samples survive the kill ($before recorded 1 s before it)"

# Started again, rollmapd closes the session the killed one left open and
# adds it to the library, and says so in its log.
sid=$(basename "$file" .rms)
start_daemon "sim:seed=9,duration=60" --set session.flush_interval_ms=200
wait_log "$file was never closed .* added it as session" 30
stop_daemon
"$ROLLMAP" library list --db "$work/library.db" --json >"$work/list.txt" \
    || fail "library list failed: $(cat "$work/list.txt")"
grep -q -- "\"session_id\": *\"$sid\"" "$work/list.txt" || fail "the killed session is not in the library: $(cat "$work/list.txt")"
"$ROLLMAP" info "$file" >"$work/info.txt" 2>&1 || fail "rollmap info: $(cat "$work/info.txt")"
grep -q "^closed *cleanly" "$work/info.txt" || fail "the killed session was not closed: $(cat "$work/info.txt")"
echo "ok: the killed session $sid was closed and added at the next start"
