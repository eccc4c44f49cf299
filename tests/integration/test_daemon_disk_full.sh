#!/usr/bin/env bash
# Write errors (a file size limit, as a full disk): rollmapd logs a clear
# error, the live view goes on, the file keeps what was written, and
# recording resumes when the limit is lifted.
source "$(dirname "$0")/daemon_lib.sh"

# A soft limit of 64 KiB on file size: the session file hits it after a few
# seconds, and prlimit can lift it later.
(ulimit -S -f 64; exec "$ROLLMAPD" --foreground --source "sim:seed=4,duration=60" \
  --socket "$sock" --library "$lib" --set session.flush_interval_ms=200 2>>"$log") &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
wait_log "cannot write session" 30
kill -0 "$daemon_pid" || fail "rollmapd died at the file size limit"
before=$(status samples_received)
sleep 1
after=$(status samples_received)
[ "$after" -gt "$before" ] || fail "samples stopped flowing after the write error"
prlimit --pid "$daemon_pid" --fsize=unlimited:unlimited
wait_log "recording resumed" 10
stop_daemon
grep -q "ended (recorder shut down)" "$log" || fail "the session was not closed cleanly"
file=$(session_files)
size=$(stat -c %s "$file")
[ "$size" -gt 65536 ] || fail "the file did not grow after the limit was lifted ($size bytes)"
count=$(info_field "$file" samples)
recorded=$(summary recorded)
[ "$count" = "$recorded" ] || fail "the file holds $count samples, $recorded were recorded"
echo "ok: write error logged, live view went on, recording resumed ($size bytes)"
