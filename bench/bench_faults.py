#!/usr/bin/env python3
"""What a fault costs rollmapd on the virtual roller (sim:, 1 kHz), in
samples that are in no session file:

  kill -9    rollmapd is killed at a random moment of a session; a client
             watching the live socket notes the last sample time it saw,
             and the loss is that time less the span the file holds after
             recovery (so it undercounts by the live view's latency, about
             one watch line: 2 ms at the rate asked for here).
  replug     the roller is unplugged for 5 s; the loss is the unplug gap in
             the file less the 5 s the device was away (reconnecting and
             identifying), and the file's last sample is set against the
             simulator's (the replug must not move the time).

usage: bench/bench_faults.py [BUILD_DIR] [RUNS]     (default build/, 5)
docs/PERFORMANCE.md keeps the figures.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

RATE_HZ = 1000
UNPLUG_S = 5.0


class Daemon:
    def __init__(self, build, work, source, *options):
        self.work, self.sock = work, os.path.join(work, "rollmapd.sock")
        self.log = open(os.path.join(work, "rollmapd.log"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(build, "rollmapd"), "--foreground", "--source", source,
             "--socket", self.sock, "--library", os.path.join(work, "library"),
             "--set", "session.database=" + os.path.join(work, "library.db"),
             *options], stderr=self.log)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                sys.exit("bench_faults: rollmapd did not start")
            time.sleep(0.05)

    def connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        f = s.makefile("rw")
        f.readline()  # VERSION
        return s, f

    def request(self, line):
        s, f = self.connect()
        f.write(line + "\n")
        f.flush()
        for answer in f:
            msg = json.loads(answer)
            if msg.get("class") not in ("SAMPLE", "EVENT", "NOTICE"):
                s.close()
                return msg
        return {}

    def log_text(self):
        with open(os.path.join(self.work, "rollmapd.log")) as f:
            return f.read()

    def wait_log(self, text, seconds):
        deadline = time.monotonic() + seconds
        while text not in self.log_text():
            if time.monotonic() > deadline:
                sys.exit("bench_faults: the log never said %r" % text)
            time.sleep(0.1)


class Watcher(threading.Thread):
    """Keeps the t_s of the last SAMPLE line the live socket sent."""

    def __init__(self, daemon):
        super().__init__(daemon=True)
        self.sock, self.f = daemon.connect()
        self.f.write('{"cmd":"watch","samples":true,"rate":500,"events":false}\n')
        self.f.flush()
        self.last_t_s = None

    def run(self):
        try:
            for line in self.f:
                msg = json.loads(line)
                if msg.get("class") == "SAMPLE":
                    self.last_t_s = msg["t_s"]
        except (OSError, ValueError):
            pass


def session_info(build, work):
    sessions = os.path.join(work, "library")
    files = [os.path.join(root, n) for root, _, names in os.walk(sessions)
             for n in names if n.endswith(".rms")]
    if len(files) != 1:
        sys.exit("bench_faults: expected one session file, found %d" % len(files))
    out = subprocess.run([os.path.join(build, "rollmap"), "info", files[0], "--json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def kill9_run(build, seed):
    work = tempfile.mkdtemp()
    try:
        # Started on request: no pre-roll, so the live view's t_s and the
        # file both count from the session's first sample.
        d = Daemon(build, work, "sim:seed=%d,duration=60" % seed,
                   "--set", "session.auto=false")
        d.wait_log("channels", 10)
        watcher = Watcher(d)
        if d.request('{"cmd":"start"}').get("class") != "OK":
            sys.exit("bench_faults: start refused")
        watcher.start()
        time.sleep(random.uniform(3.0, 8.0))
        seen = watcher.last_t_s
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        info = session_info(build, work)
        span = (info["last_us"] - info["first_us"]) / 1e6
        return seen - span
    finally:
        shutil.rmtree(work)


def replug_run(build, seed):
    work = tempfile.mkdtemp()
    try:
        duration = 20
        d = Daemon(build, work, "sim:seed=%d,duration=%d,unplug=8,unplug_for=%g"
                   % (seed, duration, UNPLUG_S), "--set", "session.auto=false")
        d.wait_log("channels", 10)
        if d.request('{"cmd":"start"}').get("class") != "OK":
            sys.exit("bench_faults: start refused")
        d.wait_log("(the source ended)", 60)
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait()
        info = session_info(build, work)
        gaps = [g for g in info["gaps"] if g["reason"] == "unplugged"]
        if len(gaps) != 1:
            sys.exit("bench_faults: expected one unplug gap, found %d" % len(gaps))
        beyond = (gaps[0]["end_us"] - gaps[0]["start_us"]) / 1e6 - UNPLUG_S
        drift = info["last_us"] / 1e6 - (duration - 1.0 / RATE_HZ)
        return beyond, drift
    finally:
        shutil.rmtree(work)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    random.seed(1)
    lost = [kill9_run(build, 9 + k) for k in range(runs)]
    print("kill -9: lost %s s; max %.3f s = %d samples at 1 kHz"
          % (" ".join("%.3f" % x for x in lost), max(lost), round(max(lost) * RATE_HZ)))
    replugs = [replug_run(build, 6 + k) for k in range(runs)]
    print("replug (%g s unplugged): lost beyond the unplug %s s; max %.3f s = %d samples"
          % (UNPLUG_S, " ".join("%.3f" % b for b, _ in replugs),
             max(b for b, _ in replugs), round(max(b for b, _ in replugs) * RATE_HZ)))
    print("replug: last sample against the simulator's %s ms"
          % " ".join("%+.1f" % (1000 * dr) for _, dr in replugs))


if __name__ == "__main__":
    main()
