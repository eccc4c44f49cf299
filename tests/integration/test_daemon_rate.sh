#!/usr/bin/env bash
# The device's rate set from rollmap and the live socket (docs/LIVE.md,
# "rate"), on the virtual roller: a source's ?rate=N is set at connect,
# `rollmap rate N` between sessions reaches the device, `rollmap status`
# and the next session's header; a rate the roller lacks is refused with
# the rates it has, and so is any change while a session is open.
source "$(dirname "$0")/daemon_lib.sh"

device_rate() {
  "$ROLLMAP" status --socket "$sock" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["device"].get("sample_rate_hz"))'
}

# wait_rate HZ: the daemon's device info has the rate (the consumer thread
# takes the new INFO a moment after the answer).
wait_rate() {
  for _ in $(seq 50); do
    [ "$(device_rate)" = "$1" ] && return 0
    sleep 0.1
  done
  fail "status still says $(device_rate) Hz, not $1 Hz"
}

start_daemon "sim:seed=3,duration=60?rate=200" --set session.auto=false
wait_log "device .* channels at 200 Hz" 10
wait_rate 200

"$ROLLMAP" rate 500 --socket "$sock" >"$work/out" 2>&1 || fail "rate 500: $(cat "$work/out")"
grep -q "500 samples a second" "$work/out" || fail "rate 500 printed: $(cat "$work/out")"
wait_rate 500

if "$ROLLMAP" rate 5000 --socket "$sock" 2>"$work/err"; then
  fail "rate 5000 was accepted"
fi
grep -q "refused 5000 samples a second (rates: 10 to 4000 a second)" "$work/err" ||
  fail "rate 5000: $(cat "$work/err")"
wait_rate 500

# usage_error ARGS...: rate, status and live refuse a bad option the same way
usage_error() {
  for cmd in rate status live; do
    status=0
    "$ROLLMAP" "$cmd" "$@" >"$work/out" 2>&1 || status=$?
    [ "$status" -eq 2 ] || fail "$cmd $*: exit status $status, not 2 (a usage error)"
    head -n 1 "$work/out" | grep -Eq "^rollmap $cmd: $expected" ||
      fail "$cmd $*: $(cat "$work/out")"
  done
}
expected="--socket: longer than 107 characters"
usage_error --socket "/tmp/$(printf 'x%.0s' $(seq 120))"
expected="option '--bogus' is unknown or lacks its value"
usage_error --bogus
grep -q "^usage: rollmap live" "$work/out" || fail "no usage after the bad option"

request '{"cmd":"start"}' | grep -q '"class":"OK"' || fail "start refused"
answer=$(request '{"cmd":"rate","value":100}')
grep -q 'keeps its rate; stop it first' <<<"$answer" || fail "a rate change while recording: $answer"
sleep 1
request '{"cmd":"stop"}' | grep -q '"class":"OK"' || fail "stop refused"
answer=$(request '{"cmd":"rate"}')
grep -q "'value' is missing" <<<"$answer" || fail "rate without a value: $answer"
stop_daemon

file=$(session_files)
"$ROLLMAP" info "$file" >"$work/info.txt" || fail "rollmap info $file"
grep -q "^rate  *500 Hz nominal" "$work/info.txt" || fail "the session's rate: $(grep rate "$work/info.txt")"
grep -q "device rate set to 500 samples a second" "$log" || fail "rollmapd did not log the change"

echo "ok: rate set at connect and between sessions, refusals say why"
