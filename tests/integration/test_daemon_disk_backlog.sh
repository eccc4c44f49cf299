#!/usr/bin/env bash
# Disk full with a backlog larger than the space that comes back, on a
# real (small) tmpfs: rollmapd writes the whole blocks that fit, every
# sample of the session is in the file or inside a recorded write-error
# gap, and the log counts only what is on disk. At 1 kHz and 4 kHz, 16
# channels each. The tmpfs is mounted in a private user and mount
# namespace, so no root is needed.
if [ -z "${ROLLMAP_IN_NAMESPACE:-}" ]; then
  if ! unshare --user --map-root-user --mount true 2>/dev/null; then
    echo "skip: no private user and mount namespace (unshare -rm)"
    exit 77
  fi
  ROLLMAP_IN_NAMESPACE=1 exec unshare --user --map-root-user --mount -- bash "$0" "$@"
fi
source "$(dirname "$0")/daemon_lib.sh"

disk=$work/disk
unmount_and_clean() {
  mountpoint -q "$disk" && umount "$disk"
  cleanup
}
trap unmount_and_clean EXIT

# check_session FILE RATE: consecutive samples further apart than one
# period have a write-error gap over the samples between them.
check_session() {
  "$ROLLMAP" export "$1" --csv -o "$work/s.csv" || fail "export of $1 failed"
  python3 - "$work/s.csv" "$2" <<'PY' || fail "samples missing outside gaps in $1"
import sys
path, rate = sys.argv[1], int(sys.argv[2])
period = 1.0 / rate
gaps, times = [], []
for line in open(path):
    if line.startswith("# gap:"):
        words = line.split()
        if "(write-error)" in line:
            gaps.append((float(words[2]), float(words[4])))
    elif line[0].isdigit():
        times.append(float(line.split(",", 1)[0]))
holes = 0
for before, after in zip(times, times[1:]):
    if after - before < 1.5 * period:
        continue
    if not any(s <= before + period + 1e-6 and e >= after - period - 1e-6 for s, e in gaps):
        print(f"no gap covers {before:.6f} .. {after:.6f} s", file=sys.stderr)
        holes += 1
print(f"{len(times)} samples in the file, {len(gaps)} write-error gaps")
sys.exit(1 if holes else 0)
PY
}

# run_case RATE BACKLOG_S FREE_KB
run_case() {
  local rate=$1 backlog_s=$2 free_kb=$3
  mkdir -p "$disk"
  mount -t tmpfs -o size=4m rollmap-test "$disk"
  lib=$disk/library
  : >"$log"
  start_daemon "sim:seed=4,duration=600,rate=$rate,pressure_cells=14" \
    --set session.flush_interval_ms=200
  request '{"cmd":"start"}' | grep -q '"class":"OK"' || fail "start refused"
  sleep 1
  dd if=/dev/zero of="$disk/filler" bs=64k 2>/dev/null || true
  wait_log "cannot write session" 10
  sleep "$backlog_s"
  truncate -s "-${free_kb}K" "$disk/filler"
  sleep 2
  stop_daemon
  local file count ended lost in_gaps
  file=$(session_files)
  [ -n "$file" ] || fail "no session file at $rate Hz"
  count=$(info_field "$file" samples)
  ended=$(grep "session .* ended" "$log" | tail -n 1)
  grep -q ": $count samples," <<<"$ended" ||
    fail "the log says '$ended', the file holds $count samples"
  lost=$(sed -nE 's/.*; ([0-9]+) samples lost to write errors.*/\1/p' <<<"$ended")
  [ -n "$lost" ] || fail "nothing lost at $rate Hz: the freed space took the whole backlog"
  [ "$(summary recorded)" = "$count" ] ||
    fail "the exit summary says $(summary recorded) recorded, the file holds $count"
  check_session "$file" "$rate"
  in_gaps=$("$ROLLMAP" export "$file" --csv |
    sed -nE 's/^# gap: .* ([0-9]+) samples lost \(write-error\)/\1/p' | paste -sd+ | bc)
  [ "$in_gaps" -ge "$lost" ] || fail "$lost samples lost, the gaps hold $in_gaps"
  echo "ok: $rate Hz x 16 channels: $count samples in the file, $lost lost inside write-error gaps"
  umount "$disk"
  rmdir "$disk"
}

run_case 1000 10 128
run_case 4000 10 256
