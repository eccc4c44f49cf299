#!/usr/bin/env bash
# A second rollmapd on the same socket refuses to start with a clear
# message, and the first keeps running; SIGHUP re-reads the configuration.
source "$(dirname "$0")/daemon_lib.sh"

conf=$work/rollmapd.conf
printf '[session]\nidle_s = 30\n' >"$conf"
start_daemon "sim:seed=1,duration=60" --config "$conf"
rc=0
"$ROLLMAPD" --foreground --source "sim:seed=1" --socket "$sock" --library "$lib" \
  2>"$work/second.err" || rc=$?
[ "$rc" = 1 ] || fail "the second daemon exited with $rc, expected 1"
grep -q "already running on $sock" "$work/second.err" ||
  fail "unclear refusal: $(cat "$work/second.err")"
kill -0 "$daemon_pid" || fail "the first daemon died"
[ -S "$sock" ] || fail "the second daemon removed the first one's socket"

printf '[session]\nidle_s = soon\n' >"$conf"
kill -HUP "$daemon_pid"
wait_log "reload: .*rollmapd.conf:2: .*idle_s" 5
printf '[session]\nidle_s = 12\n' >"$conf"
kill -HUP "$daemon_pid"
wait_log "configuration reloaded" 5
stop_daemon
echo "ok: second daemon refused, reload errors named the line, reload applied"
