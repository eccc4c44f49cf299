#!/usr/bin/env bash
# rollmap serve next to rollmapd on the virtual roller (sim:, 1 kHz, 8
# channels): rollmapd's CPU over BENCH_SECONDS with no browser and with 20
# EventSource viewers (curl on /api/live?rate=50) through rollmap serve,
# and rollmap serve's resident memory idle and with the 20 viewers.
#
#   bench/bench_web_serve.sh [BUILD_DIR]         (default build/)
#   BENCH_SECONDS=30 bench/bench_web_serve.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
seconds=${BENCH_SECONDS:-20}
viewers=20
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_pct() { # PID: percent of one core over $seconds
    local before after
    before=$(cpu_ticks "$1")
    sleep "$seconds"
    after=$(cpu_ticks "$1")
    awk -v d=$((after - before)) -v hz="$(getconf CLK_TCK)" -v s="$seconds" \
        'BEGIN { printf "%.2f", d * 100 / hz / s }'
}

"$build/rollmapd" --foreground --source "sim:seed=1,duration=3600" \
    --socket "$work/sock" --library "$work/sessions" \
    --set "session.database=$work/auto.db" 2>"$work/rollmapd.log" &
daemon=$!
pids+=("$daemon")
"$build/rollmap" serve --db "$work/lib.db" --socket "$work/sock" \
    --listen 127.0.0.1:0 --password-file "$work/none" >"$work/serve.log" 2>&1 &
serve=$!
pids+=("$serve")
sleep 3
port=$(sed -n 's/.*:\([0-9]*\)\/.*/\1/p' "$work/serve.log")
[ -n "$port" ] || { echo "bench_web_serve: serve did not start" >&2; exit 1; }

echo "rollmapd on sim: (1 kHz, 8 channels), $seconds s per figure, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rollmap serve idle:            RSS $(rss_kib "$serve") KiB"
echo "rollmapd CPU, no viewer:       $(cpu_pct "$daemon") % of one core"
for _ in $(seq "$viewers"); do
    curl -sN "http://127.0.0.1:$port/api/live?rate=50" >/dev/null &
    pids+=($!)
done
sleep 2
echo "rollmapd CPU, $viewers viewers:      $(cpu_pct "$daemon") % of one core"
echo "rollmap serve, $viewers viewers:     RSS $(rss_kib "$serve") KiB, CPU $(cpu_pct "$serve") % of one core"
