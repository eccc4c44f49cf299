"""A do-it-yourself HX711 roller on a pty, as docs/profiles/hx711-arduino.ini
describes it: "t_ms,raw1,raw2,enc" lines at 80 Hz that keep coming whether
or not anyone reads them (a full pty buffer drops lines, like a UART).

It drives `rollmap calibrate` through its prompts: at each one it puts the
asked load on, after the user's usual delay, and answers Enter. Used by
test_calibrate.sh; run as: hx711_device.py ROLLMAP PROFILE MODE ARGS...
MODE "steady" places each weight; "wobble" keeps the load swinging."""
import os, re, subprocess, sys, threading, time, tty

GAIN_N_PER_COUNT = 0.000265          # the profile's nominal gain
OFFSETS = (8000.0, -1000.0)          # counts with nothing on either cell
G = 9.80665
RATE_HZ = 80

rollmap, profile, mode, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
master, slave = os.openpty()
tty.setraw(slave)
os.set_blocking(master, False)
load_kg = 0.0
stop = False


def counts(channel, t):
    newtons = load_kg * G / 2
    if mode == "wobble":
        newtons += 20.0 * abs(((t * 0.7) % 2.0) - 1.0)  # a hand rocking it
    return round(OFFSETS[channel] + newtons / GAIN_N_PER_COUNT)


def stream():
    start = time.monotonic()
    n = 0
    while not stop:
        t = n / RATE_HZ
        line = "%d,%d,%d,0\n" % (t * 1000, counts(0, t), counts(1, t))
        try:
            os.write(master, line.encode())
        except BlockingIOError:
            pass  # nobody reads: the line is lost, as on a real UART
        n += 1
        time.sleep(max(0.0, start + n / RATE_HZ - time.monotonic()))


def write_header():
    """The header line must arrive: wait while the pty cannot take it."""
    for _ in range(100):
        try:
            os.write(master, b"t_ms,raw1,raw2,enc\n")
            return
        except BlockingIOError:
            time.sleep(0.01)
    sys.exit("hx711_device: the pty never took the header line")


write_header()
threading.Thread(target=stream, daemon=True).start()
source = "tty:%s?profile=%s" % (os.ttyname(slave), profile)
cal = subprocess.Popen([rollmap, "calibrate", source] + extra,
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, bufsize=0)
out = ""
while True:
    ch = cal.stdout.read(1)
    if not ch:
        break
    out += ch
    sys.stdout.write(ch)
    if out.endswith("press Enter: "):
        asked = re.findall(r"place ([0-9.]+) kg", out.splitlines()[-1])
        # The user takes a while: the device streams the old load meanwhile.
        time.sleep(3)
        load_kg = float(asked[0]) if asked else 0.0
        time.sleep(0.3)
        cal.stdin.write("\n")
        cal.stdin.flush()
err = cal.stderr.read()
sys.stderr.write(err)
stop = True
sys.exit(cal.wait())
