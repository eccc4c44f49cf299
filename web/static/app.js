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

function timeline(div) {
  fetch(div.dataset.src, {credentials: 'same-origin'})
    .then(function (r) {
      if (!r.ok) throw new Error('timeline: ' + r.status);
      return r.json();
    })
    .then(function (data) {
      new Dygraph(div, data.points, {
        labels: ['time (s)', 'force (N)', 'position (cm)'],
        xlabel: 'time (s)', ylabel: 'force (N)', y2label: 'position (cm)',
        series: {'position (cm)': {axis: 'y2'}},
        axes: {y2: {independentTicks: true}},
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
