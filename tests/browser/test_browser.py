#!/usr/bin/env python3
"""The browser tier: real headless Chromium (Selenium) against a real
`rollmap serve`, a real session library of virtual-roller sessions (two
clients, both legs, spots easing: spot_at=) and a real rollmapd on the
virtual roller (sim: source, in real time, with an unplug).

Usage: test_browser.py ROLLMAP ROLLMAPD ARTIFACT_DIR
Screenshots at 390x844 and 1366x768 go to ARTIFACT_DIR."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

ROLLMAP, ROLLMAPD, ARTIFACTS = sys.argv[1:4]
work = tempfile.mkdtemp(prefix="rollmap-browser-")
procs = []
XSS_NOTES = '"><img src=x onerror=alert(9)>'
# The live roller: a dwell on a spot early (dwell_min), unplugged at 30 s.
UNPLUG_AT_S = 30
SIM = ("sim:seed=5,spot_at=12:medial:0.9,dwell_min=15,dwell_max=20,rest_min=0,"
       "rest_max=1,other_dwells=1,mark_at=2,unplug=%d,unplug_for=4" % UNPLUG_AT_S)


def fail(message):
    print("FAIL:", message, file=sys.stderr)
    sys.exit(1)


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def session(name, seed, client, side, settings, *extra):
    binary, rms = f"{work}/{name}.bin", f"{work}/{name}.rms"
    run(ROLLMAP, "simulate", "--seed", str(seed), "--duration", "120",
        "--set", f"side={side},{settings}", "--out", binary)
    args = [ROLLMAP, "record", "--source", f"file:{binary}?fast", "-o", rms]
    if client:
        args += ["--client", client, "--side", side]
    run(*args, *extra)
    run(ROLLMAP, "library", "add", "--db", f"{work}/lib.db", rms)


def make_library():
    # Client A: right leg, the same two spots easing over three sessions.
    session("a1", 7, "C-A", "right", "spot_at=14:medial:0.9/24:lateral:0.8")
    session("a2", 7, "C-A", "right", "spot_at=14:medial:0.5/24:lateral:0.45,dwell_min=10,dwell_max=20")
    session("a3", 7, "C-A", "right", "spot_at=14:medial:0.15/24:lateral:0.1,dwell_min=10,dwell_max=20,mark_at=2",
            "--notes", XSS_NOTES)
    session("a4", 11, "C-A", "left", "slowdown=0.6")
    # Client B, both legs; and one session nobody named (rollmapd's own).
    session("b1", 12, "C-B", "left", "spots=2")
    session("b2", 13, "C-B", "right", "spots=2")
    session("u1", 14, None, "right", "spots=1")


def start(args, log_name, ready):
    log = open(f"{work}/{log_name}", "w")
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    procs.append(p)
    for _ in range(100):
        text = open(f"{work}/{log_name}").read()
        found = ready(text)
        if found:
            return p, found
        if p.poll() is not None:
            fail(f"{args[0]} exited: {text}")
        time.sleep(0.1)
    fail(f"{args[0]} did not start: {open(f'{work}/{log_name}').read()}")


# Counts the sound cues the page plays: wraps the real Web Audio
# oscillator's start, before any page script runs.
CUE_RECORDER = """
window.__cues = [];
var realOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  var osc = realOscillator.call(this), ctx = this, realStart = osc.start.bind(osc);
  osc.start = function (when) {
    window.__cues.push({hz: osc.frequency.value, state: ctx.state});
    return realStart(when);
  };
  return osc;
};
"""
A11Y_AUDIT = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "a11y_audit.js")).read()


def browser(width, height):
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", f"--window-size={max(width, 800)},{height}"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts)
    emulate(driver, width, height)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CUE_RECORDER})
    return driver


def emulate(driver, width, height):
    """A window cannot be narrower than 500 px: a phone's width is emulated."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800})


def audit(driver, page, width):
    problems = driver.execute_script(A11Y_AUDIT)
    if problems:
        fail(f"{page} at {width} px: accessibility: " + "; ".join(problems))


def console_errors(driver, page):
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    if errors:
        fail(f"{page}: console errors: {errors}")


def wait(driver, seconds, condition, what):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.1).until(condition)
    except Exception:
        shot = f"{ARTIFACTS}/failed.png"
        driver.save_screenshot(shot)
        fail(f"{what} (screenshot {shot}; state: "
             f"{driver.find_element(By.ID, 'state').text if driver.find_elements(By.ID, 'state') else '-'})")


def number(driver, element_id):
    text = driver.find_element(By.ID, element_id).text
    return float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else None


def live_scenarios(driver, base, status_of):
    driver.get(base + "/live")
    # The force changes within 2 s of load.
    wait(driver, 30, lambda d: (number(d, "force") or 0) > 30, "no force under load on the live page")
    first, t0 = number(driver, "force"), time.monotonic()
    wait(driver, 2, lambda d: number(d, "force") not in (None, first), "the force did not change within 2 s")
    print(f"  force changed within {time.monotonic() - t0:.2f} s")
    # The contact point is on the thigh and moves along it.
    contact = driver.find_element(By.ID, "contact")
    wait(driver, 5, lambda d: contact.is_displayed(), "the contact point is not shown on the thigh")
    first_y = contact.get_attribute("cy")
    # (within the longest hold the virtual person makes, 20 s)
    wait(driver, 30, lambda d: contact.get_attribute("cy") != first_y, "the contact point does not move")
    lean = driver.find_element(By.ID, "lean").text
    if not re.fullmatch(r"-|centred|\d+ mm (medial|lateral|toward the (left|right) end)", lean):
        fail(f"the lean is not in words with its unit: {lean!r}")
    sound_on_with_short_hold_goal(driver)
    # The hold timer runs through a dwell; the pace agrees with it all along.
    wait(driver, 40, lambda d: pace_agrees_with_hold(d) and (number(d, "hold") or 0) >= 5,
         "the hold timer never ran")
    held = number(driver, "hold")

    # The bar read with the timer, from one sample: a hold may end just after.
    def progress_once_grown(d):
        pace_agrees_with_hold(d)
        hold, progress = d.execute_script("return [document.getElementById('hold').textContent,"
                                          " document.getElementById('hold-progress').value]")
        return int(hold) > held and float(progress)
    progress = wait(driver, 3, progress_once_grown, "the hold timer stopped")
    if progress < 5:
        fail(f"hold progress {progress}")
    print(f"  hold timer ran to {number(driver, 'hold')} s")
    wait(driver, 10, lambda d: any(c["hz"] == 880 and c["state"] == "running"
                                  for c in d.execute_script("return window.__cues")),
         "no sound cue when the hold goal was reached")
    # Tender here, rated 7.
    driver.find_element(By.ID, "tender").click()
    driver.find_element(By.CSS_SELECTOR, "#rating button[data-rating='7']").click()
    wait(driver, 5, lambda d: "7/10" in d.find_element(By.ID, "mark-note").text,
         "the mark was not confirmed")
    # Unplugged, then back, on a phone.
    phone = PhoneStateLine(driver)
    wait(driver, UNPLUG_AT_S + 15, phone.seeing(lambda d: "unplugged" in d.find_element(By.ID, "state").text.lower()
         or "no samples" in d.find_element(By.ID, "state").text.lower()), "the unplug was not shown")
    print(f"  unplug shown: {driver.find_element(By.ID, 'state').text!r}")
    no_figures_while_unplugged(driver)
    wait(driver, 20, phone.seeing(lambda d: d.find_element(By.ID, "state").text.startswith("Recording")),
         "recording did not resume after the replug")
    wait(driver, 5, phone.seeing(lambda d: re.search(r"back after a [3-9]\.\d s gap",
                                                     d.find_element(By.ID, "state").text)),
         "the gap is not shown when the roller comes back")
    print(f"  replug shown: {driver.find_element(By.ID, 'state').text!r}")
    phone.check()
    wait(driver, 10, lambda d: number(d, "force") is not None, "no force after the replug")
    cards_keep_still(driver)
    recorded = status_of()["session"]["path"]
    stop_and_start_named(driver, status_of)
    console_errors(driver, "/live")
    return recorded


# The state line and what is under it, on a phone.
STATE_PROBE = """
var top = function (id) { return Math.round(document.getElementById(id).getBoundingClientRect().top); };
var clipped = [].filter.call(document.querySelectorAll('#state, #state *'), function (e) {
  return e.scrollWidth > e.clientWidth; }).map(function (e) { return e.id; });
return {state: document.getElementById('state').innerText.replace(/[0-9.]+ s/g, 'N s'),
        under: ['force', 'thigh', 'hold', 'tender'].map(top).join(' '), clipped: clipped};
"""
PHONE_WIDTH = 390


class PhoneStateLine:
    """The unplug and the replug seen on a phone (390 px, where the state
    line used to wrap to two or three lines on an unplug): the page is
    sampled at every poll of the waits; when the state line changes, the
    force, the map, the hold timer and the Tender button under it must not
    move, and no word of it may be cut off. A screenshot of each state goes
    to the artifacts."""

    def __init__(self, driver):
        self.driver, self.samples = driver, []
        emulate(driver, PHONE_WIDTH, 844)

    def seeing(self, condition):
        def sample_then(d):
            sample = d.execute_script(STATE_PROBE)
            if sample["state"] not in {s["state"] for s in self.samples}:
                kind = re.sub(r"[^a-z]+", "-", sample["state"].lower()).strip("-")
                d.save_screenshot(f"{ARTIFACTS}/live-state-{PHONE_WIDTH}-{kind}.png")
            self.samples.append(sample)
            return condition(d)
        return sample_then

    def check(self):
        emulate(self.driver, 1366, 768)
        states = sorted({s["state"] for s in self.samples})
        for before, after in zip(self.samples, self.samples[1:]):
            if before["state"] != after["state"] and before["under"] != after["under"]:
                fail(f"at {PHONE_WIDTH} px the force, map, hold timer and Tender button moved "
                     f"({before['under']} -> {after['under']} px) as the state line went from "
                     f"{before['state']!r} to {after['state']!r}")
        clipped = [s for s in self.samples if s["clipped"]]
        if clipped:
            fail(f"at {PHONE_WIDTH} px the state line is cut off: {clipped[0]}")
        print(f"  at {PHONE_WIDTH} px nothing under the state line moved through "
              f"{len(states)} states: {' / '.join(states)!r}")


# Where a finger aims (the Tender button, the settings under the cards),
# and the texts that change several times a second.
STILL_PROBE = """
var top = function (e) { return Math.round(e.getBoundingClientRect().top); };
return {tender: top(document.getElementById('tender')),
        settings: top(document.querySelector('details.settings')),
        state: document.getElementById('state').textContent,
        texts: ['lean', 'pace', 'speed', 'pressure'].map(function (id) {
          return document.getElementById(id).textContent; }).join('|')};
"""


def cards_keep_still(driver):
    """The live figures change several times a second; the cards keep
    their height, so the Tender button and the settings do not jump under
    a finger (a lean or pace text that wrapped to another line moved them
    by a line, many times a second)."""
    samples = []
    for _ in range(60):
        samples.append(driver.execute_script(STILL_PROBE))
        time.sleep(0.1)
    if len({s["texts"] for s in samples}) < 5:
        fail(f"the live texts hardly changed in 6 s: {samples[0]['texts']!r}")
    for before, after in zip(samples, samples[1:]):
        moved = [k for k in ("tender", "settings") if before[k] != after[k]]
        if moved and before["state"] == after["state"]:
            fail(f"{' and '.join(moved)} moved while the figures changed: "
                 f"{before[moved[0]]} -> {after[moved[0]]} px as "
                 f"{before['texts']!r} became {after['texts']!r}")


FIGURES = """
return ['force', 'pressure', 'position', 'lean', 'speed', 'pace', 'hold'].map(function (id) {
  return id + '=' + document.getElementById(id).textContent; });
"""


def no_figures_while_unplugged(driver):
    """While the roller is unplugged no figure stands as if measured (the
    last force and "Too fast: slow down" stayed up, frozen)."""
    shown = [f for f in driver.execute_script(FIGURES)
             if f.split("=")[1] not in ("-", "0")]
    if shown:
        fail(f"figures still shown while the roller is unplugged: {shown}")


def pace_agrees_with_hold(driver):
    """While the hold timer counts, the pace says Holding (it said "Slow"
    or "Good" for the first seconds of every hold), and from the hold goal
    on "Done: move on" (nothing said so with the sound off); the speed has
    no sign. Figures read together, from one sample."""
    hold, goal, pace, speed = driver.execute_script(
        "return ['hold', 'hold-target', 'pace', 'speed'].map(function (id) {"
        " return document.getElementById(id).textContent; })")
    expected = ("Done: move on" if int(hold) >= int(goal)
                else "Holding" if int(hold) >= 3 else None)
    if expected and pace not in (expected, "Too fast: slow down"):
        fail(f"the pace says {pace!r} at {hold} s of a {goal} s hold goal (expected {expected!r})")
    if speed.startswith("-") and speed != "-":
        fail(f"the speed has a sign: {speed!r} cm/s")
    return True


def sound_on_with_short_hold_goal(driver):
    """Sound is off until switched on; switching it on (the space bar on
    the focused checkbox, a user's gesture as a click is) starts the audio,
    and the hold-reached cue plays then. A click lands by position, and the
    live cards above change height as their texts change, so a click can
    miss when the settings move under it; focus follows the element.
    The sound goes on before the goal is shortened: a hold already past
    the new goal reaches it at once, and its cue, played while the sound
    was still off, would be silent (a slow machine took that long)."""
    driver.find_element(By.CSS_SELECTOR, "details.settings summary").click()
    sound = driver.find_element(By.ID, "sound")
    if sound.is_selected() or driver.execute_script("return window.__cues.length"):
        fail("sound cues are not muted by default")
    sound.send_keys(Keys.SPACE)
    if not sound.is_selected():
        fail("the space bar did not switch the sound on")
    wait(driver, 10, lambda d: d.execute_script("return audio && audio.state") == "running",
         "switching the sound on did not start the audio")
    goal = driver.find_element(By.ID, "hold-goal")
    goal.clear()
    goal.send_keys("5\t")


def stop_and_start_named(driver, status_of):
    """Stop recording, then start a session named from the page."""
    stopped = status_of()["session"]["path"]
    driver.find_element(By.ID, "stop").click()

    # The virtual person rolls on: once the load falls and rises again,
    # rollmapd may open an auto session of its own before a poll sees it
    # idle, so the stop shows as either state, both with the session ended.
    def idle_on_both(d):
        return (not status_of()["session"].get("recording")
                and "not recording" in d.find_element(By.ID, "state").text)

    def another_session(d):
        session = status_of()["session"]
        return session.get("recording") and session.get("path") != stopped

    wait(driver, 10, lambda d: idle_on_both(d) or another_session(d),
         "Stop recording did not stop rollmapd's session (or the page does not say so)")
    driver.find_element(By.ID, "live-client").send_keys("C-LIVE")
    Select(driver.find_element(By.ID, "live-side")).select_by_visible_text("left")
    driver.find_element(By.ID, "live-notes").send_keys("evening roll")
    driver.find_element(By.ID, "start").click()
    wait(driver, 10, lambda d: status_of()["session"].get("client") == "C-LIVE",
         "Start recording did not start a session for C-LIVE")
    wait(driver, 5, lambda d: "C-LIVE, left leg" in d.find_element(By.ID, "state").text,
         "the page does not name the session it records")
    print(f"  stop, then start named: {driver.find_element(By.ID, 'state').text!r}")


def screenshots_and_audit(base, client_page):
    """Screenshots at a phone's and a laptop's size; the accessibility
    audit at those and at the narrowest phone (360 px)."""
    pages = {"live": "/live", "clients": "/library", "client": client_page,
             "unassigned": "/library/unassigned", "sessions": "/library/sessions",
             "session": "/session/1", "compare": "/compare?client=C-A&side=right",
             "login": "/login"}
    for width, height in ((360, 740), (390, 844), (1366, 768)):
        driver = browser(width, height)
        try:
            for name, path in pages.items():
                driver.get(base + path)
                time.sleep(1.5 if name in ("live", "session") else 0.3)
                if driver.find_elements(By.TAG_NAME, "img") and driver.execute_script(
                        "return [...document.images].some(i => i.src.endsWith('/x'))"):
                    fail(f"{path}: an injected image exists")
                if width != 360:
                    driver.save_screenshot(f"{ARTIFACTS}/{name}-{width}x{height}.png")
                console_errors(driver, path)
                audit(driver, path, width)
        finally:
            driver.quit()


def library_scenarios(driver, base):
    # The hostile notes are text, never markup.
    driver.get(base + "/session/3")
    notes = driver.find_element(By.CSS_SELECTOR, "dl.meta").text
    if XSS_NOTES not in notes:
        fail(f"the notes are not shown as text: {notes!r}")
    if driver.execute_script("return document.querySelectorAll('img[src=x]').length"):
        fail("the notes became an image element")
    # Assigning an unassigned session moves it under the client.
    driver.get(base + "/library/unassigned")
    form = driver.find_element(By.CSS_SELECTOR, "form.assign")
    form.find_element(By.NAME, "client").send_keys("C-B")
    form.find_element(By.CSS_SELECTOR, "select[name=side] option[value=right]").click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver, 10, lambda d: "/session/" in d.current_url, "assign did not go to the session")
    listed = run(ROLLMAP, "library", "list", "--db", f"{work}/lib.db", "--client", "C-B")
    if len([l for l in listed.splitlines() if "C-B" in l]) != 3:
        fail(f"the assigned session is not under C-B:\n{listed}")
    console_errors(driver, "/library/unassigned")
    # The compare page lists the eased spot, in words first.
    driver.get(base + "/compare")
    driver.find_element(By.CSS_SELECTOR, "#client option[value='C-A']").click()
    driver.find_element(By.CSS_SELECTOR, "#side option[value='right']").click()
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    words = wait(driver, 20, lambda d: d.find_element(By.ID, "in-words"), "no comparison")
    if not re.search(r"Eased: [1-9].*right leg, 1[1-7]\.\d cm", words.text, re.S):
        fail(f"the compare page does not list the eased spot near 14 cm:\n{words.text}")
    console_errors(driver, "/compare")
    client_spots_over_dates(driver, base)
    timeline_in_clock_time(driver, base)
    for path in ("/library", "/library/client?code=C-A", "/session/1"):
        driver.get(base + path)
        time.sleep(1)
        console_errors(driver, path)


def timeline_in_clock_time(driver, base):
    """The session's timeline reads its time as the report's dwell table
    does, m:ss (it was seconds: 50, 100, ... and an unlabelled "221.98"
    under the pointer)."""
    driver.get(base + "/session/1")
    labels = wait(driver, 10, lambda d: [e.text for e in d.find_elements(
        By.CSS_SELECTOR, "#timeline .dygraph-axis-label-x")], "the timeline did not draw")
    if not all(re.fullmatch(r"\d+:[0-5]\d", l) for l in labels):
        fail(f"the timeline's time axis is not in m:ss: {labels}")
    xlabel = driver.find_element(By.CSS_SELECTOR, "#timeline .dygraph-xlabel").text
    if xlabel != "time (min:s)":
        fail(f"the timeline's time axis says {xlabel!r}")
    canvas = driver.find_element(By.CSS_SELECTOR, "#timeline canvas")
    ActionChains(driver).move_to_element(canvas).perform()
    legend = wait(driver, 5, lambda d: re.match(r"at \d+:[0-5]\d \(min:s\): ", d.find_element(
        By.CSS_SELECTOR, "#timeline .dygraph-legend").text), "no time with its unit under the pointer")
    print(f"  timeline: {labels[0]} .. {labels[-1]}, {legend.string[:60]!r}")


def client_spots_over_dates(driver, base):
    """The client page shows the spot near 14 cm on the right leg easing,
    its score in each of the three sessions."""
    driver.get(base + "/library/client?code=C-A")
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "table.spot-dates tbody tr")]
    eased = [r for r in rows if re.match(r"1[1-7]\.\d cm medial ", r) and r.endswith("eased")]
    if not eased:
        fail(f"the client page does not show the eased spot near 14 cm: {rows}")
    scores = [float(v) for v in re.findall(r" (\d+\.\d)(?= )", eased[0])]
    if len(scores) != 3 or not scores[0] > scores[-1]:
        fail(f"the eased spot's scores over the dates: {eased[0]!r}")
    print(f"  client page, spot over dates: {eased[0]!r}")
    # Tick two right-leg sessions and compare just those.
    right = [r for r in driver.find_elements(By.CSS_SELECTOR, "form#pick ~ div tbody tr")
             if " right " in f" {r.text} "]
    for row in right[:2]:
        row.find_element(By.CSS_SELECTOR, "input[name=id]").click()
    driver.find_element(By.CSS_SELECTOR, "form#pick button").click()
    words = wait(driver, 20, lambda d: d.find_element(By.ID, "in-words"),
                 "comparing the ticked sessions gave no comparison")
    if not words.text.split("\n")[1].startswith("2 sessions"):
        fail(f"the ticked sessions were not compared: {words.text!r}")
    console_errors(driver, "/compare (ticked)")


def check_mark_in_session(path):
    out = f"{work}/report"
    run(ROLLMAP, "report", path, "-o", out)
    marks = json.load(open(f"{out}/report.json"))["marks"]
    if not any(m.get("rating") == 7 for m in marks):
        fail(f"no mark rated 7 in {path}: {marks}")
    print(f"  rollmap report: {len(marks)} mark(s), one rated 7")


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    make_library()
    sock = f"{work}/rollmapd.sock"
    daemon, _ = start([ROLLMAPD, "--foreground", "--source", SIM, "--socket", sock,
                       "--library", f"{work}/auto", "--set", f"session.database={work}/auto.db"],
                      "rollmapd.log", lambda t: os.path.exists(sock))
    _, port = start([ROLLMAP, "serve", "--db", f"{work}/lib.db", "--socket", sock,
                     "--listen", "127.0.0.1:0", "--password-file", f"{work}/none"],
                    "serve.log", lambda t: (re.search(r":(\d+)/", t) or [None, None])[1])
    base = f"http://127.0.0.1:{port}"

    def status():
        return json.loads(subprocess.run(
            [ROLLMAP, "status", "--socket", sock, "--json"], capture_output=True, text=True).stdout)

    driver = browser(1366, 768)
    try:
        started = time.monotonic()
        path = live_scenarios(driver, base, status)
        print(f"  live scenarios: {time.monotonic() - started:.0f} s")
        library_scenarios(driver, base)
    finally:
        driver.quit()
    screenshots_and_audit(base, "/library/client?code=C-A")
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=20)
    if not path:
        fail("rollmapd was not recording")
    check_mark_in_session(path)
    print("PASS")


try:
    main()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
    shutil.rmtree(work, ignore_errors=True)
