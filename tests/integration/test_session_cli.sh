# rollmap import / info / export on real files: CSV -> session -> CSV must
# keep every value, info must describe the file, damage must be reported,
# and bad input must fail with a message naming the file, line and column.
set -euo pipefail
: "${ROLLMAP:?set ROLLMAP to the rollmap program}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect_output FILE TEXT: FILE contains the fixed string TEXT.
expect_output() {
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "'$2' not in $1"; }
}

# 2000 rows at 200 Hz: two channels in newtons, position in cm, some marks.
awk 'BEGIN {
  print "# client: C-042"
  print "# notes: imported from a lab spreadsheet"
  print "t_s,ch0_N,ch1_N,position_cm,mark"
  for (i = 0; i < 2000; i++)
    printf "%.3f,%.3f,%.3f,%.3f,%d\n", i * 0.005, 120 + 30 * sin(i / 40),
           2.5 + (i % 17) * 0.125, 20 * sin(i / 150), (i % 400 == 7)
}' > "$work/rolls.csv"

# --- import -----------------------------------------------------------------
"$ROLLMAP" import "$work/rolls.csv" -o "$work/rolls.rms" --side right \
  --muscle "biceps femoris" > "$work/import.out"
expect_output "$work/import.out" "2000 samples, 2 channels at 200 Hz"
[ "$(stat -c %a "$work/rolls.rms")" = 600 ] || fail "session file is not 0600"

# Importing over an existing file must refuse and keep it.
before=$(md5sum < "$work/rolls.rms")
if "$ROLLMAP" import "$work/rolls.csv" -o "$work/rolls.rms" 2> "$work/err"; then
  fail "import overwrote an existing session"
fi
expect_output "$work/err" "rollmap import: $work/rolls.rms: cannot create"
[ "$before" = "$(md5sum < "$work/rolls.rms")" ] || fail "existing session changed"

# --- info -------------------------------------------------------------------
"$ROLLMAP" info "$work/rolls.rms" > "$work/info.txt"
expect_output "$work/info.txt" "client      C-042"
expect_output "$work/info.txt" "side        right"
expect_output "$work/info.txt" "muscle      biceps femoris"
expect_output "$work/info.txt" "samples     2000"
expect_output "$work/info.txt" "duration    9.995 s"
expect_output "$work/info.txt" "rate        200 Hz nominal, 200.0 Hz measured"
expect_output "$work/info.txt" "closed      cleanly"
expect_output "$work/info.txt" "0 skipped (0 bytes), every checksum verified"

"$ROLLMAP" info "$work/rolls.rms" --json > "$work/info.json"
if command -v python3 > /dev/null; then
  python3 - "$work/info.json" <<'EOF' || fail "info --json is wrong"
import json, sys
info = json.load(open(sys.argv[1]))
assert info["samples"] == 2000, info["samples"]
assert info["session"]["client"] == "C-042"
assert info["device"]["sample_rate_hz"] == 200
assert len(info["device"]["channels"]) == 2
assert info["integrity"]["closed_cleanly"] is True
assert info["integrity"]["skipped"] == []
EOF
else
  expect_output "$work/info.json" '"samples": 2000'
fi

# --- export and round trip ----------------------------------------------------
"$ROLLMAP" export "$work/rolls.rms" --csv -o "$work/out.csv"
expect_output "$work/out.csv" "# client: C-042"
expect_output "$work/out.csv" "t_s,ch0_N,ch1_N,ch0_counts,ch1_counts,encoder,position_cm,mark"
# Every value must come back: newtons to the mN of the generic device,
# position to half an encoder count (0.0058 cm) plus the 0.001 cm rounding
# of the two CSV files, time and marks exactly.
awk -F, '
  FNR == 1 { file++ }
  /^#/ || /^t_s/ { next }
  file == 1 { n1++; t[n1] = $1; a[n1] = $2; b[n1] = $3; p[n1] = $4; m[n1] = $5; next }
  {
    n2++
    if ($1 + 0 != t[n2] + 0) { print "row " n2 ": t_s " $1 " != " t[n2]; bad++ }
    if (($2 - a[n2]) ^ 2 > 1e-12 || ($3 - b[n2]) ^ 2 > 1e-12) { print "row " n2 ": newtons differ"; bad++ }
    if (($7 - p[n2]) ^ 2 > 0.0068 ^ 2) { print "row " n2 ": position " $7 " != " p[n2]; bad++ }
    if ($8 != m[n2]) { print "row " n2 ": mark differs"; bad++ }
  }
  END {
    if (n1 != 2000 || n2 != 2000) { print "rows: " n1 " in, " n2 " out"; bad++ }
    exit bad > 0
  }' "$work/rolls.csv" "$work/out.csv" || fail "exported values differ from the imported CSV"

# The export imports back to the same data: export it again, compare.
"$ROLLMAP" import "$work/out.csv" -o "$work/again.rms" > /dev/null
"$ROLLMAP" export "$work/again.rms" > "$work/again.csv"
diff <(grep -v '^# session_id' "$work/out.csv") \
     <(grep -v '^# session_id' "$work/again.csv") > /dev/null ||
  fail "export -> import -> export changed the data"

# The output is never the session itself.
if "$ROLLMAP" export "$work/rolls.rms" -o "$work/rolls.rms" 2> "$work/err"; then
  fail "export overwrote its session"
fi
expect_output "$work/err" "would overwrite the session file"

# --- damage -------------------------------------------------------------------
size=$(stat -c %s "$work/rolls.rms")
head -c $((size * 2 / 3)) "$work/rolls.rms" > "$work/torn.rms"
"$ROLLMAP" info "$work/torn.rms" > "$work/torn.txt"
expect_output "$work/torn.txt" "closed      not cleanly"
expect_output "$work/torn.txt" "truncated   yes"
expect_output "$work/torn.txt" "skipped"
"$ROLLMAP" export "$work/torn.rms" -o "$work/torn.csv" 2> "$work/err"
expect_output "$work/err" "rollmap export: warning: $work/torn.rms: skipped "
expect_output "$work/err" " damaged bytes at offset "
# report analyses what is left and says, naming the file and offset, what
# it left out (it said nothing: only the page's quality table counted it)
"$ROLLMAP" report "$work/torn.rms" > /dev/null 2> "$work/err" || fail "report of a torn file failed"
expect_output "$work/err" "rollmap report: warning: $work/torn.rms: skipped "
expect_output "$work/err" " damaged bytes at offset "
rows=$(grep -vc '^#' "$work/torn.csv")
[ "$rows" -gt 1000 ] && [ "$rows" -lt 2001 ] || fail "torn file exported $rows rows"

printf 'not a session\n' > "$work/text.rms"
if "$ROLLMAP" info "$work/text.rms" 2> "$work/err"; then fail "info accepted text"; fi
expect_output "$work/err" "rollmap info: $work/text.rms: not a rollmap session file"

# --- bad CSV and usage ------------------------------------------------------------
printf 't_s,ch0_N\n0,1\n0.1,oops\n' > "$work/bad.csv"
status=0
"$ROLLMAP" import "$work/bad.csv" -o "$work/bad.rms" 2> "$work/err" || status=$?
[ "$status" = 1 ] || fail "bad CSV: exit status $status, expected 1"
expect_output "$work/err" "rollmap import: $work/bad.csv:3: column 2 (ch0_N): 'oops' is not a number"
[ ! -e "$work/bad.rms" ] || fail "a failed import left a session file"

status=0
"$ROLLMAP" import "$work/rolls.csv" 2> /dev/null || status=$?
[ "$status" = 2 ] || fail "missing -o: exit status $status, expected 2"
status=0
"$ROLLMAP" import "$work/rolls.csv" -o "$work/x.rms" --side up 2> "$work/err" || status=$?
[ "$status" = 2 ] || fail "bad --side: exit status $status, expected 2"
expect_output "$work/err" "--side 'up': expected left or right"

# Every command's usage errors read "rollmap CMD: ...", getopt's own too
# (rollmap(1)), and exit 2.
commands=$("$ROLLMAP" help | awk '/^Commands:/ { on = 1; next } on && !NF { exit } on { print $1 }')
[ "$(echo "$commands" | wc -l)" -gt 10 ] || fail "rollmap help lists: $commands"
for cmd in $commands; do
  [ "$cmd" = help ] || [ "$cmd" = version ] && continue
  for bad in --bogus -o; do
    status=0
    # library takes its subcommand first; the others their options
    if [ "$cmd" = library ]; then set -- list "$bad"; else set -- "$bad"; fi
    "$ROLLMAP" "$cmd" "$@" > /dev/null 2> "$work/err" || status=$?
    [ "$status" = 2 ] || fail "rollmap $cmd $*: exit status $status, expected 2"
    head -1 "$work/err" | grep -q "^rollmap $cmd: " \
      || fail "rollmap $cmd $*: the message does not start 'rollmap $cmd: ': $(head -1 "$work/err")"
  done
done

ends_with_newline() { [ "$(tail -c 1 "$1" | od -An -tx1 | tr -d ' ')" = 0a ]; }
for cmd in info export import; do
  "$ROLLMAP" "$cmd" --help > "$work/help" || fail "$cmd --help failed"
  expect_output "$work/help" "usage: rollmap $cmd"
  expect_output "$work/help" "Example:"
  ends_with_newline "$work/help" || fail "rollmap $cmd --help: no newline at the end"
done
# The shell prompt must not land on the last line of rollmapd's help.
"$ROLLMAPD" --help > "$work/help" || fail "rollmapd --help failed"
ends_with_newline "$work/help" || fail "rollmapd --help: no newline at the end"
echo "ok"
