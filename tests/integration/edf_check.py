#!/usr/bin/env python3
"""Check an EDF+ file written by 'rollmap export --edf' with an independent
reader (MNE) against 'rollmap export --csv' and 'rollmap report' of the same
session.

usage: edf_check.py [--contiguous] EDF CSV REPORT_JSON

Checks: channel names, sample rate, every CSV sample's value within the
16-bit quantisation step (the step from the EDF header, read here byte by
byte), the data records' onsets (each record's time-keeping TAL, read
byte by byte): EDF+C when they follow on, else EDF+D with no record
without a CSV sample (with --contiguous, for 'export --contiguous': EDF+C,
and a record without a CSV sample holds the value before it flat), the position an offset of the CSV's encoder position and in the
report's frame (0 cm = proximal end: over each dwell it averages the
dwell's position), the header's patient (the client code) and recording (device serial, side, muscle),
and the annotations: every dwell, mark and tender spot of the report and
every gap of the CSV, with their onsets, durations and texts.

MNE 1.3 ignores EDF+D: read_raw_edf reads the records one after the
other as if continuous (a record's time-keeping TAL is not used, only the
first one's sub-second start) and keeps the annotations at their onsets,
cropped to the data it read. So a CSV sample at time t is found at its
record's place in the file, not at t; the annotations are checked at
their true times in the file's own TALs (mne.read_annotations) and, as
read_raw_edf crops them, in the raw data.
Exit 0 when all hold, 1 (with the reasons) otherwise.
"""
import json
import math
import sys

import mne

CSV_DECIMALS_N = 0.00005    # the CSV prints newtons to 4 decimals
CSV_DECIMALS_CM = 0.0005    # and positions to 3
TIME_TOLERANCE_S = 0.0011   # report times have 3 decimals; EDF 100 us
DWELL_FRAME_CM = 0.1        # raw vs the analysis's smoothed position (0.0002 seen)


class Failures:
    def __init__(self):
        self.messages = []

    def check(self, ok, message):
        if not ok and len(self.messages) < 20:
            self.messages.append(message)
        return ok


def edf_header(path):
    """Signal ranges and the identity fields, straight from the bytes."""
    with open(path, "rb") as f:
        head = f.read(256)
        ns = int(head[252:256])
        sig = f.read(256 * ns)

    def fields(offset, width):
        return [sig[offset + width * i:offset + width * (i + 1)].decode().strip()
                for i in range(ns)]

    labels = fields(0, 16)
    samples = [int(v) for v in fields(ns * 216, 8)]  # per data record
    at = ns * (16 + 80 + 8)
    pmin = [float(v) for v in fields(at, 8)]
    pmax = [float(v) for v in fields(at + 8 * ns, 8)]
    dmin = [int(v) for v in fields(at + 16 * ns, 8)]
    dmax = [int(v) for v in fields(at + 24 * ns, 8)]
    steps = {labels[i]: (pmax[i] - pmin[i]) / (dmax[i] - dmin[i])
             for i in range(ns)}
    return {"patient": head[8:88].decode().strip(),
            "recording": head[88:168].decode().strip(),
            "reserved": head[192:236].decode().strip(),
            "steps": steps,
            "onsets": record_onsets(path, 256 * (ns + 1), labels, samples)}


def record_onsets(path, header_bytes, labels, samples):
    """Each data record's onset: its time-keeping TAL, '+<s>' 20 20 0 at
    the start of the first annotation signal."""
    signal = labels.index("EDF Annotations")
    start = 2 * sum(samples[:signal])
    record_bytes = 2 * sum(samples)
    onsets = []
    with open(path, "rb") as f:
        f.seek(header_bytes)
        while True:
            record = f.read(record_bytes)
            if len(record) < record_bytes:
                return onsets
            tal = record[start:start + 2 * samples[signal]]
            onsets.append(float(tal[:tal.index(b"\x14\x14\x00")]))


def read_csv(path):
    """Comment facts, column names and rows of a rollmap CSV export."""
    facts = {"gaps": [], "load_cells": [], "pressure_cells": []}
    rows, columns = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                key, _, value = line[2:].partition(": ")
                if key == "gap":
                    start, _, rest = value.partition(" to ")
                    end = rest.split(" ")[0]
                    facts["gaps"].append((float(start), float(end)))
                elif key.startswith("ch") and key[2:].isdigit():
                    kind = ("load_cells" if value.startswith("load cell")
                            else "pressure_cells")
                    facts[kind].append(int(key[2:]))
                else:
                    facts.setdefault(key, value)
            elif columns is None:
                columns = line.split(",")
            else:
                rows.append([float(v) for v in line.split(",")])
    return facts, columns, rows


def expected_channel_names(columns):
    names = ["Force ch%s" % c[2:-2] for c in columns
             if c.startswith("ch") and c.endswith("_N")]
    names.append("Force total")
    if "position_cm" in columns:
        names.append("Position")
    return names


def record_places(fail, raw, header):
    """Where each data record (by its whole second since the first) lies
    in what MNE read: records follow each other there, gaps or not."""
    onsets = header["onsets"]
    fail.check(len(onsets) * raw.info["sfreq"] == raw.n_times,
               "MNE read %d samples from %d data records"
               % (raw.n_times, len(onsets)))
    seconds = [round(onset - onsets[0]) for onset in onsets]
    fail.check(all(abs(onset - onsets[0] - second) < 1e-7
                   for onset, second in zip(onsets, seconds)),
               "record onsets are not whole seconds apart: %s" % onsets[:10])
    fail.check(seconds == sorted(set(seconds)),
               "record onsets do not increase: %s" % seconds[:10])
    continuous = seconds == list(range(len(seconds)))
    kind = "EDF+C" if continuous else "EDF+D"
    fail.check(header["reserved"] == kind, "%s, but the records %s"
               % (header["reserved"], "follow on" if continuous
                  else "leave out %s s" % sorted(set(range(seconds[-1] + 1))
                                                 - set(seconds))[:10]))
    return {second: k for k, second in enumerate(seconds)}


def check_held_records(fail, raw, places, held):
    """Each record without a CSV sample repeats the value before it."""
    data = raw.get_data()
    rate = round(raw.info["sfreq"])
    for second in sorted(held):
        start = places[second] * rate
        block = data[:, start - 1:start + rate]
        fail.check(start > 0 and (block == block[:, :1]).all(),
                   "record %d s (no CSV sample) is not held flat" % second)


def check_values(fail, raw, header, places, columns, rows, facts,
                 contiguous):
    rate = raw.info["sfreq"]
    data = raw.get_data()
    index = {name: i for i, name in enumerate(raw.ch_names)}
    used = set()
    t0 = rows[0][0]
    force_cols = [i for i, c in enumerate(columns)
                  if c.startswith("ch") and c.endswith("_N")]
    summed = facts["load_cells"] or facts["pressure_cells"]
    pos_col = columns.index("position_cm") if "position_cm" in columns else None
    offsets = []
    for row in rows:
        grid = round((row[0] - t0) * rate)
        second = grid // round(rate)
        if not fail.check(second in places, "no data record for %.6f s"
                          % row[0]):
            continue
        used.add(second)
        j = data_index(places, rate, grid)
        total = 0.0
        for col in force_cols:
            channel = int(columns[col][2:-2])
            name = "Force ch%d" % channel
            step = header["steps"][name]
            got = data[index[name], j]
            fail.check(abs(got - row[col]) <= step / 2 + CSV_DECIMALS_N + 1e-9,
                       "%s at %.6f s: EDF %.5f, CSV %.5f (step %.5f)"
                       % (name, row[0], got, row[col], step))
            if channel in summed:
                total += row[col]
        step = header["steps"]["Force total"]
        got = data[index["Force total"], j]
        tolerance = step / 2 + CSV_DECIMALS_N * len(summed) + 1e-9
        fail.check(abs(got - total) <= tolerance,
                   "total at %.6f s: EDF %.5f, CSV sum %.5f" % (row[0], got, total))
        if pos_col is not None:
            offsets.append(data[index["Position"], j] - row[pos_col])
    held = set(places) - used
    if contiguous:
        fail.check(header["reserved"] == "EDF+C", "--contiguous, but %s"
                   % header["reserved"])
        check_held_records(fail, raw, places, held)
    else:
        fail.check(not held, "data records without a CSV sample: %s s"
                   % sorted(held)[:10])
    if offsets:
        step = header["steps"]["Position"]
        spread = max(offsets) - min(offsets)
        fail.check(spread <= step + 2 * CSV_DECIMALS_CM,
                   "position is not the CSV's plus one offset: spread %.5f cm"
                   % spread)
    return len(rows)


def data_index(places, rate, grid):
    """The place in MNE's data of the grid place (samples since the
    first)."""
    return places[grid // round(rate)] * round(rate) + grid % round(rate)


def check_position_frame(fail, raw, places, report):
    """The Position signal is in the report's frame: over each dwell it
    averages the dwell's position (within the analysis's low-pass lag)."""
    if "Position" not in raw.ch_names:
        return
    rate = raw.info["sfreq"]
    position = raw.get_data(picks=["Position"])[0]
    for d in report["dwells"]:
        held = [position[data_index(places, rate, grid)]
                for grid in range(round(d["start_s"] * rate),
                                  round(d["end_s"] * rate))
                if grid // round(rate) in places]
        mean = sum(held) / len(held)
        fail.check(abs(mean - d["position_cm"]) <= DWELL_FRAME_CM,
                   "Position over the dwell at %.3f s averages %.2f cm, the "
                   "report says %.2f cm" % (d["start_s"], mean, d["position_cm"]))


def find_annotation(annotations, onset, text, duration=None):
    for a in annotations:
        if (abs(a["onset"] - onset) <= TIME_TOLERANCE_S and a["description"] == text
                and (duration is None
                     or abs(a["duration"] - duration) <= TIME_TOLERANCE_S)):
            return True
    return False


def place(position_cm, side):
    """" 14.0 cm medial"; an unknown side is left out."""
    if position_cm is None:
        return ""
    return " %.1f cm" % position_cm + ("" if side == "unknown" else " " + side)


def check_raw_crop(fail, raw, annotations):
    """read_raw_edf keeps the file's annotations that start within the
    data it read, cut at its end."""
    length = raw.n_times / raw.info["sfreq"]
    kept = [a for a in annotations if a["onset"] < length]
    for a in kept:
        end = min(a["onset"] + a["duration"], length)
        fail.check(find_annotation(list(raw.annotations), a["onset"],
                                   a["description"], end - a["onset"]),
                   "read_raw_edf lacks '%s' at %.3f s to %.3f s"
                   % (a["description"], a["onset"], end))
    fail.check(len(raw.annotations) == len(kept),
               "read_raw_edf has %d annotations, expected %d"
               % (len(raw.annotations), len(kept)))


def check_annotations(fail, edf, raw, report, facts, t0):
    annotations = list(mne.read_annotations(edf))
    check_raw_crop(fail, raw, annotations)
    for d in report["dwells"]:
        text = "dwell" + place(d["position_cm"], d["side"])
        fail.check(find_annotation(annotations, d["start_s"], text, d["duration_s"]),
                   "no annotation '%s' at %.3f s for %.3f s"
                   % (text, d["start_s"], d["duration_s"]))
    for m in report["marks"]:
        text = "mark"
        if m["rating"] is not None:
            text += " %d/10" % m["rating"]
        if m["position_cm"] is not None:
            text += " at %.1f cm" % m["position_cm"]
        fail.check(find_annotation(annotations, m["t_s"], text),
                   "no annotation '%s' at %.3f s" % (text, m["t_s"]))
    spot_texts = {a["description"] for a in annotations}
    for s in report["tender_spots"]:
        text = "tender spot%s score %.1f" % (place(s["position_cm"], s["side"]),
                                             s["score"])
        fail.check(text in spot_texts, "no annotation '%s'" % text)
    for start, end in facts["gaps"]:
        hits = [a for a in annotations if a["description"].startswith("gap ")
                and abs(a["onset"] - (start - t0)) <= TIME_TOLERANCE_S
                and abs(a["duration"] - (end - start)) <= TIME_TOLERANCE_S]
        fail.check(hits, "no gap annotation at %.6f s for %.6f s"
                   % (start - t0, end - start))
    expected = (len(report["dwells"]) + len(report["marks"])
                + len(report["tender_spots"]) + len(facts["gaps"]))
    fail.check(len(annotations) == expected, "%d annotations, expected %d"
               % (len(annotations), expected))
    return len(annotations)


def check_identity(fail, header, facts):
    code = facts["client"].replace(" ", "_")
    fail.check(header["patient"].split(" ")[0] == code,
               "patient field %r does not start with the client code %r"
               % (header["patient"], code))
    serial = facts["device"].split(" serial ")[1].replace(" ", "_")
    for part in (serial, facts["side"], facts["muscle"]):
        fail.check(part in header["recording"],
                   "recording field %r lacks %r" % (header["recording"], part))


def main():
    args = sys.argv[1:]
    contiguous = args[:1] == ["--contiguous"]
    if contiguous:
        args = args[1:]
    if len(args) != 3:
        sys.exit(__doc__)
    edf, csv, report_path = args
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    header = edf_header(edf)
    facts, columns, rows = read_csv(csv)
    with open(report_path) as f:
        report = json.load(f)
    fail = Failures()
    names = expected_channel_names(columns)
    fail.check(raw.ch_names == names, "channels %s, expected %s"
               % (raw.ch_names, names))
    rate = float(facts["sample_rate_hz"])
    fail.check(raw.info["sfreq"] == rate, "rate %s, expected %s"
               % (raw.info["sfreq"], rate))
    check_identity(fail, header, facts)
    if not fail.messages:
        places = record_places(fail, raw, header)
        samples = check_values(fail, raw, header, places, columns, rows, facts,
                               contiguous)
        check_position_frame(fail, raw, places, report)
        notes = check_annotations(fail, edf, raw, report, facts, rows[0][0])
    if fail.messages:
        print("edf_check: %s:" % edf, *fail.messages, sep="\n  ", file=sys.stderr)
        return 1
    print("edf_check: %s: %d channels at %g Hz, %d samples within the "
          "quantisation step, %d annotations (MNE %s)"
          % (edf, len(names), rate, samples, notes, mne.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
