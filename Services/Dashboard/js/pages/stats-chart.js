// The statistics page's bar chart (SVG): replied and not-replied messages per day.

import { $, svg } from '../dom.js';
import { dayLabel, num } from '../format.js';

export function drawChart(days, totals) {
  const chart = $('#stats-chart');
  chart.replaceChildren();
  // Drawn at the width it is shown at, so its labels stay at their CSS size on a phone (a fixed viewBox shrank them).
  const W = Math.max(280, Math.round(chart.getBoundingClientRect().width) || 600);
  const H = 220, top = 12, bottom = 26, left = 36, right = 8;
  const plotW = W - left - right, plotH = H - top - bottom, base = top + plotH;
  const max = Math.max(1, ...days.map((d) => Math.max(Number(d.received) || 0, Number(d.replied) || 0)));
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(1, slot * 0.7);

  const title = days.length
    ? `Messages per day, ${dayLabel(days[0].date)} to ${dayLabel(days[days.length - 1].date)}: ${num(totals.received)} received, ${num(totals.replied)} replied. The table below has the numbers.`
    : 'No messages in this period.';
  chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
  chart.setAttribute('role', 'img');
  chart.setAttribute('aria-label', title);
  chart.append(svg('title', { id: 'stats-chart-title' }, title));
  chart.append(svg('line', { class: 'axis', x1: left, y1: base, x2: W - right, y2: base }));
  chart.append(svg('text', { x: left - 6, y: top + 10, 'text-anchor': 'end' }, String(max)));
  chart.append(svg('text', { x: left - 6, y: base, 'text-anchor': 'end' }, '0'));

  days.forEach((d, i) => {
    const replied = Number(d.replied) || 0;
    const other = Math.max(0, (Number(d.received) || 0) - replied);
    const x = left + i * slot + (slot - barW) / 2;
    const hReplied = (replied / max) * plotH;
    const hOther = (other / max) * plotH;
    const group = svg('g');
    group.append(svg('title', {}, `${dayLabel(d.date)}: ${num(d.received)} received, ${replied} replied`));
    if (hReplied > 0) group.append(svg('rect', { class: 'bar-replied', x: x.toFixed(2), y: (base - hReplied).toFixed(2), width: barW.toFixed(2), height: hReplied.toFixed(2) }));
    if (hOther > 0) group.append(svg('rect', { class: 'bar-other', x: x.toFixed(2), y: (base - hReplied - hOther).toFixed(2), width: barW.toFixed(2), height: hOther.toFixed(2) }));
    chart.append(group);
  });

  const labels = days.length > 2 ? [0, Math.floor((days.length - 1) / 2), days.length - 1] : days.map((_, i) => i);
  for (const i of new Set(labels)) {
    const anchor = i === 0 ? 'start' : i === days.length - 1 ? 'end' : 'middle';
    const x = anchor === 'start' ? left : anchor === 'end' ? W - right : left + (i + 0.5) * slot;
    chart.append(svg('text', { x: x.toFixed(2), y: H - 6, 'text-anchor': anchor }, dayLabel(days[i].date)));
  }
}
