#!/usr/bin/env bash
# SIGHUP applies a new source, socket and database: the running session is
# closed and indexed where it was recorded, the new socket answers and the
# old one is gone, later sessions go to the new database; a source that
# does not parse, or a socket or database that cannot be opened, leaves
# that part running as it was.
source "$(dirname "$0")/daemon_lib.sh"

conf=$work/rollmapd.conf
sock_a=$work/a/rollmapd.sock
sock_b=$work/b/rollmapd.sock
db_a=$work/a.db
db_b=$work/b.db

# write_conf SOURCE SOCKET DATABASE: the whole configuration. Sessions are
# explicit only, so that each one is the test's.
write_conf() {
  printf '[device]\nsource = %s\n[session]\nauto = false\nlibrary = %s\ndatabase = %s\n[socket]\npath = %s\n[log]\nlevel = debug\n' \
    "$1" "$lib" "$3" "$2" >"$conf"
}

# Not start_daemon: its --source and --socket would win over the file.
write_conf "sim:seed=1,duration=600" "$sock_a" "$db_a"
"$ROLLMAPD" --foreground --config "$conf" 2>>"$log" &
daemon_pid=$!
for _ in $(seq 100); do
  [ -S "$sock_a" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "rollmapd exited at start"
  sleep 0.1
done
[ -S "$sock_a" ] || fail "rollmapd never opened $sock_a"

# status_of SOCKET FIELD: one line of `rollmap status` ("source").
status_of() {
  "$ROLLMAP" status --socket "$1" >"$work/status.txt" 2>&1 ||
    fail "rollmap status --socket $1: $(cat "$work/status.txt")"
  sed -nE "s/^$2: +//p" "$work/status.txt"
}

# in_library DB ID: whether the session is in that database.
in_library() {
  "$ROLLMAP" library list --db "$1" --json >"$work/list.txt" 2>&1 ||
    fail "rollmap library list --db $1: $(cat "$work/list.txt")"
  grep -q -- "\"session_id\": \"$2\"" "$work/list.txt"
}

wait_log "device .* channels" 5
first=$("$ROLLMAP" record start --socket "$sock_a" --client C-1 | sed -nE 's/^recording session (.*)/\1/p')
[ -n "$first" ] || fail "record start on $sock_a named no session"
sleep 1

write_conf "sim:seed=2,duration=600" "$sock_b" "$db_b"
kill -HUP "$daemon_pid"
wait_log "configuration reloaded" 10
wait_log "session library: .*$first.rms is session" 10
[ -e "$sock_a" ] && fail "the old socket $sock_a is still there"
[ -S "$sock_b" ] || fail "no socket at $sock_b after the reload"
[ "$(status_of "$sock_b" source)" = "sim:seed=2,duration=600" ] ||
  fail "status on $sock_b reports source '$(status_of "$sock_b" source)'"
samples=$(info_field "$lib/$first.rms" samples)
[ "${samples:-0}" -gt 0 ] || fail "the first session has no samples"
in_library "$db_a" "$first" || fail "the first session is not in $db_a"

wait_log "device .* channels" 5
second=$("$ROLLMAP" record start --socket "$sock_b" | sed -nE 's/^recording session (.*)/\1/p')
[ -n "$second" ] || fail "record start on $sock_b named no session"
sleep 1
"$ROLLMAP" record stop --socket "$sock_b" >/dev/null || fail "record stop on $sock_b failed"
wait_log "session library: .*$second.rms is session" 10
in_library "$db_b" "$second" || fail "the session after the reload is not in $db_b"
in_library "$db_a" "$second" && fail "the session after the reload went to $db_a"

# Same source, a socket and a database that cannot be opened: both are
# kept, and the session recording goes on.
third=$("$ROLLMAP" record start --socket "$sock_b" | sed -nE 's/^recording session (.*)/\1/p')
write_conf "sim:seed=2,duration=600" "$conf/x.sock" "$conf/c.db"
kill -HUP "$daemon_pid"
wait_log "reload: socket $conf/x.sock: .*still listening on $sock_b" 5
wait_log "reload: session library: .*sessions still go to $db_b" 5
[ "$(grep -c "reload: new source" "$log")" = 1 ] || fail "an unchanged source restarted the capture"
status_of "$sock_b" session | grep -q "recording $third" ||
  fail "the session $third did not survive the reload: $(cat "$work/status.txt")"

write_conf "sim:nonsense=1" "$sock_b" "$db_b"
kill -HUP "$daemon_pid"
wait_log "reload: .*sim:nonsense=1.*'nonsense': unknown key.*keeping the running" 5
kill -0 "$daemon_pid" || fail "rollmapd died on a broken source"
[ "$(status_of "$sock_b" source)" = "sim:seed=2,duration=600" ] ||
  fail "after a broken reload the source is '$(status_of "$sock_b" source)'"
stop_daemon
echo "ok: reload closed $first into $db_a, moved to $sock_b, recorded $second into $db_b, kept running on a broken source"
