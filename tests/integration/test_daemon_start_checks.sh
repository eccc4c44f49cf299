#!/usr/bin/env bash
# A sim: source whose options are each valid but not together (16 pressure
# cells + 2 load cells = 18 channels) is refused when the configuration is
# read: at start, and at a reload that keeps the running one. A start
# while no device answers is refused, never answered OK without a session.
source "$(dirname "$0")/daemon_lib.sh"

bad_source="sim:pressure_cells=16"

rc=0
"$ROLLMAPD" --foreground --source "$bad_source" --socket "$sock" --library "$lib" \
  2>"$work/start.txt" || rc=$?
[ "$rc" != 0 ] || fail "rollmapd started with $bad_source"
grep -q "pressure_cells is 18, must be 1..16" "$work/start.txt" ||
  fail "the start error does not name the channel count: $(cat "$work/start.txt")"

conf=$work/rollmapd.conf
printf '[device]\nsource = sim:seed=1,duration=600\n[session]\nauto = false\n' >"$conf"
"$ROLLMAPD" --foreground --config "$conf" --socket "$sock" --library "$lib" 2>>"$log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
wait_log "device .* channels" 5
printf '[device]\nsource = %s\n[session]\nauto = false\n' "$bad_source" >"$conf"
kill -HUP "$daemon_pid"
wait_log "reload: .*keeping the running configuration" 10
grep -q "reload: .*pressure_cells is 18" "$log" || fail "the reload error does not name the channel count"
"$ROLLMAP" record start --socket "$sock" >"$work/record.txt" 2>&1 ||
  fail "record start after the refused reload: $(cat "$work/record.txt")"
grep -q "recording session 20" "$work/record.txt" ||
  fail "record start named no session: $(cat "$work/record.txt")"
stop_daemon

# A serial port that does not exist: the source is retried, no device.
: >"$log"
start_daemon "serial:$work/no-such-tty"
rc=0
"$ROLLMAP" record start --socket "$sock" >"$work/record.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "record start without a device exited $rc: $(cat "$work/record.txt")"
grep -q "no device after 3 s on serial:$work/no-such-tty" "$work/record.txt" ||
  fail "record start without a device said: $(cat "$work/record.txt")"
[ "$(status session.recording)" = False ] || fail "a session is pending after the refused start"
stop_daemon
echo "ok: bad sim combination refused at start and reload; start without a device refused"
