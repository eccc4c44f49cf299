#!/usr/bin/env bash
# rollmap live and rollmap status against a real live socket server
# (live_test_server: rm_server fed by the virtual roller in-process), then
# end to end against rollmapd itself.
# The live view runs in a real terminal: a private tmux server, driven with
# send-keys and read with capture-pane.
set -euo pipefail

: "${ROLLMAP:?}" "${ROLLMAPD:?}" "${ROLLMAP_BUILD:?}"
SERVER="$ROLLMAP_BUILD/tests/live_test_server"
if ! command -v tmux >/dev/null; then
    echo "test_live: tmux is not installed: skipped" >&2
    exit 77
fi

work=$(mktemp -d /tmp/rollmap-live-XXXXXX)
sock="$work/live.sock"
log="$work/commands.log"
# each view gets its own tmux server: a new session on a server that is
# still shutting down fails ("server exited unexpectedly")
views=0
tmux_sock="rollmap-live-$$-$views"
server_pid=
cleanup() {
    for ((i = 0; i <= views; i++)); do
        tmux -L "rollmap-live-$$-$i" kill-server 2>/dev/null || true
    done
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if tmux -L "$tmux_sock" has-session 2>/dev/null; then
        echo "--- screen ---" >&2
        tmux -L "$tmux_sock" capture-pane -p -t live >&2 || true
    fi
    exit 1
}

# Wait up to $1 seconds for command "$2..." to succeed.
wait_for() {
    local limit=$1
    shift
    local deadline=$((SECONDS + limit))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# $1: the simulated session's length (default a fast 300 s session with
# short holds, played four times faster than real time)
start_server() {
    rm -f "$sock"
    "$SERVER" --socket "$sock" --log "$log" --speed 4 \
        --sim "seed=7,duration=${1:-300},dwell_min=12,dwell_max=16" >"$work/server.out" 2>&1 &
    server_pid=$!
    wait_for 10 test -S "$sock" || fail "the test server did not start"
}

screen() { tmux -L "$tmux_sock" capture-pane -p -t live; }
screen_has() { screen | grep -q -- "$1"; }
log_has() { grep -qx -- "$1" "$log" 2>/dev/null; }

# Run rollmap live in a fresh 100x24 terminal; its exit status and the
# terminal modes after it go to files.
start_view() {
    rm -f "$work/exit" "$work/stty"
    tmux -L "$tmux_sock" kill-server 2>/dev/null || true
    views=$((views + 1))
    tmux_sock="rollmap-live-$$-$views"
    tmux -L "$tmux_sock" new-session -d -s live -x 100 -y 24 \
        "'$ROLLMAP' live --socket '$sock' $*; echo \$? >'$work/exit'; stty -a >'$work/stty'; sleep 60"
    wait_for 10 screen_has "Force" || fail "the live view did not draw"
}

keys() { tmux -L "$tmux_sock" send-keys -t live "$@"; }

terminal_restored() {
    wait_for 5 test -s "$work/stty" || fail "no terminal modes after exit"
    grep -qw icanon "$work/stty" || fail "canonical mode not restored"
    grep -qw echo "$work/stty" || fail "echo not restored"
}

start_server

# ---- rollmap status ------------------------------------------------------
out=$("$ROLLMAP" status --socket "$sock") || fail "status exited $?"
grep -q "^device: .*serial SIM-" <<<"$out" || fail "status shows no device: $out"
grep -q "^library: " <<<"$out" || fail "status shows no library: $out"
grep -q "1 client" <<<"$out" || fail "status does not count itself: $out"
"$ROLLMAP" status --socket "$sock" --json | grep -q '^{"class":"STATUS"' \
    || fail "status --json is not the STATUS line"
set +e
err=$("$ROLLMAP" status --socket "$work/none.sock" 2>&1)
rc=$?
set -e
[ "$rc" = 1 ] || fail "status without a daemon exited $rc, expected 1"
grep -q "rollmapd is not running" <<<"$err" || fail "unclear message: $err"

# ---- usage errors ----------------------------------------------------------
expect_usage_error() {
    local expected=$1
    shift
    set +e
    err=$("$ROLLMAP" "$@" 2>&1 >/dev/null)
    rc=$?
    set -e
    [ "$rc" = 2 ] || fail "rollmap $* exited $rc, expected 2"
    grep -qF -- "$expected" <<<"$err" || fail "rollmap $*: unclear message: $err"
}
expect_usage_error "rollmap live: --target-hold 'abc': expected a number" \
    live --target-hold abc
expect_usage_error "rollmap live: --target-speed '0': expected a number" \
    live --target-speed 0
expect_usage_error "rollmap live: option '--bogus' is unknown" live --bogus
expect_usage_error "rollmap status: unexpected argument 'now'" status now

# ---- the live view in a terminal -----------------------------------------
start_view --target-hold 12 --target-speed 1
screen_has "Pressure" || fail "no pressure bar"
wait_for 30 screen_has "[0-9] N$" || fail "no force value"
wait_for 30 screen_has "proximal |-*O-*| distal" || fail "no position marker"

keys m 7
wait_for 5 log_has "mark 7" || fail "m 7 did not reach the daemon"
wait_for 5 screen_has "7/10" || fail "the mark is not shown"
wait_for 5 screen_has "proximal |[-xO]*x[-xO]*| distal" || fail "the mark is not on the position bar"
keys m x
wait_for 5 log_has "mark 10" || fail "m x did not mark 10"
keys 3
wait_for 5 log_has "mark 3" || fail "a digit alone did not mark"
keys Space
wait_for 5 log_has "mark -1" || fail "a mark without a rating was not sent"

wait_for 60 screen_has "SLOW DOWN" || fail "no pace warning at 1 cm/s"
wait_for 120 screen_has "^Hold .*] *[0-9]* s / 12 s  holding" || fail "the hold timer never showed"
wait_for 60 screen_has "^Hold .*/ 12 s  DONE, move on" || fail "the hold target was never reached"
wait_for 60 screen_has "^held [0-9]* s at [0-9.]* cm" || fail "the end of the hold was not shown"

keys q
wait_for 5 test -s "$work/exit" || fail "q did not quit"
[ "$(cat "$work/exit")" = 0 ] || fail "q exited $(cat "$work/exit")"
terminal_restored

# ---- Ctrl-C --------------------------------------------------------------
start_view
keys C-c
wait_for 5 test -s "$work/exit" || fail "Ctrl-C did not quit"
[ "$(cat "$work/exit")" = 0 ] || fail "Ctrl-C exited $(cat "$work/exit")"
terminal_restored

# ---- the daemon goes away ------------------------------------------------
start_view
kill "$server_pid"
wait "$server_pid" || true
server_pid=
wait_for 5 test -s "$work/exit" || fail "the view did not notice the daemon left"
[ "$(cat "$work/exit")" = 1 ] || fail "daemon gone: exit $(cat "$work/exit"), expected 1"
screen_has "rollmapd went away" || fail "no message when the daemon left"
terminal_restored

# ---- the device falls silent ----------------------------------------------
start_server 8  # 2 s of real time, then no more samples
start_view
wait_for 15 screen_has "no samples for [0-9]* s: is the roller connected?" \
    || fail "a silent device is not pointed out"
keys q
wait_for 5 test -s "$work/exit" || fail "q did not quit"
kill "$server_pid"
wait "$server_pid" || true
server_pid=

# ---- end to end: the real rollmapd records the mark made in the view -----
# and the roller, unplugged at 20 s for 8 s, is said to be unplugged for
# as long as it is (not "no samples" once the event's message has gone)
lib="$work/library"
rm -f "$sock"
"$ROLLMAPD" --foreground --source "sim:seed=5,duration=120,unplug=20,unplug_for=8" --socket "$sock" \
    --library "$lib" >"$work/rollmapd.log" 2>&1 &
server_pid=$!
wait_for 10 test -S "$sock" || fail "rollmapd did not start: $(cat "$work/rollmapd.log")"
wait_for 10 sh -c "'$ROLLMAP' status --socket '$sock' | grep -q '^session:  recording'" \
    || fail "rollmapd is not recording: $("$ROLLMAP" status --socket "$sock" 2>&1)"
start_view
wait_for 30 screen_has "[0-9] N$" || fail "no force from rollmapd"
keys m 8
wait_for 5 screen_has "8/10" || fail "rollmapd did not announce the mark"
wait_for 25 screen_has "device unplugged: plug the roller in again" || fail "the unplug is not shown"
sleep 5
screen_has "device unplugged: plug the roller in again" || fail "the unplug is no longer shown"
wait_for 15 screen_has "[0-9] N$" || fail "no force after the replug"
kill -TERM "$server_pid"
wait "$server_pid" || fail "rollmapd exited $? on SIGTERM"
server_pid=
wait_for 5 test -s "$work/exit" || fail "the view did not notice rollmapd left"
[ "$(cat "$work/exit")" = 1 ] || fail "rollmapd gone: exit $(cat "$work/exit"), expected 1"
terminal_restored
"$ROLLMAP" info "$lib"/*.rms | grep -q "mark 8" \
    || fail "the mark is not in the session file: $("$ROLLMAP" info "$lib"/*.rms 2>&1)"

# ---- line output when stdout is not a terminal ---------------------------
start_server
"$ROLLMAP" live --socket "$sock" --rate 5 >"$work/lines" 2>&1 &
view=$!
wait_for 10 grep -qs "force=[0-9]" "$work/lines" || fail "no line output"
kill -INT "$view"
wait "$view" || fail "line mode did not exit 0 on SIGINT"
grep -q $'\033' "$work/lines" && fail "escape codes in line output"
echo "test_live: ok"
