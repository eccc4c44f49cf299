#!/usr/bin/env bash
# rollmap export --edf and the researcher folder, on sessions recorded from
# the virtual roller: the EDF+ files (EDF+C, and EDF+D for a session with
# seconds missing) are read by an independent reader (MNE,
# tests/integration/edf_check.py) and compared with the CSV export and
# the report of the same session; the folder export is built from a
# real library database; bad input fails with a clear message and keeps
# what was there. Exit 77 (after every other check) when python3-mne is
# missing.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"
: "${ROLLMAP_SOURCE:?ROLLMAP_SOURCE must name the source tree}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_output() { # FILE TEXT: FILE holds the fixed string TEXT
    grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "'$2' not in $1"; }
}
expect_exit() { # STATUS COMMAND...: COMMAND exits with STATUS
    local want=$1 rc=0
    shift
    "$@" >"$work/out" 2>"$work/err" || rc=$?
    [ "$rc" = "$want" ] || { cat "$work/err" >&2; fail "exit $rc, expected $want: $*"; }
}

record() { # OUT SIM_OPTIONS CLIENT SIDE NOTES
    "$ROLLMAP" record --source "sim:$2?fast" -o "$1" --client "$3" \
        --side "$4" --notes "$5" >"$work/record.log" 2>&1 \
        || "$ROLLMAP" info "$1" >/dev/null \
        || fail "no readable session from record: $(cat "$work/record.log")"
}

# An independent EDF reader: MNE from Debian (python3-mne).
mne_python=
for py in /usr/bin/python3 python3; do
    if "$py" -c 'import mne' 2>/dev/null; then mne_python=$py; break; fi
done

record "$work/roller.rms" "seed=7,duration=120" C-042 left "secret note"
record "$work/gappy.rms" "seed=5,duration=90,unplug=30/200,unplug_for=5" C-042 right ""
record "$work/other.rms" "seed=3,duration=60" C-007 left ""
record "$work/ball.rms" "seed=4,duration=60,kind=ball" C-007 right ""

# Gaps of the virtual roller last a fraction of a second, inside one data
# record. For one over whole records: the roller's session less 40.0 to
# 43.5 s, through CSV (import keeps no gap record, so no gap annotation).
"$ROLLMAP" export "$work/roller.rms" --csv -o "$work/whole.csv"
awk -F, '/^[0-9]/ && $1 >= 40.0 && $1 < 43.5 { next } { print }' \
    "$work/whole.csv" >"$work/cut-source.csv"
"$ROLLMAP" import "$work/cut-source.csv" -o "$work/cut.rms" >/dev/null

echo "-- EDF+ read back by MNE, against the CSV export and the report"
for name in roller gappy ball cut; do
    "$ROLLMAP" export "$work/$name.rms" --edf "$work/$name.edf" >"$work/edf.out"
    expect_output "$work/edf.out" "wrote $work/$name.edf: EDF+"
    expect_output "$work/edf.out" "$( [ "$name" = cut ] && echo EDF+D || echo EDF+C ) with"
    [ "$(stat -c %a "$work/$name.edf")" = 600 ] || fail "$name.edf is not 0600"
    "$ROLLMAP" export "$work/$name.rms" --csv -o "$work/$name.csv"
    "$ROLLMAP" report "$work/$name.rms" -o "$work/$name-report" >/dev/null 2>&1
    if [ -n "$mne_python" ]; then
        "$mne_python" "$ROLLMAP_SOURCE/tests/integration/edf_check.py" \
            "$work/$name.edf" "$work/$name.csv" "$work/$name-report/report.json" \
            || fail "$name.edf does not read back as exported"
    fi
done
grep -q '^# gap: ' "$work/gappy.csv" || fail "the gappy session has no gap"
"$ROLLMAP" export "$work/gappy.rms" --edf "$work/gappy.edf" >"$work/edf.out"
expect_output "$work/edf.out" "10 signals at 1000 Hz"
expect_output "$work/edf.out" "samples held flat where there were none"
edf_kind() { head -c 197 "$1" | tail -c 5; }
[ "$(edf_kind "$work/gappy.edf")" = EDF+C ] || fail "gappy.edf is not EDF+C"
"$ROLLMAP" export "$work/roller.rms" --edf "$work/roller.edf" >"$work/edf.out"
expect_output "$work/edf.out" "120 records of 1 s"
[ "$(edf_kind "$work/roller.edf")" = EDF+C ] || fail "roller.edf is not EDF+C"
"$ROLLMAP" export "$work/cut.rms" --edf "$work/cut.edf" >"$work/edf.out"
expect_output "$work/edf.out" "117 records of 1 s"   # 40, 41 and 42 s left out
expect_output "$work/edf.out" "(500 samples held flat"   # 43.0 to 43.5 s
[ "$(edf_kind "$work/cut.edf")" = EDF+D ] || fail "cut.edf is not EDF+D"
expect_output "$work/edf.out" "--contiguous writes EDF+C"
"$ROLLMAP" export "$work/cut.rms" --edf "$work/cut-c.edf" --contiguous >"$work/edf.out"
expect_output "$work/edf.out" "EDF+C with 10 signals at 1000 Hz, 120 records of 1 s"
expect_output "$work/edf.out" "(3500 samples held flat"   # 40.0 to 43.5 s
[ "$(edf_kind "$work/cut-c.edf")" = EDF+C ] || fail "cut-c.edf is not EDF+C"
if [ -n "$mne_python" ]; then   # every sample at its true time
    "$mne_python" "$ROLLMAP_SOURCE/tests/integration/edf_check.py" --contiguous \
        "$work/cut-c.edf" "$work/cut.csv" "$work/cut-report/report.json" \
        || fail "cut-c.edf does not read back as exported"
fi
grep -q ',position_cm,' "$work/ball.csv" && fail "the ball session has an encoder"
! grep -qa "secret note" "$work/roller.edf" || fail "notes leaked into the EDF+"

echo "-- bad input fails clearly and keeps what was there"
printf 'not a session\n' >"$work/junk.rms"
echo old >"$work/kept.edf"
expect_exit 1 "$ROLLMAP" export "$work/junk.rms" --edf "$work/kept.edf"
expect_output "$work/err" "rollmap export: $work/junk.rms"
[ "$(cat "$work/kept.edf")" = old ] || fail "a failed export changed the output"
expect_exit 1 "$ROLLMAP" export "$work/roller.rms" --edf "$work/no/such/dir/x.edf"
expect_output "$work/err" "rollmap export: $work/no/such/dir/x.edf: cannot create"
expect_exit 1 "$ROLLMAP" export "$work/roller.rms" --edf "$work/roller.rms"
expect_output "$work/err" "would overwrite the session file"
"$ROLLMAP" info "$work/roller.rms" >/dev/null || fail "the session was harmed"
expect_exit 2 "$ROLLMAP" export "$work/roller.rms" "$work/gappy.rms" --edf "$work/x.edf"
expect_exit 2 "$ROLLMAP" export "$work/roller.rms" --edf "$work/x.edf" -o "$work/x.csv"
expect_exit 2 "$ROLLMAP" export "$work/roller.rms" --contiguous -o "$work/x.csv"
expect_output "$work/err" "--contiguous goes with --edf"
expect_exit 2 "$ROLLMAP" export --client C-042 "$work/roller.rms" --folder "$work/f"
ls "$work"/*.XXXXXX "$work"/*.edf.?????? 2>/dev/null && fail "temporary files left"

echo "-- a client's sessions from the library as a researcher folder"
db=$work/library.db
"$ROLLMAP" library add --db "$db" "$work/roller.rms" "$work/gappy.rms" \
    "$work/other.rms" >/dev/null
"$ROLLMAP" library name --db "$db" C-042 "Jane Roe" >/dev/null
study=$work/study
"$ROLLMAP" export --client C-042 --csv "$study" --db "$db" >"$work/out"
expect_output "$work/out" "wrote $study: 2 sessions, 1 participants"
"$ROLLMAP" export --client C-007 --csv "$study" --db "$db" >/dev/null
printf 'participant_id\tclient_code\tdisplay_name\nsub-C007\tC-007\tn/a\nsub-C042\tC-042\tJane Roe\n' \
    | cmp - "$study/participants.tsv" || fail "participants.tsv: $(cat "$study/participants.tsv")"
day=$(date -u +%Y%m%d -d "@$(( $("$ROLLMAP" info "$work/roller.rms" --json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"]["start_unix_us"])') / 1000000 ))")
base=$study/sub-C042/ses-$day/sub-C042_ses-${day}_task-hamstring
for f in acq-left_run-1_force.csv acq-left_run-1_force.json \
         acq-right_run-2_force.csv acq-right_run-2_force.json; do
    [ -f "${base}_$f" ] || fail "missing ${base}_$f: $(find "$study" -type f)"
done
[ "$(stat -c %a "$study/sub-C042")" = 700 ] || fail "sub-C042 is not 0700"
# The force CSV has the CSV export's newtons and positions, row by row.
python3 - "${base}_acq-left_run-1_force.csv" "$work/roller.csv" \
    "${base}_acq-left_run-1_force.json" "$work/roller-report/report.json" <<'EOF' \
    || fail "the folder's force CSV or sidecar is wrong"
import csv, json, sys
folder = list(csv.DictReader(open(sys.argv[1])))
export = list(csv.DictReader(line for line in open(sys.argv[2]) if not line.startswith("#")))
assert len(folder) == len(export) == 120000, (len(folder), len(export))
t0 = float(export[0]["t_s"])
for a, b in zip(folder, export):
    assert abs(float(a["t_s"]) - (float(b["t_s"]) - t0)) < 1e-6, (a, b)
    for col in ("ch0_N", "ch5_N", "position_cm", "mark"):
        assert a[col] == b[col], (col, a, b)
    total = float(b["ch0_N"]) + float(b["ch1_N"])
    assert abs(float(a["total_N"]) - total) < 2e-4, (a, b)
side = json.load(open(sys.argv[3]))
report = json.load(open(sys.argv[4]))
assert side["SamplingFrequency"] == 1000
assert side["ClientCode"] == "C-042" and side["Side"] == "left"
assert side["Notes"] == "secret note", side["Notes"]
assert side["Columns"]["ch0_N"]["Units"] == "N"
assert side["Columns"]["position_cm"]["Units"] == "cm"
assert side["Analysis"]["dwells"] == len(report["dwells"])
missing = set(report["summary"]) - set(side["Analysis"])
assert not missing, missing
assert len(side["Analysis"]["tender_spots"]) == len(report["tender_spots"])
assert "Jane Roe" not in open(sys.argv[3]).read()
EOF

echo "-- --redact drops names and notes, also from rows already there"
"$ROLLMAP" export --client C-042 --csv "$study" --db "$db" --redact >/dev/null
printf 'participant_id\tclient_code\nsub-C007\tC-007\nsub-C042\tC-042\n' \
    | cmp - "$study/participants.tsv" || fail "redacted participants.tsv: $(cat "$study/participants.tsv")"
! grep -rq -e "Jane Roe" -e "secret note" "$study" || fail "a name or note survived --redact"

echo "-- a client's missing session file is skipped and named; the others go out"
cp "$work/gappy.rms" "$work/gone.rms"
"$ROLLMAP" library add --db "$db" "$work/gone.rms" >/dev/null   # same session as gappy: moves
rm "$work/gone.rms"
rm -rf "$work/partial"
expect_exit 1 "$ROLLMAP" export --client C-042 --csv "$work/partial" --db "$db"
expect_output "$work/err" "rollmap export: skipped $work/gone.rms"
expect_output "$work/err" "1 of 2 sessions skipped"
expect_output "$work/out" "wrote $work/partial: 1 sessions, 1 participants"
[ "$(find "$work/partial/sub-C042" -name '*_force.csv' | wc -l)" = 1 ] \
    || fail "the readable session was not exported: $(find "$work/partial" -type f)"
"$ROLLMAP" library add --db "$db" "$work/gappy.rms" >/dev/null   # back where it was

echo "-- session files as a folder, and clear errors"
"$ROLLMAP" export "$work/roller.rms" "$work/other.rms" --folder "$work/files" >/dev/null
[ "$(wc -l <"$work/files/participants.tsv")" = 3 ] || fail "two participants expected"
expect_exit 1 "$ROLLMAP" export --client C-999 --csv "$work/none" --db "$db"
expect_output "$work/err" "no sessions of client \"C-999\""
expect_exit 1 "$ROLLMAP" export --client C-042 --csv "$work/none" --db "$work/missing.db"
expect_output "$work/err" "$work/missing.db: no library there"
expect_exit 1 "$ROLLMAP" export "$work/junk.rms" --folder "$work/junkdir"
expect_output "$work/err" "$work/junk.rms"
record "$work/clash.rms" "seed=9,duration=30" C042 left ""
expect_exit 1 "$ROLLMAP" export "$work/clash.rms" --folder "$study"
expect_output "$work/err" "$study/participants.tsv: sub-C042 is client \"C-042\", not \"C042\""
[ "$(find "$study/sub-C042" -type f | wc -l)" = 4 ] || fail "the refused session was written"

if [ -z "$mne_python" ]; then
    echo "SKIP: python3-mne is missing, so no independent reader checked the" \
         "EDF+ files (apt-get install python3-mne, or run scripts/setup)" >&2
    exit 77
fi
echo "ok"
