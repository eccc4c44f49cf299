#!/usr/bin/python3
"""Live latency to real browsers: from a sample published at rollmapd's
live socket (1 kHz, 8 channels) to the live page's EventSource handler in
headless Chromium, through rollmap serve, with 1 and with 20 browser
windows open on /live (each at the page's own display rate, 20 a second).

bench_latency --browsers publishes and logs each sample's wall-clock
publish time; a listener added in front of the page's own handler (before
any page script runs) notes each SAMPLE's t_s and the wall-clock time of
its dispatch (performance.timeOrigin + performance.now()). Latency is the
difference, on the one machine's clock.

A browser keeps at most 6 HTTP/1.1 connections to one server, and each
open live page holds one, so the windows are spread over browsers of 5
windows each (20 viewers: 4 Chromium instances), as 20 phones or tablets
would each be their own browser. On one 2-core machine those 20
renderers compete for the CPU with everything else, so a third run keeps
one browser window and makes the other 19 viewers plain HTTP readers of
the same stream (/api/live?rate=20): the server's side of 20 viewers,
with the latency seen in the one real browser.

    bench/bench_browser_latency.py BUILD_DIR [SECONDS per run, default 10]

Needs python3-selenium and chromium-driver (scripts/setup --test)."""
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from selenium import webdriver

WINDOWS_PER_BROWSER = 5
ARRIVALS = """
window.__arrivals = [];
var RealEventSource = window.EventSource;
window.EventSource = function (url, init) {
  var source = new RealEventSource(url, init);
  source.addEventListener('message', function (ev) {
    var at = performance.timeOrigin + performance.now();
    var m = JSON.parse(ev.data);
    if (m.class === 'SAMPLE') window.__arrivals.push([m.t_s, at]);
  });
  return source;
};
"""


def browser():
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1366,768",
              "--disable-background-timer-throttling",
              "--disable-renderer-backgrounding"):
        opts.add_argument(a)
    driver = webdriver.Chrome(options=opts)
    note_arrivals(driver)
    return driver


def note_arrivals(driver):
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ARRIVALS})


def http_viewer(port, stop):
    """A viewer without a browser: reads the live stream until told."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/api/live?rate=20", headers={"Accept": "text/event-stream"})
    answer = conn.getresponse()
    while not stop.is_set():
        try:
            if not answer.readline():
                break
        except OSError:
            break
    conn.close()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run(build, seconds, viewers, http_viewers=0):
    log = tempfile.mktemp(prefix="rollmap-browser-latency-")
    bench = subprocess.Popen([os.path.join(build, "bench", "bench_latency"), "--browsers",
                              str(seconds), log],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(bench.stdout.readline().split()[1])
    drivers = []
    try:
        windows = []
        for i in range(viewers):
            if i % WINDOWS_PER_BROWSER == 0:
                drivers.append(browser())
            else:
                drivers[-1].switch_to.new_window("window")
                note_arrivals(drivers[-1])  # a new window is a new page target
            drivers[-1].get(f"http://127.0.0.1:{port}/live")
            windows.append((drivers[-1], drivers[-1].current_window_handle))
        stop = threading.Event()
        readers = [threading.Thread(target=http_viewer, args=(port, stop), daemon=True)
                   for _ in range(http_viewers)]
        for r in readers:
            r.start()
        time.sleep(2)  # the relay is connected and every stream open
        bench.stdin.write("go\n")
        bench.stdin.flush()
        bench.wait(timeout=seconds + 60)
        stop.set()
        arrivals = []
        for driver, handle in windows:
            driver.switch_to.window(handle)
            arrivals.extend(driver.execute_script("return window.__arrivals"))
    finally:
        for driver in drivers:
            driver.quit()
    published = {}
    with open(log) as f:
        for line in f:
            index, wall_us = line.split()
            published[int(index)] = int(wall_us) / 1000.0
    os.unlink(log)
    latency_ms = [at - published[round(t_s * 1000)] for t_s, at in arrivals
                  if round(t_s * 1000) in published]
    if not latency_ms:
        sys.exit("bench_browser_latency: no sample reached the pages")
    label = f"{viewers:2d} browser window{'s' if viewers > 1 else ' '}"
    if http_viewers:
        label += f" + {http_viewers} HTTP viewers"
    print(f"{label:38s} {len(latency_ms):6d} events  "
          f"median {statistics.median(latency_ms):6.1f} ms  p99 {percentile(latency_ms, 99):6.1f} ms  "
          f"max {max(latency_ms):6.1f} ms")


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: bench_browser_latency.py BUILD_DIR [SECONDS]")
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    print(f"sample at rollmapd's live socket (1 kHz, 8 channels) to the /live page's "
          f"EventSource handler in headless Chromium, {seconds:.0f} s per run")
    run(sys.argv[1], seconds, 1)
    run(sys.argv[1], seconds, 1, http_viewers=19)
    run(sys.argv[1], seconds, 20)


main()
