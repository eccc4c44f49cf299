// An accessibility audit run in the page by the browser tier
// (test_browser.py): the checks docs/WEB.md promises for every page.
// Returns a list of problems, each naming the element; [] when clean.
// WCAG 2.1: contrast 4.5:1 (3:1 for large text), a name for every control,
// focus visible, no page-wide sideways scrolling down to 360 px.
'use strict';
var problems = [];

function describe(el) {
  var text = (el.textContent || '').trim().slice(0, 30);
  return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
         (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '') +
         (text ? ' "' + text + '"' : '');
}
function visible(el) {
  return el.checkVisibility({visibilityProperty: true, opacityProperty: true});
}

// ---- contrast ----
function rgba(text) {
  var m = text.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  var p = m[1].split(',').map(parseFloat);
  return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
}
function luminance(c) {
  function channel(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
  return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
}
function background(el) {
  for (var e = el; e; e = e.parentElement) {
    var c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.5) return c;
  }
  return {r: 255, g: 255, b: 255, a: 1};
}
function ownText(el) {
  return Array.prototype.some.call(el.childNodes, function (n) {
    return n.nodeType === 3 && n.textContent.trim();
  });
}
function checkContrast(el) {
  var cs = getComputedStyle(el), fg = rgba(cs.color), bg = background(el);
  var hi = Math.max(luminance(fg), luminance(bg)), lo = Math.min(luminance(fg), luminance(bg));
  var ratio = (hi + 0.05) / (lo + 0.05);
  var size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
  var need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < need)
    problems.push('contrast ' + ratio.toFixed(2) + ' < ' + need + ': ' + describe(el) +
                  ' (' + cs.color + ' on rgb(' + bg.r + ',' + bg.g + ',' + bg.b + '))');
}

// ---- names ----
function accessibleName(el) {
  if (el.getAttribute('aria-label')) return el.getAttribute('aria-label');
  var by = el.getAttribute('aria-labelledby');
  if (by) return by.split(' ').map(function (id) {
    var l = document.getElementById(id); return l ? l.textContent : '';
  }).join(' ').trim();
  if (el.labels && el.labels.length) return el.labels[0].textContent.trim();
  if (el.tagName === 'BUTTON' || el.tagName === 'A' || el.tagName === 'SUMMARY')
    return el.textContent.trim();
  return el.getAttribute('title') || '';
}

// ---- focus ----
function focusShows(el) {
  el.focus();
  if (document.activeElement !== el) return false;
  var cs = getComputedStyle(el);
  return (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none';
}

// What a click would open is checked too.
Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
if (!document.documentElement.lang) problems.push('<html> has no lang');
if (!document.title) problems.push('the page has no <title>');
Array.prototype.forEach.call(document.body.querySelectorAll('*'), function (el) {
  if (!visible(el) || el.closest('svg')) return;
  if (ownText(el)) checkContrast(el);
});
var controls = document.querySelectorAll('a[href], button, input, select, textarea, summary');
Array.prototype.forEach.call(controls, function (el) {
  if (!visible(el) || el.type === 'hidden') return;
  if (!accessibleName(el)) problems.push('no accessible name: ' + describe(el));
  if (el.tabIndex < 0) problems.push('not reachable by keyboard: ' + describe(el));
  if (!focusShows(el)) problems.push('focus not visible: ' + describe(el));
});
Array.prototype.forEach.call(document.querySelectorAll('img'), function (el) {
  if (!el.hasAttribute('alt')) problems.push('image without alt: ' + describe(el));
});
if (document.activeElement) document.activeElement.blur();
if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1)
  problems.push('the page scrolls sideways: ' + document.documentElement.scrollWidth +
                ' px wide in a ' + document.documentElement.clientWidth + ' px window');
return problems;
