#!/usr/bin/env bash
# Capture chain figures: virtual roller -> pty -> rollmapd -> session file,
# at each rate the virtual roller offers, beside a plain pyserial logger on
# the same stream; and rollmapd's CPU use at the nominal 1 kHz, 8 channels.
#
#   bench/bench_capture.sh [BUILD_DIR]      (default build/)
#   BENCH_SECONDS=30 BENCH_RATES=1000 bench/bench_capture.sh   (CPU figure)
#
# Loss is measured from the device's own frame sequence numbers: a run is
# lossless when no frame was lost or rejected on the link and no sample
# was lost to ring overflow.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
rollmap=$build/rollmap
rollmapd=$build/rollmapd
seconds=${BENCH_SECONDS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start_sim() { # RATE BATCH
  rm -f "$work/roller"
  "$rollmap" simulate --pty --link "$work/roller" --seed 1 --duration $((seconds + 2)) \
    --set "rate=$1,batch=$2" >/dev/null &
  sim=$!
  for _ in $(seq 50); do [ -e "$work/roller" ] && return; sleep 0.1; done
  echo "bench_capture: the simulator did not start" >&2; exit 1
}

# rollmapd RATE BATCH: prints "received lost rejected overflow cpu_s"
run_rollmapd() {
  start_sim "$1" "$2"
  rm -rf "$work/lib" "$work/log"
  "$rollmapd" --foreground --source "tty:$work/roller" --socket "$work/s.sock" \
    --library "$work/lib" --set session.idle_s=600 2>"$work/log" &
  local pid=$!
  sleep "$seconds"
  local ticks
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill -TERM "$pid"; wait "$pid"
  kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true
  local line
  line=$(grep "received .* samples:" "$work/log")
  sed -E 's/.*received ([0-9]+) samples: .* ([0-9]+) lost to ring overflow; ([0-9]+) frames rejected, ([0-9]+) lost on the link.*/\1 \4 \3 \2/' <<<"$line" |
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" '{print $0, t / hz}'
}

# pyserial RATE BATCH: prints "received lost rejected"
run_pyserial() {
  start_sim "$1" "$2"
  /usr/bin/time -f "%U %S" -o "$work/py.cpu" \
    /usr/bin/python3 "$here/pyserial_logger.py" "$work/roller" "$work/raw.bin" "$seconds"
  kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true
  "$rollmap" record --source "file:$work/raw.bin?fast" -o "$work/py.rms" 2>/dev/null |
    sed -E 's/.*: ([0-9]+) samples recorded, ([0-9]+) frames rejected, ([0-9]+) frames lost.*/\1 \3 \2/'
  rm -f "$work/py.rms"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "each run: ${seconds} s of the virtual roller (8 channels) on a pty"
printf '%-6s %-6s | %-38s | %-28s\n' rate batch "rollmapd: samples lost rejected ovf" "pyserial: samples lost rejected"
for rate in ${BENCH_RATES:-1000 2000 4000}; do
  for batch in 10 1; do
    read -r r_recv r_lost r_rej r_ovf r_cpu < <(run_rollmapd "$rate" "$batch")
    read -r p_recv p_lost p_rej < <(run_pyserial "$rate" "$batch")
    printf '%-6s %-6s | %8s %5s %5s %5s %12s | %8s %5s %5s\n' "$rate" "$batch" \
      "$r_recv" "$r_lost" "$r_rej" "$r_ovf" "" "$p_recv" "$p_lost" "$p_rej"
    if [ "$rate" = 1000 ] && [ "$batch" = 10 ]; then
      cpu_nominal=$r_cpu
      cpu_pyserial=$(awk '{print $1 + $2}' "$work/py.cpu")
    fi
  done
done
awk -v c="$cpu_nominal" -v p="$cpu_pyserial" -v s="$seconds" 'BEGIN {
  printf "CPU at 1 kHz, 8 channels, %d s: rollmapd %.2f s (%.1f %% of one core, recording),", s, c, 100 * c / s
  printf " pyserial logger %.2f s (%.1f %%, copying bytes only)\n", p, 100 * p / s }'
