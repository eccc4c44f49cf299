#!/usr/bin/env bash
# rollmap report end to end: sessions recorded from the virtual roller (a
# roller with a hostile client name, and a ball without encoder) are
# analysed and reported; the folder's files are checked as files (PNG and
# PDF magic, PNG size from gnuplot, SVG inline in the HTML, JSON parsing),
# a graph is redrawn by hand, and bad input fails cleanly.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"

# The graphs are half of what this test checks: without gnuplot it is
# skipped, loudly, instead of passing on what is left.
command -v gnuplot >/dev/null || { echo "SKIP: gnuplot is not installed" >&2; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
graphs=(force profile map spectrum dwells)

record() { # record OUT SIM_OPTIONS CLIENT
    # What this test needs is a readable session file; record's own exit
    # status and messages are checked by record's tests.
    "$ROLLMAP" record --source "sim:$2?fast" -o "$1" --client "$3" \
        --side left --notes 'Tight <distally> & "sore"' >"$work/record.log" 2>&1 \
        || "$ROLLMAP" info "$1" >/dev/null \
        || fail "no readable session from record: $(cat "$work/record.log")"
}

hostile='<script>&"'
record "$work/roller.rms" "seed=7,duration=240" "$hostile"
record "$work/ball.rms" "seed=3,duration=120,kind=ball" "C-ball"

echo "-- text summary on stdout, at most 80 columns"
"$ROLLMAP" report "$work/roller.rms" >"$work/stdout.txt"
grep -q '^Tender spots' "$work/stdout.txt" || fail "no spot section in the text"
grep -q '^Dwells' "$work/stdout.txt" || fail "no dwell section in the text"
wide=$(awk 'length > 80' "$work/stdout.txt" | wc -l)
[ "$wide" -eq 0 ] || fail "$wide text lines wider than 80 columns"

echo "-- report folder with PNG graphs"
out=$work/out
"$ROLLMAP" report "$work/roller.rms" -o "$out" >"$work/out.log" 2>"$work/err.log" \
    || fail "report -o failed: $(cat "$work/err.log")"
[ ! -s "$work/err.log" ] || fail "unexpected stderr: $(cat "$work/err.log")"
for f in report.json report.html summary.txt; do
    [ -s "$out/$f" ] || fail "$f missing or empty"
done
cmp -s "$out/summary.txt" "$work/stdout.txt" || fail "summary.txt differs from stdout"

png_size() { # width x height from the IHDR chunk
    od -An -tu1 -j16 -N8 "$1" | awk '{printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'
}
for g in "${graphs[@]}"; do
    png=$out/graphs/$g.png
    [ -s "$out/graphs/$g.gp" ] || fail "$g.gp missing"
    [ -s "$out/graphs/$g.svg" ] || fail "$g.svg missing"
    [ "$(od -An -tx1 -N8 "$png" | tr -d ' ')" = 89504e470d0a1a0a ] || fail "$g.png is not a PNG"
    [ "$(stat -c %s "$png")" -gt 10000 ] || fail "$g.png is too small to hold a graph"
    # The size set in the script proves gnuplot drew it from that script.
    size=$(sed -n 's/.*set terminal pngcairo size \([0-9]*\),\([0-9]*\).*/\1x\2/p' "$out/graphs/$g.gp")
    [ "$(png_size "$png")" = "$size" ] || fail "$g.png is $(png_size "$png"), script says $size"
    grep -q "<figure id=\"graph-$g\">" "$out/report.html" || fail "no figure for $g"
done

echo "-- the HTML is self-contained, escaped and embeds the SVGs"
html=$out/report.html
[ "$(grep -c 'Produced by GNUPLOT' "$html")" -eq ${#graphs[@]} ] || fail "not every gnuplot SVG is inline"
grep -q 'aria-label="hamstring map"' "$html" || fail "no hamstring map"
! grep -Eq 'https?:' "$html" || fail "the HTML refers to the network"
! grep -Eiq '<script|<link|<img|<iframe' "$html" || fail "the HTML loads or runs something"
grep -q '&lt;script&gt;&amp;&quot;' "$html" || fail "client name not escaped"
grep -q 'Tight &lt;distally&gt; &amp; &quot;sore&quot;' "$html" || fail "notes not escaped"
grep -q '@page{size:A4' "$html" || fail "no A4 print style"

echo "-- the JSON parses and holds the documented fields"
python3 -m json.tool "$out/report.json" >/dev/null || fail "report.json does not parse"
python3 - "$out/report.json" "$hostile" <<'EOF' || fail "report.json content"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["session"]["client"] == sys.argv[2], r["session"]["client"]
assert r["session"]["side"] == "left"
assert r["session"]["duration_s"] > 200
s = r["summary"]
for key in ("rolled_length_cm", "time_under_load_s", "mean_force_n",
            "peak_force_n", "strokes", "cadence_per_min"):
    assert key in s, key
assert s["peak_force_n"] >= s["mean_force_n"] > 0
for d in r["dwells"]:
    assert d["end_s"] > d["start_s"] and d["mean_force_n"] > 0
    assert 0 <= d["position_pct"] <= 100
for spot in r["tender_spots"]:
    assert 0 <= spot["score"] <= 10 and "evidence" in spot
for key in ("gaps", "crc_errors", "saturation_pct", "calibration_age_days"):
    assert key in r["quality"], key
assert r["device"]["has_position"] is True
EOF

echo "-- a graph redraws by hand from its folder"
(cd "$out/graphs" && rm force.png && gnuplot force.gp && gnuplot -e "format='pdf'" force.gp)
[ "$(od -An -tx1 -N8 "$out/graphs/force.png" | tr -d ' ')" = 89504e470d0a1a0a ] || fail "redrawn force.png"
[ "$(head -c 4 "$out/graphs/force.pdf")" = "%PDF" ] || fail "force.pdf by hand"

echo "-- --format pdf and svg"
"$ROLLMAP" report "$work/roller.rms" -o "$work/pdf" --format pdf >/dev/null
[ "$(head -c 4 "$work/pdf/graphs/map.pdf")" = "%PDF" ] || fail "map.pdf is not a PDF"
"$ROLLMAP" report "$work/roller.rms" -o "$work/svg//" --format svg >"$work/svg.out"
# a folder given with a trailing slash (as in the README) prints clean paths
[ "$(head -1 "$work/svg.out")" = "$work/svg/report.html" ] || fail "printed: $(cat "$work/svg.out")"
grep -q '<svg' "$work/svg/graphs/profile.svg" || fail "profile.svg"
[ ! -e "$work/svg/graphs/profile.png" ] || fail "PNG written although SVG was asked"

echo "-- a ball has no position: no map, and the report says why"
"$ROLLMAP" report "$work/ball.rms" -o "$work/ball" >/dev/null
grep -q 'No map: the device has no rotation encoder' "$work/ball/report.html" || fail "ball: no reason for the missing map"
[ ! -e "$work/ball/graphs/map.gp" ] || fail "ball: a map script was written"
[ -s "$work/ball/graphs/force.png" ] || fail "ball: no force graph"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["device"]["has_position"] is False and r["summary"]["rolled_length_cm"] is None' \
    "$work/ball/report.json" || fail "ball: JSON should say there is no position"

echo "-- without gnuplot: reports written, a warning, exit 0"
PATH=/nonexistent "$ROLLMAP" report "$work/roller.rms" -o "$work/nognuplot" >/dev/null 2>"$work/nognuplot.err" \
    || fail "report without gnuplot should succeed"
grep -q 'warning: gnuplot is not installed' "$work/nognuplot.err" || fail "no warning about gnuplot"
[ -s "$work/nognuplot/report.json" ] && [ -s "$work/nognuplot/report.html" ] || fail "reports missing without gnuplot"
[ -s "$work/nognuplot/graphs/force.gp" ] || fail "scripts missing without gnuplot"
[ ! -e "$work/nognuplot/graphs/force.png" ] || fail "a PNG appeared without gnuplot"
grep -q 'Not drawn: gnuplot did not render it' "$work/nognuplot/report.html" || fail "HTML silent about missing graphs"

echo "-- the virtual roller rolls the leg the session names (--side)"
for side in left right; do
    "$ROLLMAP" record --source "sim:seed=11,duration=300,spot_at=14:medial:0.9?fast" \
        -o "$work/$side.rms" --side "$side" >"$work/record.log" 2>&1 \
        || "$ROLLMAP" info "$work/$side.rms" >/dev/null \
        || fail "no readable $side session: $(cat "$work/record.log")"
    "$ROLLMAP" report "$work/$side.rms" >"$work/$side.txt"
    awk '$2 ~ /^1[345]\./ && $4 == "medial" { found = 1 } END { exit !found }' \
        "$work/$side.txt" || { cat "$work/$side.txt" >&2;
                                fail "$side leg: the medial spot at 14 cm is not medial"; }
done

echo "-- no load or a perfectly steady load: report written, spectrum left out, exit 0"
for load in 0 50; do
    { echo "t_s,ch0_N,ch1_N,position_cm"
      for i in $(seq 0 1999); do
          printf '%d.%02d,%s,%s,%d.%d\n' $((i / 100)) $((i % 100)) "$load" "$load" \
              $((i % 200 / 10)) $((i % 10))
      done; } >"$work/flat$load.csv"
    "$ROLLMAP" import "$work/flat$load.csv" -o "$work/flat$load.rms" >/dev/null
    "$ROLLMAP" report "$work/flat$load.rms" -o "$work/flat$load" >"$work/flat.log" 2>&1 \
        || fail "load $load N: exit $?: $(cat "$work/flat.log")"
    grep -q "Not drawn: the force never varied" "$work/flat$load/report.html" \
        || fail "load $load N: the page does not say why the spectrum is missing"
    [ -s "$work/flat$load/report.json" ] || fail "load $load N: no report.json"
done

echo "-- an unknown start is '(unknown)', not 1970"
grep -q '^Start (UTC) *(unknown)$' "$work/flat0/summary.txt" \
    || fail "start: $(grep Start "$work/flat0/summary.txt")"
! grep -q 1970 "$work/flat0/summary.txt" "$work/flat0/report.html" \
    || fail "1970 in the report of a session without a start"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["session"]["start"] is None' \
    "$work/flat0/report.json" || fail "report.json start is not null"

echo "-- a session without samples: the message names the file"
printf 't_s,ch0_N\n' >"$work/empty.csv"
# Without rows the rate comes from the profile (the import refuses 0 Hz).
"$ROLLMAP" import "$work/empty.csv" -o "$work/empty.rms" \
    --profile "$(dirname "$0")/../../docs/profiles/hx711-arduino.ini" >/dev/null
set +e
"$ROLLMAP" report "$work/empty.rms" 2>"$work/e0"; rc0=$?
set -e
[ $rc0 -eq 1 ] && grep -q "empty.rms: session has no samples" "$work/e0" \
    || fail "empty session: rc $rc0, $(cat "$work/e0")"

echo "-- the report folder is private whatever the umask (client codes, notes)"
(umask 000; "$ROLLMAP" report "$work/roller.rms" -o "$work/private/visit" >/dev/null) \
    || fail "report -o under umask 000 failed"
open=$(find "$work/private" \( -type d ! -perm 0700 \) -o \( -type f ! -perm 0600 \))
[ -z "$open" ] || fail "not private under umask 000: $(stat -c '%a %n' $open)"
[ "$(find "$work/private" -type f | wc -l)" -gt 10 ] || fail "the private report has no graphs"

echo "-- bad input fails with a message naming the file; nothing is changed"
set +e
"$ROLLMAP" report "$work/missing.rms" 2>"$work/e1"; rc1=$?
XDG_DATA_HOME=$work/data "$ROLLMAP" report missing.rms 2>"$work/e1b"; rc1b=$?
head -c 5000 /dev/urandom >"$work/garbage.rms"
sum=$(md5sum <"$work/garbage.rms")
"$ROLLMAP" report "$work/garbage.rms" -o "$work/g" 2>"$work/e2"; rc2=$?
"$ROLLMAP" report 2>/dev/null; rc3=$?
"$ROLLMAP" report "$work/roller.rms" --format gif 2>"$work/e4"; rc4=$?
"$ROLLMAP" report "$work/roller.rms" -o "$work/roller.rms" 2>"$work/e5"; rc5=$?
set -e
[ $rc1 -eq 1 ] && grep -qx "rollmap report: $work/missing.rms: cannot open: No such file or directory" "$work/e1" \
    || fail "missing file: rc $rc1, $(cat "$work/e1")"
[ $rc1b -eq 1 ] && grep -qx "rollmap report: missing.rms: cannot open: No such file or directory" "$work/e1b" \
    || fail "missing file in the working folder: rc $rc1b, $(cat "$work/e1b")"
[ ! -e "$work/data" ] || fail "a missing file made a library: $(find "$work/data")"
[ $rc2 -eq 1 ] && grep -q "garbage.rms" "$work/e2" || fail "garbage file: rc $rc2, $(cat "$work/e2")"
[ "$(md5sum <"$work/garbage.rms")" = "$sum" ] || fail "the input file was changed"
[ ! -e "$work/g/report.json" ] || fail "a report was written for garbage"
[ $rc3 -eq 2 ] || fail "no session: rc $rc3, expected 2"
[ $rc4 -eq 2 ] && grep -q "gif" "$work/e4" || fail "--format gif: rc $rc4"
[ $rc5 -eq 1 ] && grep -q "not a folder" "$work/e5" || fail "-o onto a file: rc $rc5, $(cat "$work/e5")"
"$ROLLMAP" report "$work/roller.rms" >/dev/null || fail "the session was damaged by -o onto it"

echo "test_report: all checks passed"
