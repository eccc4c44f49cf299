#!/usr/bin/env bash
# The highest rate the whole capture chain sustains with zero loss:
#   virtual roller's bytes -> pty -> rollmapd (tty: source, decoder, ring,
#   recorder) -> session file.
# The virtual roller runs at most 4 kHz, so its capture (8 channels, 20
# samples a frame) is replayed time-compressed into a real pty by
# bench/pty_replay.py: the bytes are the roller's own, only faster. A rate
# passes when rollmapd received every sample of what was sent, counted no
# frame lost or rejected and no ring overflow, and the writer was never
# held back (a pty never drops bytes: a slow reader makes the writer late;
# late = more than 5 % + 5 ms behind the schedule). The figure is the
# largest rate that passed with every lower rate passing too. rollmapd runs
# with its default ring (5 s at the 2 kHz configured maximum), so at very
# high rates a flush stall overflows it: counted and recorded as a gap.
#
#   bench/bench_chain_max.sh [BUILD_DIR]     (default build/)
#   BENCH_SECONDS=3 (wall time per rate)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
rollmap=$build/rollmap
rollmapd=$build/rollmapd
seconds=${BENCH_SECONDS:-3}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
device_rate=4000

"$rollmap" simulate --seed 1 --duration 900 --set rate=$device_rate,batch=20,autostart=1 \
    --out "$work/cap.bin" >/dev/null 2>&1
total_samples=$("$rollmap" record --source "file:$work/cap.bin?fast" -o "$work/all.rms" |
    sed -E 's/.*: ([0-9]+) samples recorded.*/\1/')
bytes=$(stat -c %s "$work/cap.bin")
per_sample=$(awk -v b="$bytes" -v n="$total_samples" 'BEGIN { printf "%.2f", b / n }')

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "capture: $total_samples samples, $bytes bytes ($per_sample bytes a sample, 8 channels)"
printf '%10s %9s %10s %10s %6s %6s %8s %7s  %s\n' samples/s MB/s sent received lost reject overflow late verdict

best=0
failed=no
for speed in 1 4 16 32 64 128 256 384; do
    rate=$((device_rate * speed))
    byte_rate=$(awk -v r="$rate" -v p="$per_sample" 'BEGIN { printf "%.0f", r * p }')
    rm -rf "$work/lib" "$work/roller"
    REPLAY_WAIT=1.0 python3 "$here/pty_replay.py" "$work/cap.bin" "$work/roller" \
        "$byte_rate" "$seconds" >"$work/replay.out" &
    replay=$!
    while [ ! -L "$work/roller" ]; do sleep 0.05; done
    "$rollmapd" --foreground --source "tty:$work/roller" --socket "$work/s.sock" \
        --library "$work/lib" --set session.idle_s=600 --set session.database= \
        2>"$work/log" &
    daemon=$!
    wait "$replay"
    sleep 0.5
    kill -TERM "$daemon"; wait "$daemon" || true
    read -r sent elapsed scheduled <"$work/replay.out"
    head -c "$sent" "$work/cap.bin" >"$work/prefix.bin"
    rm -f "$work/prefix.rms"
    expected=$("$rollmap" record --source "file:$work/prefix.bin?fast" -o "$work/prefix.rms" |
        sed -E 's/.*: ([0-9]+) samples recorded.*/\1/')
    line=$(grep "received .* samples:" "$work/log")
    read -r received overflow rejected lost < <(sed -E \
        's/.*received ([0-9]+) samples: .* ([0-9]+) lost to ring overflow; ([0-9]+) frames rejected, ([0-9]+) lost on the link.*/\1 \2 \3 \4/' <<<"$line")
    late=$(awk -v e="$elapsed" -v s="$scheduled" 'BEGIN { print (e > s * 1.05 + 0.005) ? "yes" : "no" }')
    verdict=lossless
    if [ "$received" != "$expected" ] || [ "$lost" != 0 ] || [ "$rejected" != 0 ] ||
       [ "$overflow" != 0 ] || [ "$late" = yes ]; then
        verdict="FAILS (expected $expected samples)"
        failed=yes
    elif [ "$failed" = no ]; then
        best=$rate
    fi
    printf '%10d %9.2f %10d %10d %6d %6d %8d %7s  %s\n' "$rate" \
        "$(awk -v b="$byte_rate" 'BEGIN { print b / 1e6 }')" "$sent" "$received" \
        "$lost" "$rejected" "$overflow" "$late" "$verdict"
done
echo "largest rate lossless with every rate below it lossless too: $best samples/s = $(awk -v r="$best" -v p="$per_sample" 'BEGIN { printf "%.1f", r * p / 1e6 }') MB/s (USB full speed: about 1 MB/s)"
