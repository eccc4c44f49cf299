#!/usr/bin/env bash
# Clients cannot hurt capture: one that never reads, one that sends
# garbage and 50 at once; the daemon keeps recording and answering.
source "$(dirname "$0")/daemon_lib.sh"

start_daemon "sim:seed=2,duration=60"
wait_log "session .* started" 15
python3 - "$sock" <<'PY' || fail "client storm failed"
import json, os, socket, sys, time
path = sys.argv[1]
def connect():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(10)
    return s
# one that watches and never reads
idle = connect()
idle.sendall(b'{"cmd":"watch"}\n')
# one that sends garbage, including an overlong line and binary bytes
bad = connect()
bad.sendall(os.urandom(20000) + b"\n" + b"{not json}\n" + b"x" * 10000 + b"\n")
time.sleep(3)
# 50 at once, each asks for the status
clients = [connect() for _ in range(50)]
for c in clients:
    c.sendall(b'{"cmd":"status"}\n')
answered = 0
for c in clients:
    f = c.makefile("r")
    for line in f:
        if json.loads(line).get("class") == "STATUS":
            answered += 1
            break
if answered != 50:
    sys.exit(f"only {answered} of 50 clients got a status")
PY
before=$(status session.samples)
sleep 1
after=$(status session.samples)
[ "$after" -gt "$before" ] || fail "recording stalled with clients connected"
stop_daemon
[ "$(summary overflow)" = 0 ] || fail "clients made the ring overflow"
echo "ok: 50 clients served, a stuck and a garbage client did not stall capture"
