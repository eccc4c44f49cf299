# Shared by the test_daemon_*.sh scripts (sourced, not run by ctest): a
# rollmapd on the virtual roller in a temporary folder, a client for its
# live socket, and readers of its log.
set -euo pipefail
: "${ROLLMAPD:?set ROLLMAPD to the rollmapd program}" "${ROLLMAP:?set ROLLMAP}"

work=$(mktemp -d)
sock=$work/rollmapd.sock
lib=$work/library
log=$work/rollmapd.log
daemon_pid=

cleanup() {
  if [ -n "$daemon_pid" ]; then kill -9 "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- rollmapd log (last lines):" >&2
  tail -n 25 "$log" >&2 || true
  exit 1
}

# start_daemon SOURCE [rollmapd options...]: returns once the socket is up.
start_daemon() {
  "$ROLLMAPD" --foreground --source "$1" --socket "$sock" --library "$lib" \
    --set "session.database=$work/library.db" \
    --set log.level=debug "${@:2}" 2>>"$log" &
  daemon_pid=$!
  for _ in $(seq 100); do
    [ -S "$sock" ] && return 0
    kill -0 "$daemon_pid" 2>/dev/null || fail "rollmapd exited at start"
    sleep 0.1
  done
  fail "rollmapd never opened $sock"
}

# stop_daemon: SIGTERM, and the exit status must be 0.
stop_daemon() {
  kill -TERM "$daemon_pid"
  local rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=
  [ "$rc" = 0 ] || fail "rollmapd exited with status $rc after SIGTERM"
}

# wait_log PATTERN SECONDS: wait until the log has a line matching PATTERN.
wait_log() {
  for _ in $(seq $(($2 * 10))); do
    grep -q -- "$1" "$log" && return 0
    sleep 0.1
  done
  fail "the log never said '$1' within $2 s"
}

# request JSON: the daemon's answer to one request (SAMPLE/EVENT/NOTICE
# lines in between are skipped).
request() {
  python3 - "$sock" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
f = s.makefile("rw")
f.readline()  # VERSION
f.write(sys.argv[2] + "\n")
f.flush()
for line in f:
    if json.loads(line).get("class") not in ("SAMPLE", "EVENT", "NOTICE"):
        print(line.strip())
        break
PY
}

# status PATH.TO.FIELD: one field of the STATUS answer ("rates.samples_received").
status() {
  request '{"cmd":"status"}' | python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$1"
}

# summary WORD: a number from rollmapd's exit line
# ("received N samples: N recorded, N outside sessions, N lost to ring
# overflow; N frames rejected, N lost on the link").
summary() {
  local line
  line=$(grep "received .* samples:" "$log" | tail -n 1) || fail "no exit summary in the log"
  case $1 in
    received) sed -E 's/.*received ([0-9]+) samples.*/\1/' <<<"$line" ;;
    recorded) sed -E 's/.*: ([0-9]+) recorded.*/\1/' <<<"$line" ;;
    outside) sed -E 's/.* ([0-9]+) outside sessions.*/\1/' <<<"$line" ;;
    overflow) sed -E 's/.* ([0-9]+) lost to ring overflow.*/\1/' <<<"$line" ;;
    rejected) sed -E 's/.* ([0-9]+) frames rejected.*/\1/' <<<"$line" ;;
    linklost) sed -E 's/.* ([0-9]+) lost on the link.*/\1/' <<<"$line" ;;
  esac
}

session_files() {
  find "$lib" -name '*.rms' 2>/dev/null | sort
}

# info_field FILE NAME: the first number of a line of `rollmap info FILE`
# ("samples", "gaps"); fails when the file does not open.
info_field() {
  "$ROLLMAP" info "$1" >"$work/info.txt" 2>&1 || fail "rollmap info cannot read $1: $(cat "$work/info.txt")"
  sed -nE "s/^$2 +([0-9]+).*/\\1/p" "$work/info.txt" | head -n 1
}
