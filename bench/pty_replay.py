#!/usr/bin/env python3
"""Replay a raw byte capture into a fresh pty at SPEED times its device
rate, as a device on a serial port would send it, for bench_chain_max.sh.

    pty_replay.py CAPTURE LINK BYTES_PER_SECOND [SECONDS]

Makes a pty, links LINK to its slave side, waits for a reader to open it,
then writes the capture in 1 KiB chunks (about what USB full speed moves in
1 ms) on a schedule of BYTES_PER_SECOND, for at most SECONDS of wall time.
A pty never drops bytes: a reader that cannot keep up makes the writer
late. Prints "bytes written_s scheduled_s" on stdout.
"""
import os
import sys
import termios
import time
import tty

CHUNK = 1024


def main():
    capture, link, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 1e9
    data = open(capture, "rb").read()
    master, slave = os.openpty()
    tty.setraw(slave)
    # the reader opens the slave by name; keeping our slave fd open means
    # the reader's open/close never hangs up the line
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.ttyname(slave), link)
    time.sleep(float(os.environ.get("REPLAY_WAIT", "1.5")))
    start = time.monotonic()
    sent = 0
    total = min(len(data), int(rate * limit))
    while sent < total:
        due = start + sent / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        sent += os.write(master, data[sent:sent + CHUNK])
    termios.tcdrain(master)
    elapsed = time.monotonic() - start
    print(sent, round(elapsed, 3), round(total / rate, 3))
    time.sleep(0.5)


if __name__ == "__main__":
    main()
