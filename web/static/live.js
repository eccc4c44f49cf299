// The live screen: rollmapd's samples, events and status through
// /api/live (Server-Sent Events), drawn for someone two metres away.
'use strict';

var STALE_MS = 2000;          // no sample for this long: values are stale
var HOLD_SHOW_S = 3;          // as rollmap live: a stroke's turn stays ~2.5 s
var SLOW_CM_S = 0.5;          // rolling under load slower than this is slow
var HEAT_BINS = 24;           // heat trail cells along the thigh
var LEAN_CENTRED_MM = 3;      // as rollmap live: the load centre wanders ~6 mm
var LOADED = 256, DWELL = 512, TOO_FAST = 1024;   // SAMPLE flags (docs/LIVE.md)
var LEG_TOP = 30, LEG_BOTTOM = 245;               // the thigh in SVG units

var csrf = document.querySelector('meta[name=csrf-token]').content;
var $ = function (id) { return document.getElementById(id); };
var state = {
  relay: null, status: null, lastSampleAt: 0, sample: null,
  heat: new Array(HEAT_BINS).fill(0), holdReached: false, fastSince: 0,
  unplugged: false, unpluggedAt: 0, gapNote: '', gapNoteUntil: 0, source: null,
};
var GAP_NOTE_MS = 10000;       // how long "back after a gap" stays up

// ---- settings, kept per client in this browser ----
function clientKey() {
  var s = state.status && state.status.session;
  return 'rollmap.target.' + ((s && s.client) || '_');
}
function loadSettings() {
  var saved = JSON.parse(localStorage.getItem(clientKey()) || 'null');
  if (!saved) return;
  ['target-lo', 'target-hi', 'target-unit', 'body-weight', 'hold-goal'].forEach(function (id) {
    if (saved[id] !== undefined) $(id).value = saved[id];
  });
  showTarget();
}
function saveSettings() {
  var s = {};
  ['target-lo', 'target-hi', 'target-unit', 'body-weight', 'hold-goal'].forEach(function (id) {
    s[id] = $(id).value;
  });
  localStorage.setItem(clientKey(), JSON.stringify(s));
  showTarget();
}
// A setting's number; while a field is empty or half typed, its default.
function setting(id) {
  var v = parseFloat($(id).value);
  return isFinite(v) ? v : parseFloat($(id).defaultValue);
}
function targetNewtons() {
  var lo = setting('target-lo'), hi = setting('target-hi');
  if ($('target-unit').value === 'bw') {
    var weightN = setting('body-weight') * 9.81;
    lo = lo / 100 * weightN;
    hi = hi / 100 * weightN;
  }
  return [lo, hi];
}
function gaugeMax() { return Math.max(400, targetNewtons()[1] * 1.3); }
function showTarget() {
  var t = targetNewtons(), max = gaugeMax();
  $('band').style.left = (t[0] / max * 100) + '%';
  $('band').style.width = ((t[1] - t[0]) / max * 100) + '%';
  $('band-text').textContent = Math.round(t[0]) + '-' + Math.round(t[1]) + ' N';
  $('hold-target').textContent = setting('hold-goal');
  $('hold-progress').max = setting('hold-goal');
}

// ---- sound cues (Web Audio), muted until switched on ----
// Browsers let audio start only from a user's gesture, so switching the
// cues on (a click) is what creates and resumes the audio context; the
// cues themselves come from the stream, where no gesture is.
var audio = null;
function soundSwitched() {
  if (!$('sound').checked) return;
  audio = audio || new (window.AudioContext || window.webkitAudioContext)();
  audio.resume();
}
function beep(freq, ms) {
  if (!$('sound').checked || !audio) return;
  var osc = audio.createOscillator(), gain = audio.createGain();
  osc.frequency.value = freq;
  gain.gain.value = 0.2;
  osc.connect(gain).connect(audio.destination);
  osc.start();
  osc.stop(audio.currentTime + ms / 1000);
}

// ---- device state: one unmistakable box ----
// A short headline (one line on a 320 px phone) and its detail below it.
// The box keeps one height while the device comes and goes (style.css
// reserves the detail's lines), so nothing under it moves.
function sessionName(session) {
  var parts = [session.client, session.side && session.side !== 'unknown' ? session.side + ' leg' : ''];
  return parts.filter(function (p) { return p; }).join(', ');
}
function setState(head, detail, kind) {
  if ($('state-head').textContent !== head) $('state-head').textContent = head;
  if ($('state-detail').textContent !== detail) $('state-detail').textContent = detail;
  $('state').className = 'state state-' + kind;
}
// While recording: for a while after a replug the gap, else the session's
// name and whether it waits for load (the colour says that too).
function recordingDetail(session, loaded, now) {
  if (now < state.gapNoteUntil) return state.gapNote;
  return [sessionName(session), loaded ? '' : 'waiting for load']
    .filter(function (p) { return p; }).join(' - ');
}
function showState() {
  var st = state.status, now = Date.now();
  if (state.relay && !state.relay.connected) {
    setState('Not connected', state.relay.message, 'bad');
    clearFigures();
  } else if (state.unplugged || (st && st.device && st.device.connected === false)) {
    setState('Device unplugged', 'plug the roller in again', 'bad');
    clearFigures();
  } else if (state.sample && now - state.lastSampleAt > STALE_MS) {
    setState('No samples', 'for ' + Math.round((now - state.lastSampleAt) / 1000) +
             ' s: is the roller connected?', 'bad');
    clearFigures();
  } else if (st && st.session && st.session.recording) {
    var loaded = state.sample && (state.sample.flags & LOADED);
    setState('Recording', recordingDetail(st.session, loaded, now), loaded ? 'rec' : 'wait');
  } else if (st) {
    setState('Waiting for load', 'not recording', 'wait');
  }
  var cal = st && st.device && st.device.calibration;
  var calEl = $('calibration');
  if (cal && (cal.state === 'stale' || cal.state === 'mismatch')) {
    calEl.hidden = false;
    calEl.textContent = 'Calibration ' + cal.state + ': ' + (cal.problem || 'calibrate again');
  } else {
    calEl.hidden = true;
  }
}

// ---- drawing ----
function fmt(v, digits) { return v === null || v === undefined ? '-' : v.toFixed(digits); }

// With no samples coming, the last ones would stand as if still measured
// (a force and "Too fast: slow down" frozen while the roller is
// unplugged): the figures go to dashes until samples come again.
function clearFigures() {
  ['force', 'pressure', 'position', 'lean', 'speed', 'pace'].forEach(function (id) {
    $(id).textContent = '-';
  });
  $('force').parentNode.className = 'big';
  $('pace').className = 'pace';
  $('needle').style.width = '0%';
  $('contact').setAttribute('hidden', '');
  $('hold').textContent = '0';
  $('hold-progress').value = 0;
  state.holdReached = false;
}
function legY(pct) { return LEG_TOP + (LEG_BOTTOM - LEG_TOP) * pct / 100; }

function drawHeat() {
  var max = Math.max.apply(null, state.heat) || 1, g = $('heat'), cell = (LEG_BOTTOM - LEG_TOP) / HEAT_BINS;
  var html = '';
  state.heat.forEach(function (v, i) {
    if (v <= 0) return;
    html += '<rect x="28" width="64" y="' + (LEG_TOP + i * cell).toFixed(1) + '" height="' +
            cell.toFixed(1) + '" fill="#d9480f" fill-opacity="' + (0.1 + 0.6 * v / max).toFixed(2) + '"/>';
  });
  g.innerHTML = html;
}

function showSample(s) {
  $('force').textContent = fmt(s.force_n, 0);
  var band = targetNewtons();
  $('force').parentNode.className = 'big' + (s.force_n > band[1] ? ' over-band'
    : s.force_n >= band[0] ? ' in-band' : '');
  $('pressure').textContent = fmt(s.pressure_kpa, 0);
  $('needle').style.width = Math.min(100, Math.max(0, s.force_n / gaugeMax() * 100)) + '%';
  $('position').textContent = fmt(s.position_cm, 1);
  $('lean').textContent = leanText(s.lean_mm);
  var contact = $('contact');
  if (s.position_pct !== null && s.position_pct !== undefined) {
    contact.removeAttribute('hidden');  // an SVG element has no .hidden
    contact.setAttribute('cy', legY(s.position_pct).toFixed(1));
    contact.setAttribute('cx', (60 + 30 * lateral(s.ml || 0)).toFixed(1));
    if (s.flags & LOADED) {
      state.heat[Math.min(HEAT_BINS - 1, Math.floor(s.position_pct / 100 * HEAT_BINS))] += 1;
      drawHeat();
    }
  }
  showHold(s);
  showPace(s);
}

// The leg being recorded: 'left', 'right' or 'unknown'.
function leg() {
  var session = state.status && state.status.session;
  return (session && session.recording && session.side) || 'unknown';
}
// Across the roller (-1 its left end .. +1 its right end) as across the
// thigh drawing (-1 inner .. +1 outer). Looking toward the feet, a right
// leg's medial side is toward the roller's left end.
function lateral(ml) { return leg() === 'left' ? -ml : ml; }
// The lean as rollmap live says it: "8 mm medial", "centred", or toward an
// end of the roller when the leg is unknown.
function leanText(mm) {
  if (mm === null || mm === undefined) return '-';
  if (Math.abs(mm) < LEAN_CENTRED_MM) return 'centred';
  var side = leg(), toward = side === 'unknown'
    ? (mm > 0 ? 'toward the right end' : 'toward the left end')
    : ((mm > 0) === (side === 'right') ? 'lateral' : 'medial');
  return Math.abs(mm).toFixed(0) + ' mm ' + toward;
}

// Held on one spot long enough for the hold timer to show.
function holding(s) { return (s.flags & LOADED) && s.dwell_s >= HOLD_SHOW_S; }

function showHold(s) {
  var goal = setting('hold-goal');
  var held = holding(s) ? s.dwell_s : 0;
  $('hold').textContent = String(Math.floor(held));  // whole seconds elapsed, as a timer
  $('hold-progress').value = Math.min(goal, held);
  $('hold-progress').textContent = Math.floor(held) + ' s';
  if (held >= goal && !state.holdReached) {
    state.holdReached = true;
    beep(880, 300);
  }
  if (!holding(s)) state.holdReached = false;
}

// The speed without its direction, as rollmap live shows it: the good
// pace is "up to 2.5 cm/s" either way (and no "-0.0" while holding).
function showPace(s) {
  var pace = $('pace'), speed = Math.abs(s.speed_cm_s || 0);
  $('speed').textContent = s.speed_cm_s === null || s.speed_cm_s === undefined ? '-' : speed.toFixed(1);
  if (!(s.flags & LOADED)) { pace.textContent = '-'; pace.className = 'pace'; return; }
  if (s.flags & TOO_FAST) {
    pace.textContent = 'Too fast: slow down';
    pace.className = 'pace fast';
    if (Date.now() - state.fastSince > 3000) { state.fastSince = Date.now(); beep(330, 150); }
  } else if (holding(s) && s.dwell_s >= setting('hold-goal')) {
    pace.textContent = 'Done: move on';  // as rollmap live, for the sound off
    pace.className = 'pace good';
  } else if (s.flags & DWELL || holding(s) || speed >= SLOW_CM_S) {
    pace.textContent = s.flags & DWELL || holding(s) ? 'Holding' : 'Good';
    pace.className = 'pace good';
  } else {
    pace.textContent = 'Slow';
    pace.className = 'pace slow';
  }
}

function showEvent(e) {
  if (e.event === 'unplug') {
    state.unplugged = true;
    state.unpluggedAt = Date.now();
  }
  if (e.event === 'plug') {
    state.unplugged = false;
    if (state.unpluggedAt) {
      state.gapNote = 'back after a ' + ((Date.now() - state.unpluggedAt) / 1000).toFixed(1) +
                      ' s gap (kept in the session as a gap)';
      state.gapNoteUntil = Date.now() + GAP_NOTE_MS;
      state.unpluggedAt = 0;
    }
  }
  if (e.event === 'session_start') { state.heat.fill(0); drawHeat(); $('marks').innerHTML = ''; }
  if (e.event === 'mark') {
    $('mark-note').textContent = 'Marked: ' + (e.rating === null ? 'no rating' : e.rating + '/10') +
      (e.position_cm === null ? '' : ' at ' + e.position_cm.toFixed(1) + ' cm');
    if (state.sample && state.sample.position_pct !== null) {
      var y = legY(state.sample.position_pct).toFixed(1);
      $('marks').insertAdjacentHTML('beforeend', '<line x1="24" x2="96" y1="' + y + '" y2="' + y +
        '" stroke="#b3141b" stroke-width="3"/>');
    }
  }
}

// ---- the stream ----
function onLine(ev) {
  var m = JSON.parse(ev.data);
  if (m.class === 'SAMPLE') {
    state.sample = m;
    state.lastSampleAt = Date.now();
    state.unplugged = false;
    showSample(m);
  } else if (m.class === 'STATUS') {
    var before = clientKey();
    state.status = m;
    if (clientKey() !== before) loadSettings();
  } else if (m.class === 'EVENT') {
    showEvent(m);
  } else if (m.class === 'RELAY') {
    state.relay = m;
  }
  showState();
}

function connect() {
  if (state.source) state.source.close();
  state.source = new EventSource('/api/live?rate=' + encodeURIComponent($('rate').value));
  state.source.onmessage = onLine;
  state.source.onerror = function () {
    setState('Connection lost', 'to rollmap serve: retrying...', 'bad');
    clearFigures();
  };
}

// ---- commands ----
function command(cmd, fields) {
  var body = new URLSearchParams(fields || {});
  return fetch('/api/live/' + cmd, {
    method: 'POST', credentials: 'same-origin', body: body,
    headers: {'X-CSRF-Token': csrf},
  }).then(function (r) { return r.json(); }).then(function (answer) {
    if (!answer.ok) $('mark-note').textContent = cmd + ': ' + answer.message;
    return answer;
  });
}

function openRating() {
  $('rating').hidden = false;
  $('rating').querySelector('button').focus();
}
function mark(rating) {
  $('rating').hidden = true;
  command('mark', rating === null ? {} : {rating: rating});
  $('tender').focus();
}

(function setUp() {
  var digits = $('rating').querySelector('.digits');
  for (var i = 0; i <= 10; i++) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = String(i);
    b.dataset.rating = String(i);
    b.setAttribute('aria-label', 'tenderness ' + i + ' of 10');
    b.addEventListener('click', function (ev) { mark(parseInt(ev.target.dataset.rating, 10)); });
    digits.appendChild(b);
  }
  $('tender').addEventListener('click', openRating);
  $('no-rating').addEventListener('click', function () { mark(null); });
  $('start-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var f = new FormData($('start-form')), fields = {};
    f.forEach(function (v, k) { if (v) fields[k] = v; });
    command('start', fields);
  });
  $('stop').addEventListener('click', function () { command('stop'); });
  $('settings-form').addEventListener('change', saveSettings);
  $('sound').addEventListener('change', soundSwitched);
  $('rate').addEventListener('change', connect);
  showTarget();
  loadSettings();
  connect();
  setInterval(showState, 500);
})();
