#!/usr/bin/env bash
# EDF+ exports open in EDFbrowser, the viewer therapists are most likely to
# use: EDFbrowser runs on a virtual X server (Xvfb) with the exported file
# as its argument, and its windows are read with xwininfo. A file it opens
# gets the main window "<file> - EDFbrowser" (and the signal dialog); a
# file it refuses gets an "Error" box instead. Checked: a session without
# gaps (EDF+C), and one with seconds unplugged exported --contiguous
# (EDF+C); the same session as EDF+D is refused by EDFbrowser 2.00, which
# is reported, not failed (docs/LIBRARY.md, "Readers"). Exit 77 (after
# saying why) where edfbrowser, Xvfb or xwininfo is missing.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"

for tool in edfbrowser Xvfb xwininfo; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool is missing (apt-get install edfbrowser xvfb" \
             "x11-utils, or run scripts/setup)" >&2
        exit 77
    fi
done

work=$(mktemp -d)
xvfb_pid=
cleanup() {
    [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A display of our own: Xvfb picks a free number and writes it to fd 3.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" \
    2>"$work/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 100); do [ -s "$work/display" ] && break; sleep 0.1; done
[ -s "$work/display" ] || fail "Xvfb did not start: $(cat "$work/xvfb.log")"
export DISPLAY=:$(cat "$work/display")
export HOME=$work XDG_CONFIG_HOME=$work/config   # EDFbrowser's settings

# Start EDFbrowser on FILE and print "opened" or "refused" once its windows
# say which (or "nothing" after 30 s), then stop it.
edfbrowser_verdict() {
    local file=$1 name verdict=nothing windows
    name=$(basename "$file")
    edfbrowser "$file" >"$work/edfbrowser.log" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do
        windows=$(xwininfo -root -tree 2>/dev/null || true)
        if grep -qF "\"$name - EDFbrowser\"" <<<"$windows"; then
            verdict=opened; break
        fi
        if grep -qF '"Error"' <<<"$windows"; then verdict=refused; break; fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "$verdict"
}

record() { # OUT SIM_OPTIONS
    "$ROLLMAP" record --source "sim:$2?fast" -o "$1" --client C-042 \
        --side left >"$work/record.log" 2>&1 \
        || "$ROLLMAP" info "$1" >/dev/null \
        || fail "no readable session from record: $(cat "$work/record.log")"
}

record "$work/whole.rms" "seed=7,duration=60"
# Seconds 20.0 to 23.5 unplugged: through CSV, as test_export.sh does.
"$ROLLMAP" export "$work/whole.rms" --csv -o "$work/whole.csv"
awk -F, '/^[0-9]/ && $1 >= 20.0 && $1 < 23.5 { next } { print }' \
    "$work/whole.csv" >"$work/cut.csv"
"$ROLLMAP" import "$work/cut.csv" -o "$work/cut.rms" >/dev/null

"$ROLLMAP" export "$work/whole.rms" --edf "$work/whole.edf" >/dev/null
"$ROLLMAP" export "$work/cut.rms" --edf "$work/cut-c.edf" --contiguous >/dev/null
"$ROLLMAP" export "$work/cut.rms" --edf "$work/cut-d.edf" >/dev/null

for edf in whole.edf cut-c.edf; do
    verdict=$(edfbrowser_verdict "$work/$edf")
    [ "$verdict" = opened ] || fail "EDFbrowser: $edf $verdict" \
        "($(cat "$work/edfbrowser.log"))"
    echo "EDFbrowser opened $edf"
done
echo "EDFbrowser on the EDF+D export: $(edfbrowser_verdict "$work/cut-d.edf")" \
     "(2.00 refuses EDF+D and offers its converter)"
echo "ok"
