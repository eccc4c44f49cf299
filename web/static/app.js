// rollmap pages: confirmations and the interactive charts (dygraphs).
'use strict';

document.querySelectorAll('form[data-confirm]').forEach(function (form) {
  form.addEventListener('submit', function (ev) {
    var purge = form.querySelector('input[name=purge]');
    var text = form.dataset.confirm + (purge && purge.checked
      ? '\nThe session file will be deleted too: this cannot be undone.'
      : '\nThe session file is kept.');
    if (!window.confirm(text)) ev.preventDefault();
  });
});

function shadeDwells(dwells) {
  return function (canvas, area, g) {
    canvas.fillStyle = 'rgba(10, 107, 45, 0.15)';
    dwells.forEach(function (d) {
      var left = g.toDomXCoord(d[0]), right = g.toDomXCoord(d[1]);
      canvas.fillRect(left, area.y, right - left, area.h);
    });
  };
}

function drawMarks(marks) {
  return function (canvas, area, g) {
    canvas.strokeStyle = '#b3141b';
    canvas.fillStyle = '#b3141b';
    canvas.lineWidth = 2;
    marks.forEach(function (m) {
      var x = g.toDomXCoord(m[0]);
      canvas.beginPath();
      canvas.moveTo(x, area.y);
      canvas.lineTo(x, area.y + area.h);
      canvas.stroke();
      canvas.fillText(m[1] >= 0 ? m[1] + '/10' : 'mark', x + 3, area.y + 12);
    });
  };
}

// Seconds as the report's times read: m:ss, or h:mm:ss from an hour on.
function clock(seconds) {
  var t = Math.round(seconds), h = Math.floor(t / 3600), m = Math.floor(t % 3600 / 60), s = t % 60;
  var two = function (n) { return (n < 10 ? '0' : '') + n; };
  return (h ? h + ':' + two(m) : String(m)) + ':' + two(s);
}

// The time under the pointer in the legend, with its unit.
function clockWithUnit(seconds) {
  return 'at ' + clock(seconds) + (seconds >= 3599.5 ? ' (h:min:s)' : ' (min:s)');
}

// Time ticks on whole seconds, minutes or hours (numbers of seconds would
// fall on 1:40, 3:20, ...): the smallest step that leaves room for a label.
var CLOCK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
function clockTicks(from, to, pixels, opts) {
  var room = Math.max(1, Math.floor(pixels / opts('pixelsPerLabel')));
  var step = CLOCK_STEPS.find(function (s) { return (to - from) / s <= room; }) ||
             CLOCK_STEPS[CLOCK_STEPS.length - 1];
  var ticks = [];
  for (var v = Math.ceil(from / step) * step; v <= to; v += step) {
    ticks.push({v: v, label: clock(v)});
  }
  return ticks;
}

function timeline(div) {
  fetch(div.dataset.src, {credentials: 'same-origin'})
    .then(function (r) {
      if (!r.ok) throw new Error('timeline: ' + r.status);
      return r.json();
    })
    .then(function (data) {
      var last = data.points.length ? data.points[data.points.length - 1][0] : 0;
      new Dygraph(div, data.points, {
        labels: ['time', 'force (N)', 'position (cm)'],
        xlabel: last >= 3600 ? 'time (h:min:s)' : 'time (min:s)',
        ylabel: 'force (N)', y2label: 'position (cm)',
        series: {'position (cm)': {axis: 'y2'}},
        axes: {
          x: {ticker: clockTicks, valueFormatter: clockWithUnit, pixelsPerLabel: 60},
          y2: {independentTicks: true},
        },
        colors: ['#1f2937', '#0b57d0'],
        legend: 'always', labelsSeparateLines: false,
        underlayCallback: function (c, a, g) {
          shadeDwells(data.dwells)(c, a, g);
          drawMarks(data.marks)(c, a, g);
        },
      });
    })
    .catch(function (e) { div.textContent = 'The timeline could not be loaded (' + e.message + ').'; });
}

function clientChart(div) {
  var rows = JSON.parse(div.dataset.series).map(function (r) {
    return [new Date(r[0]), r[1], r[2]];
  });
  new Dygraph(div, rows, {
    labels: ['date', 'left leg', 'right leg'],
    ylabel: 'total spot score', connectSeparatedPoints: true,
    drawPoints: true, pointSize: 4, strokeWidth: 2,
    colors: ['#0b57d0', '#b3141b'], legend: 'always',
  });
}

if (window.Dygraph) {
  document.querySelectorAll('#timeline').forEach(timeline);
  document.querySelectorAll('#client-chart').forEach(clientChart);
}
