#!/usr/bin/env python3
"""Golden regression cases (tests/golden/README.md).

Each folder under tests/golden is one case: an input, how to turn it into a
session, and the expected report.json and summary.txt. This runs the real
rollmap on every case and compares what it writes with the expected files:
numbers within a tolerance, everything else exactly, and prints a readable
list of the differences. With --regen it rewrites the expected files
instead and prints what changed, for review before committing.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

GOLDEN_DIR = os.path.dirname(os.path.abspath(__file__))
EXPECTED = ("report.json", "summary.txt")
# A session made while the test runs gets a new id and the wall-clock
# start of that run; a stored session keeps its own.
VOLATILE_JSON = {"session.id", "session.start", "session.start_unix_us"}
VOLATILE_TEXT = ("Session ", "Start (UTC) ")
REL_TOL = 1e-6
ABS_TOL = 1e-9
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
MAX_LISTED = 20


def case_names(selected):
    names = sorted(n for n in os.listdir(GOLDEN_DIR)
                   if os.path.isdir(os.path.join(GOLDEN_DIR, n)))
    unknown = [n for n in selected if n not in names]
    if unknown:
        sys.exit("run_golden: no such case: %s (cases: %s)"
                 % (", ".join(unknown), ", ".join(names)))
    return [n for n in names if not selected or n in selected]


def run(rollmap, args, env, what):
    proc = subprocess.run([rollmap] + args, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("%s: rollmap %s: exit %d\n%s" % (
            what, shlex.join(args), proc.returncode, proc.stderr.strip()))


def isolated_env(work):
    """No stored calibrations, libraries or gnuplot from the machine: the
    report files do not depend on graphs, and gnuplot is the slow part."""
    env = dict(os.environ)
    empty = os.path.join(work, "empty-path")
    os.makedirs(empty, exist_ok=True)
    env.update(HOME=work, XDG_CONFIG_HOME=os.path.join(work, "config"),
               XDG_DATA_HOME=os.path.join(work, "data"),
               XDG_RUNTIME_DIR=os.path.join(work, "run"), PATH=empty,
               TZ="UTC", LC_ALL="C")
    return env


def make_report(rollmap, name, work):
    """Runs the case; returns (folder with the report files, volatile?)."""
    case = os.path.join(GOLDEN_DIR, name)
    env = isolated_env(work)
    session = os.path.join(case, "session.rms")
    made = not os.path.exists(session)
    if made:
        session = os.path.join(work, name + ".rms")
        with open(os.path.join(case, "recipe")) as f:
            line = " ".join(l.strip() for l in f if l.strip() and not l.startswith("#"))
        args = [a.format(case=case, session=session) for a in shlex.split(line)]
        run(rollmap, args, env, name)
    out = os.path.join(work, name + ".report")
    run(rollmap, ["report", session, "-o", out], env, name)
    return out, made


# ---------------------------------------------------------------------------
# Comparison


def close(expected, got, tolerance):
    return abs(expected - got) <= max(tolerance, REL_TOL * max(abs(expected), abs(got)))


def json_differences(expected, got, path, volatile, out):
    if path in volatile:
        return
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in sorted(expected.keys() | got.keys()):
            where = path + "." + key if path else key
            if key not in got:
                out.append("%s: missing (expected %s)" % (where, json.dumps(expected[key])))
            elif key not in expected:
                out.append("%s: new (got %s)" % (where, json.dumps(got[key])))
            else:
                json_differences(expected[key], got[key], where, volatile, out)
    elif isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            out.append("%s: %d items expected, got %d" % (path, len(expected), len(got)))
        for i, (e, g) in enumerate(zip(expected, got)):
            json_differences(e, g, "%s[%d]" % (path, i), volatile, out)
    elif (isinstance(expected, (int, float)) and isinstance(got, (int, float))
          and not isinstance(expected, bool) and not isinstance(got, bool)):
        if not close(expected, got, ABS_TOL):
            out.append("%s: expected %r, got %r" % (path, expected, got))
    elif expected != got:
        out.append("%s: expected %s, got %s" % (path, json.dumps(expected), json.dumps(got)))


def last_digit(number_text):
    """One unit in the last printed decimal: the rounding a text may show."""
    mantissa = re.split("[eE]", number_text)[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 10.0 ** -decimals


def text_lines_match(expected, got):
    if NUMBER.sub("#", expected) != NUMBER.sub("#", got):
        return False
    for e, g in zip(NUMBER.findall(expected), NUMBER.findall(got)):
        if not close(float(e), float(g), last_digit(e) * 1.0001):
            return False
    return True


def text_differences(expected, got, volatile, out):
    e_lines, g_lines = expected.splitlines(), got.splitlines()
    if len(e_lines) != len(g_lines):
        out.append("%d lines expected, got %d" % (len(e_lines), len(g_lines)))
    for n, (e, g) in enumerate(zip(e_lines, g_lines), 1):
        if volatile and e.startswith(VOLATILE_TEXT) and g.startswith(VOLATILE_TEXT):
            continue
        if not text_lines_match(e, g):
            out.append("line %d:\n    expected %r\n    got      %r" % (n, e, g))


def differences(name, expected_dir, got_dir, volatile):
    """{file: [difference, ...]} for the files that differ."""
    found = {}
    for file in EXPECTED:
        expected_path = os.path.join(expected_dir, file)
        with open(os.path.join(got_dir, file)) as f:
            got = f.read()
        if not os.path.exists(expected_path):
            found[file] = ["no expected file yet"]
            continue
        with open(expected_path) as f:
            expected = f.read()
        out = []
        if file.endswith(".json"):
            json_differences(json.loads(expected), json.loads(got), "",
                             VOLATILE_JSON if volatile else set(), out)
        else:
            text_differences(expected, got, volatile, out)
        if out:
            found[file] = out
    return found


def print_differences(name, found, stream):
    for file, lines in found.items():
        print("%s: %s: %d difference%s" % (name, file, len(lines), "" if len(lines) == 1 else "s"),
              file=stream)
        for line in lines[:MAX_LISTED]:
            print("  " + line, file=stream)
        if len(lines) > MAX_LISTED:
            print("  ... and %d more" % (len(lines) - MAX_LISTED), file=stream)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollmap", required=True, help="the rollmap program")
    parser.add_argument("--regen", action="store_true",
                        help="rewrite the expected files and print what changed")
    parser.add_argument("cases", nargs="*", help="cases to run (default: all)")
    opt = parser.parse_args()
    failed = []
    with tempfile.TemporaryDirectory(prefix="rollmap-golden-") as work:
        for name in case_names(opt.cases):
            try:
                got_dir, volatile = make_report(opt.rollmap, name, work)
            except RuntimeError as e:
                print(str(e), file=sys.stderr)
                failed.append(name)
                continue
            case_dir = os.path.join(GOLDEN_DIR, name)
            found = differences(name, case_dir, got_dir, volatile)
            if opt.regen:
                for file in EXPECTED:
                    with open(os.path.join(got_dir, file)) as src, \
                            open(os.path.join(case_dir, file), "w") as dst:
                        dst.write(src.read())
                print_differences(name, found, sys.stdout)
                print("%s: %s" % (name, "rewritten" if found else "unchanged"))
            elif found:
                print_differences(name, found, sys.stderr)
                failed.append(name)
            else:
                print("%s: ok" % name)
    if failed:
        print("\nFAILED: %s" % ", ".join(failed), file=sys.stderr)
        if not opt.regen:
            print("If the change in figures is intended: scripts/regen-golden, review "
                  "`git diff tests/golden`, commit the expected files with the change "
                  "(docs/HACKING.md, \"Golden cases\").", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
