#!/usr/bin/env bash
# rollmap simulate end to end: a capture file and its truth, determinism,
# the refusal to overwrite, bad options, and the pty mode read by plain
# readers (cat, and a Python host that sends commands), with an unplug and
# a clean stop on SIGTERM. Frames are checked by an independent decoder.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# An independent reader of the wire protocol (docs/PROTOCOL.md): COBS
# frames ending in 0x00, body = type, seq, time, payload, CRC-32C.
cat >"$work/frames.py" <<'EOF'
import struct, sys

def crc_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table

TABLE = crc_table()

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF

def cobs_decode(enc):
    out, i = bytearray(), 0
    while i < len(enc):
        code = enc[i]
        i += 1
        out += enc[i:i + code - 1]
        i += code - 1
        if code < 0xFF and i < len(enc):
            out.append(0)
    return bytes(out)

def frames(data):
    """(type, seq, payload) of every frame with a good CRC; count bad ones."""
    good, bad = [], 0
    for enc in data.split(b"\0")[:-1]:  # the last piece is unfinished
        if not enc:
            continue
        body = cobs_decode(enc)
        if len(body) < 11 or crc32c(body[:-4]) != struct.unpack("<I", body[-4:])[0]:
            bad += 1
            continue
        ftype, seq = body[0], struct.unpack("<H", body[1:3])[0]
        good.append((ftype, seq, body[7:-4]))
    return good, bad

def encode(ftype, payload=b""):
    body = bytes([ftype]) + struct.pack("<HI", 0, 0) + payload
    body += struct.pack("<I", crc32c(body))
    out, block = bytearray(), bytearray()
    for b in body:
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out += b"\xff" + block
                block = bytearray()
    out += bytes([len(block) + 1]) + block
    return bytes(out) + b"\0"

SAMPLES, INFO, ACK = 0x02, 0x01, 0x06
IDENTIFY, START, STOP = 0x81, 0x82, 0x83

if __name__ == "__main__":
    # frames.py FILE MIN_SAMPLE_FRAMES [lossy]: check a capture; "lossy"
    # when the simulator said the reader was too slow and bytes were dropped,
    # so only the frames that arrived whole are checked.
    data = open(sys.argv[1], "rb").read()
    lossy = sys.argv[3:] == ["lossy"]
    good, bad = frames(data)
    samples = [p for t, s, p in good if t == SAMPLES]
    infos = [p for t, s, p in good if t == INFO]
    assert lossy or bad == 0, "%d frames failed their CRC" % bad
    assert len(samples) >= int(sys.argv[2]), "only %d SAMPLES frames" % len(samples)
    assert infos, "no INFO frame"
    for p in samples:
        assert p[0] == 8 and p[1] == 10, "SAMPLES with %d channels x %d" % (p[0], p[1])
    seqs = [s for t, s, p in good]
    assert lossy or seqs == list(range(len(seqs))), "sequence numbers skip"
    assert seqs == sorted(set(seqs)), "sequence numbers out of order"
    print("%d frames, %d SAMPLES" % (len(good), len(samples)))
EOF

# 1. A capture file with its truth.
"$ROLLMAP" simulate --seed 4 --duration 30 --set spots=3 \
    --out "$work/a.bin" --truth "$work/a.json" 2>"$work/a.err"
size=$(stat -c %s "$work/a.bin")
# 30 s at 1 kHz: 3000 SAMPLES frames of 10 samples x 8 channels (~432 B)
[ "$size" -gt 1250000 ] && [ "$size" -lt 1350000 ] || fail "capture is $size bytes"
head -c 200000 "$work/a.bin" >"$work/a_head.bin"
python3 "$work/frames.py" "$work/a_head.bin" 400 || fail "capture frames"
python3 - "$work/a.json" <<'EOF' || fail "truth JSON"
import json, sys
t = json.load(open(sys.argv[1]))
assert t["format"] == "rollmap-sim-truth" and t["version"] == 1
assert t["config"]["seed"] == "4" and t["config"]["duration"] == 30
assert t["config"]["autostart"] is True
assert len(t["spots"]) == 3
for s in t["spots"]:
    assert 0 < s["position_cm"] < t["leg_length_cm"]
    assert s["side"] in ("medial", "lateral") and 0 < s["severity"] <= 1
for d in t["dwells"]:
    assert 0 <= d["start_s"] < d["end_s"] <= 30
    assert -1 <= d["spot"] < 3
low, high = t["covered_cm"]
assert abs(low) < 0.01 and abs(high - t["leg_length_cm"]) < 0.01, t["covered_cm"]
assert t["wire"]["frames_sent"] > 3000
EOF
grep -q "30.000 s simulated" "$work/a.err" || fail "no summary on stderr"

# 2. Same seed, same bytes (also through --stdout); another seed differs.
"$ROLLMAP" simulate --seed 4 --duration 30 --set spots=3 --stdout \
    >"$work/b.bin" 2>/dev/null
cmp -s "$work/a.bin" "$work/b.bin" || fail "same seed gave other bytes"
"$ROLLMAP" simulate --seed 5 --duration 30 --set spots=3 --out "$work/c.bin" 2>/dev/null
cmp -s "$work/a.bin" "$work/c.bin" && fail "another seed gave the same bytes"

# 3. An existing capture is kept; bad options say what is wrong.
sum=$(md5sum <"$work/a.bin")
status=0
"$ROLLMAP" simulate --duration 5 --out "$work/a.bin" 2>"$work/err" || status=$?
[ "$status" = 1 ] || fail "overwrite: exit $status"
grep -q "exists already" "$work/err" || fail "overwrite message"
[ "$(md5sum <"$work/a.bin")" = "$sum" ] || fail "existing capture changed"
status=0
"$ROLLMAP" simulate --set mass=heavy --out "$work/d.bin" 2>"$work/err" || status=$?
[ "$status" = 2 ] || fail "bad option: exit $status"
grep -q "'mass': 'heavy' is not a number" "$work/err" || fail "bad option message"
[ ! -e "$work/d.bin" ] || fail "a bad option left a file"
"$ROLLMAP" simulate --help | grep -q -- "--pty" || fail "--help"
echo keep >"$work/regular"
status=0
"$ROLLMAP" simulate --pty --link "$work/regular" --duration 2 \
    >/dev/null 2>"$work/err" || status=$?
[ "$status" = 1 ] || fail "--link over a file: exit $status"
grep -q "exists and is not a symlink" "$work/err" || fail "--link over a file: message"
[ "$(cat "$work/regular")" = keep ] || fail "--link replaced a regular file"

# 4. A pty read by cat: streaming from power-up with autostart=1.
"$ROLLMAP" simulate --pty --link "$work/roller" --duration 4 \
    --set autostart=1 >"$work/pty.out" 2>"$work/pty.err" &
pids+=($!)
for _ in $(seq 50); do [ -L "$work/roller" ] && break; sleep 0.1; done
[ -L "$work/roller" ] || fail "no --link symlink"
[ "$(readlink "$work/roller")" = "$(head -n 1 "$work/pty.out")" ] || fail "link and printed path differ"
timeout 2 cat "$work/roller" >"$work/pty.bin" || true
wait "${pids[-1]}" || fail "simulate --pty failed"
# On a busy machine cat may start after the pty's buffer filled; the
# simulator then drops bytes, as a real device's USB buffer does, and says so.
lossy=
grep -q "were dropped" "$work/pty.err" && lossy=lossy
python3 "$work/frames.py" "$work/pty.bin" 100 $lossy || fail "frames read from the pty"
[ ! -e "$work/roller" ] || fail "symlink left behind"

# 5. A host on the pty: nothing before START, INFO on IDENTIFY, samples
#    after START; an unplug closes the pty and a new one appears.
# The host must be done before the unplug, 6 s after the pty appears. On a
# loaded machine starting Python alone took 7 s, so the host starts first
# and opens the pty as soon as it appears; it then reads until what it
# waits for has come, and finds samples sent before START from the order
# of the frames, not from how long it happened to read.
python3 - "$work/dev" "$work/frames.py" "$work/host.ready" <<'EOF' &
import os, sys, time, termios, tty, select
sys.path.insert(0, os.path.dirname(sys.argv[2]))
from frames import frames, encode, INFO, SAMPLES, ACK, IDENTIFY, START

open(sys.argv[3], "w").close()
give_up = time.time() + 60
while not os.path.islink(sys.argv[1]):
    assert time.time() < give_up, "no pty appeared"
    time.sleep(0.01)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd)
got, unfinished = [], b""

def read_until(done):
    """Every frame read so far, once done(frames) holds (or 5 s passed)."""
    global unfinished
    end = time.time() + 5
    while not done(got) and time.time() < end:
        if select.select([fd], [], [], 0.05)[0]:
            whole, _, unfinished = (unfinished + os.read(fd, 65536)).rpartition(b"\0")
            got.extend(frames(whole + b"\0")[0] if whole else [])
    return got

def start_acked(got):
    return any(t == ACK and p[0] == START for t, s, p in got)

time.sleep(0.5)  # the device's chance to send samples unasked
os.write(fd, encode(IDENTIFY))
types = [t for t, s, p in read_until(lambda got: any(t == INFO for t, s, p in got))]
assert INFO in types, "no INFO after IDENTIFY: %r" % types
os.write(fd, encode(START))
got = read_until(lambda got: start_acked(got) and
                 sum(t == SAMPLES for t, s, p in got) >= 30)
assert start_acked(got), "START not acked"
ack = next(i for i, (t, s, p) in enumerate(got) if t == ACK and p[0] == START)
assert all(t != SAMPLES for t, s, p in got[:ack]), "samples before START"
assert sum(t == SAMPLES for t, s, p in got) >= 30, "too few samples after START"
os.close(fd)
EOF
host=$!
pids+=("$host")
for _ in $(seq 600); do [ -e "$work/host.ready" ] && break; sleep 0.1; done
"$ROLLMAP" simulate --pty --link "$work/dev" --duration 9 \
    --set unplug=6,unplug_for=1 >"$work/host.out" 2>"$work/host.err" &
pids+=($!)
wait "$host" || fail "host on the pty"
wait "${pids[-1]}" || fail "simulate --pty with an unplug failed"
grep -q "unplugged at 6" "$work/host.err" || fail "no unplug reported"
[ "$(wc -l <"$work/host.out")" = 2 ] || fail "expected a second pty after the replug"

# 6. SIGTERM ends a long run cleanly, with the truth written.
"$ROLLMAP" simulate --pty --link "$work/long" --truth "$work/long.json" \
    >/dev/null 2>&1 &
pid=$!
pids+=("$pid")
for _ in $(seq 50); do [ -L "$work/long" ] && break; sleep 0.1; done
sleep 0.5
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM: exit $?"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); assert 0 < t["acted_until_s"] < 60' \
    "$work/long.json" || fail "truth after SIGTERM"
[ ! -e "$work/long" ] || fail "symlink left after SIGTERM"
echo "test_simulate: ok"
