#!/usr/bin/env bash
# rollmap compare end to end: one client's sessions from the virtual roller,
# recorded through the real capture path, where the same tender spots grow
# less severe from session to session: the comparison must say the spots eased, at the places the
# simulator put them. Then both legs, the files of the folder, and the
# refusals (another muscle, a ball, bad arguments), and the same comparison
# from the session library (--client).
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
client='C-017 <b>&amp;'

session() { # session NAME SEED SIDE SIM_SETTINGS [record options...]
    local name=$1 seed=$2 side=$3 settings=$4
    shift 4
    "$ROLLMAP" simulate --seed "$seed" --duration 180 --set "side=$side,$settings" \
        --truth "$work/$name.truth.json" --out "$work/$name.bin" \
        >/dev/null 2>"$work/sim.log" || fail "simulate: $(cat "$work/sim.log")"
    "$ROLLMAP" record --source "file:$work/$name.bin?fast" -o "$work/$name.rms" \
        --client "$client" --side "$side" "$@" >"$work/record.log" 2>&1 \
        || fail "record $name: $(cat "$work/record.log")"
}

# The same person with the same two tender spots (spot_at), easing from
# week to week: the spots grow less severe, so the person slows, unloads and
# trembles less there, holds them shorter and at last no longer presses
# "tender here" (mark_at above any severity).
session r1 7 right spot_at=14:medial:0.9/24:lateral:0.8
session r2 7 right spot_at=14:medial:0.55/24:lateral:0.5,dwell_min=10,dwell_max=20
session r3 7 right spot_at=14:medial:0.2/24:lateral:0.15,dwell_min=10,dwell_max=20,mark_at=2
session l1 11 left slowdown=0.6
session calf 7 right slowdown=0.5 --muscle calf
session ball 3 right kind=ball

echo "-- three sessions of the right leg: the spots eased"
out=$work/out
"$ROLLMAP" compare "$work/r3.rms" "$work/r1.rms" "$work/r2.rms" -o "$out" \
    >"$work/out.log" 2>"$work/err.log" || fail "compare -o: $(cat "$work/err.log")"
[ ! -s "$work/err.log" ] || fail "unexpected stderr: $(cat "$work/err.log")"
for f in compare.json compare.html summary.txt; do
    [ -s "$out/$f" ] || fail "$f missing or empty"
done
python3 - "$out/compare.json" "$work/r1.truth.json" <<'EOF' || fail "compare.json does not say the spots eased"
import json, sys
c = json.load(open(sys.argv[1]))
truth = json.load(open(sys.argv[2]))["spots"]
assert c["schema"] == "rollmap-compare" and c["schema_version"] == 2
assert len(c["sessions"]) == 3
starts = [s["start_unix_us"] for s in c["sessions"]]
assert starts == sorted(starts), "sessions not in start order"
changes = [s["change"] for s in c["spots"]]
print("spots:", [(round(s["position_cm"], 1), s["side"], s["change"],
                  s["score"]["first"], s["score"]["last"]) for s in c["spots"]])
assert "worse" not in changes and "new" not in changes, changes
eased = [s for s in c["spots"] if s["change"] == "eased"]
assert eased, "no spot eased"
assert any(abs(s["position_cm"] - 14) <= 3 and s["side"] == "medial" for s in eased), \
    "the spot at 14 cm medial (severity 0.9 -> 0.2) did not come out eased"
for s in eased:
    assert s["strength"]["change"] <= -s["strength_mdc"]
    near = [t for t in truth if abs(t["position_cm"] - s["position_cm"]) <= 3]
    assert near, "eased spot at %.1f cm is not a simulated spot" % s["position_cm"]
    assert len(s["visits"]) == 3
right = c["legs"]["right"]
assert right["sessions"] == 3
assert right["spot_score_total"]["change"] < 0, right["spot_score_total"]
assert c["symmetry"]["available"] is False
EOF

echo "-- the page opens with the eased spots and escapes the client"
html=$out/compare.html
eased_at=$(grep -n 'Which spots eased' "$html" | head -1 | cut -d: -f1)
sessions_at=$(grep -n '<h2>Sessions' "$html" | head -1 | cut -d: -f1)
[ -n "$eased_at" ] && [ "$eased_at" -lt "$sessions_at" ] || fail "eased table not first"
grep -q 'class="l wrap eased">eased' "$html" || fail "no eased row in the HTML"
grep -q 'C-017 &lt;b&gt;&amp;amp;' "$html" || fail "client not escaped"
! grep -q '<b>&amp;' "$html" || fail "raw client text in the HTML"
! grep -qE '(src|href)="https?:' "$html" || fail "external resource in the HTML"
for g in compare_profiles compare_scores compare_map; do
    [ "$(od -An -tx1 -N8 "$out/graphs/$g.png" | tr -d ' ')" = 89504e470d0a1a0a ] \
        || fail "$g.png is not a PNG"
    grep -q "<figure id=\"graph-$g\">" "$html" || fail "no figure for $g"
done
[ "$(grep -c '<svg' "$html")" -ge 3 ] || fail "SVG graphs not inline"
grep -q 'Not drawn: it needs sessions of both legs' "$html" \
    || fail "symmetry graph not explained"

echo "-- text summary: same as summary.txt, at most 80 columns"
"$ROLLMAP" compare "$work/r1.rms" "$work/r2.rms" "$work/r3.rms" >"$work/stdout.txt"
cmp -s "$work/stdout.txt" "$out/summary.txt" || fail "stdout differs from summary.txt"
grep -q ' eased ' "$work/stdout.txt" || fail "no eased spot in the text"
[ "$(awk 'length > 80' "$work/stdout.txt" | wc -l)" -eq 0 ] || fail "text wider than 80"

echo "-- both legs: symmetry index and the mirrored profile"
both=$work/both
"$ROLLMAP" compare "$work/r1.rms" "$work/r3.rms" "$work/l1.rms" -o "$both" \
    --format svg >/dev/null 2>"$work/err.log" || fail "both legs: $(cat "$work/err.log")"
python3 - "$both/compare.json" <<'EOF' || fail "symmetry index wrong"
import json, sys
c = json.load(open(sys.argv[1]))
sym = c["symmetry"]
assert sym["available"] is True
for m in sym["metrics"]:
    l, r, si = m["left"], m["right"], m["si_pct"]
    if l is None or r is None or l + r == 0:
        continue
    assert abs(si - (r - l) / ((r + l) / 2) * 100) < 1e-6, m
assert all(s["leg"] in ("left", "right") for s in c["spots"])
EOF
[ -s "$both/graphs/compare_symmetry.svg" ] || fail "no symmetry graph"
grep -q '<figure id="graph-compare_symmetry">' "$both/compare.html" || fail "no symmetry figure"
(cd "$both/graphs" && gnuplot -e "format='png'" compare_symmetry.gp) \
    || fail "the symmetry script does not redraw from its folder"
[ -s "$both/graphs/compare_symmetry.png" ] || fail "redraw made no PNG"

echo "-- from the session library: the same comparison as from the files"
db=$work/library.db
"$ROLLMAP" library add --db "$db" "$work/r1.rms" "$work/r2.rms" "$work/r3.rms" \
    "$work/l1.rms" >/dev/null 2>"$work/err.log" || fail "library add: $(cat "$work/err.log")"
lib=$work/lib
"$ROLLMAP" compare --client "$client" --side right --db "$db" -o "$lib" \
    >/dev/null 2>"$work/err.log" || fail "compare --client: $(cat "$work/err.log")"
python3 - "$out/compare.json" "$lib/compare.json" <<'EOF' || fail "library comparison differs"
import json, sys
files, lib = (json.load(open(p)) for p in sys.argv[1:])
key = lambda c: [(round(s["position_cm"], 3), s["side"], s["change"],
                  round(s["score"]["change"], 6)) for s in c["spots"]]
assert [s["id"] for s in files["sessions"]] == [s["id"] for s in lib["sessions"]]
assert key(files) == key(lib), (key(files), key(lib))
EOF
"$ROLLMAP" compare --client "$client" --db "$db" --last 2 -o "$work/last2/" \
    >"$work/last2.out" 2>&1 || fail "compare --last 2"
# a folder given with a trailing slash (as in the README) prints clean paths
[ "$(head -1 "$work/last2.out")" = "$work/last2/compare.html" ] \
    || fail "printed: $(cat "$work/last2.out")"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert len(c["sessions"]) == 2' \
    "$work/last2/compare.json" || fail "--last 2 did not take two sessions"
status=0
"$ROLLMAP" compare --client "$client" --db "$db" --since 2999-01-01 \
    2>"$work/err.log" >/dev/null || status=$?
[ "$status" -eq 1 ] && grep -q 'has 0 matching sessions' "$work/err.log" \
    || fail "--since in the future: exit $status, $(cat "$work/err.log")"

status=0
"$ROLLMAP" compare --client "$client" --db "$work/none.db" 2>"$work/err.log" || status=$?
[ "$status" -eq 1 ] && [ ! -e "$work/none.db" ] || fail "missing library: exit $status"

echo "-- --since takes a time, as library list --since does, and names a bad date"
# The first start, and one second after the last (starts are whole seconds).
times=$("$ROLLMAP" library list --db "$db" --client "$client" --side right --json \
    | python3 -c '
import datetime, json, sys
fmt = "%Y-%m-%dT%H:%M:%SZ"
starts = sorted(s["start"] for s in json.load(sys.stdin))
after = datetime.datetime.strptime(starts[-1], fmt) + datetime.timedelta(seconds=1)
print(starts[0], after.strftime(fmt))') || fail "library list --json"
read -r first after_last <<<"$times"
"$ROLLMAP" compare --client "$client" --side right --db "$db" --since "$first" \
    -o "$work/since" >/dev/null 2>"$work/err.log" \
    || fail "--since $first: $(cat "$work/err.log")"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert len(c["sessions"]) == 3' \
    "$work/since/compare.json" || fail "--since $first did not take all three sessions"
status=0
"$ROLLMAP" compare --client "$client" --side right --db "$db" --since "$after_last" \
    2>"$work/err.log" >/dev/null || status=$?
[ "$status" -eq 1 ] && grep -q 'has 0 matching sessions' "$work/err.log" \
    || fail "--since $after_last (after the last start): exit $status, $(cat "$work/err.log")"
for bad in 2026-13-01 2026-11-24T25:00:00Z 2026-11-24T06:07:24+01:00 yesterday; do
    status=0
    "$ROLLMAP" compare --client "$client" --db "$db" --since "$bad" \
        2>"$work/err.log" >/dev/null || status=$?
    [ "$status" -eq 2 ] && grep -qF -- "--since '$bad': expected YYYY-MM-DD" "$work/err.log" \
        || fail "--since $bad: exit $status, $(cat "$work/err.log")"
done
status=0
"$ROLLMAP" compare --client "$client" --db "$db" --since 2026-02-30 \
    2>"$work/err.log" >/dev/null || status=$?
[ "$status" -eq 2 ] && grep -qF -- "--since '2026-02-30': no such day" "$work/err.log" \
    || fail "--since 2026-02-30: exit $status, $(cat "$work/err.log")"
"$ROLLMAP" compare --help | grep -q 'YYYY-MM-DDTHH:MM:SSZ' || fail "--help lacks the time form"

echo "-- another muscle and a ball are refused, with an override for the muscle"
status=0
"$ROLLMAP" compare "$work/r1.rms" "$work/calf.rms" 2>"$work/err.log" >/dev/null || status=$?
[ "$status" -eq 1 ] || fail "mixed muscles: exit $status"
grep -q 'different muscles' "$work/err.log" || fail "mixed muscles: $(cat "$work/err.log")"
grep -q 'calf' "$work/err.log" && grep -q -- '--force-mix' "$work/err.log" \
    || fail "mixed muscles message: $(cat "$work/err.log")"
"$ROLLMAP" compare "$work/r1.rms" "$work/calf.rms" --force-mix >/dev/null \
    2>"$work/err.log" || fail "--force-mix failed: $(cat "$work/err.log")"
grep -q 'warning: compared although' "$work/err.log" || fail "no warning with --force-mix"
status=0
"$ROLLMAP" compare "$work/r1.rms" "$work/ball.rms" 2>"$work/err.log" >/dev/null || status=$?
[ "$status" -eq 1 ] && grep -q 'a ball (no position)' "$work/err.log" \
    || fail "ball vs roller: exit $status, $(cat "$work/err.log")"

echo "-- bad arguments"
status=0
"$ROLLMAP" compare "$work/r1.rms" 2>/dev/null || status=$?
[ "$status" -eq 2 ] || fail "one file: exit $status"
status=0
"$ROLLMAP" compare "$work/r1.rms" "$work/missing.rms" 2>"$work/err.log" || status=$?
[ "$status" -eq 1 ] && grep -q 'missing.rms' "$work/err.log" \
    || fail "missing file: exit $status, $(cat "$work/err.log")"
status=0
"$ROLLMAP" compare "$work/r1.rms" "$work/r2.rms" --match-cm -1 2>/dev/null || status=$?
[ "$status" -eq 2 ] || fail "--match-cm -1: exit $status"
: >"$work/blocker"
status=0
"$ROLLMAP" compare "$work/r1.rms" "$work/r2.rms" -o "$work/blocker/out" \
    2>"$work/err.log" >/dev/null || status=$?
[ "$status" -eq 1 ] && grep -q 'blocker' "$work/err.log" \
    || fail "unwritable folder: exit $status, $(cat "$work/err.log")"
"$ROLLMAP" compare --help | grep -q -- '--force-mix' || fail "--help lacks --force-mix"
echo "PASS"
