// vidpulse dashboard, Overview: why it exists. The first look: KPI tiles with
// the change against the previous period of the same length, time-series charts
// of them, and the concurrent viewers live from /v1/live (server-sent events).

import { el, api, apiParams, fmt, KPIS, COLORS, chart, panel } from './common.js';

const TILES = ['views', 'unique_viewers', 'playing_ms', 'startup_p50_ms', 'startup_p95_ms',
  'rebuffer_pct', 'failure_pct', 'ebvs_pct'];

/** The change from `prev` to `cur`: relative for amounts, points for percentages. */
function change(key, cur, prev) {
  const def = KPIS[key];
  if (cur === null || prev === null || cur === undefined || prev === undefined) return { text: 'no previous data', cls: 'flat' };
  let text;
  let d;
  if (def.kind === 'pct') {
    d = cur - prev;
    text = `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(2)} pp`;
  } else if (prev === 0) {
    d = cur;
    text = cur === 0 ? '±0' : 'new';
  } else {
    d = (cur - prev) / prev;
    text = `${d >= 0 ? '+' : '−'}${Math.abs(d * 100).toFixed(1)} %`;
  }
  const good = def.better === 0 ? d >= 0 : Math.sign(d) === def.better;
  return { text: `${text} vs previous`, cls: d === 0 ? 'flat' : good ? 'good' : 'bad' };
}

function tile(key, cur, prev) {
  const def = KPIS[key];
  const ch = change(key, cur, prev);
  return el('div', { class: 'tile', id: `kpi-${key}`, dataset: { raw: JSON.stringify(cur ?? null) } },
    el('div', { class: 'tile-label' }, def.label),
    el('div', { class: 'tile-value' }, def.f(cur)),
    el('div', { class: `tile-change ${ch.cls}` }, ch.text));
}

function interval(st) {
  const span = st.to - st.from;
  return span <= 6 * 3600e3 ? 'minute' : span <= 8 * 86400e3 ? 'hour' : 'day';
}

function seriesChart(parent, points, keys, title) {
  const box = el('div', { class: 'chart' });
  parent.append(panel(title, box));
  const xs = points.map((p) => p.t / 1000);
  const data = [xs, ...keys.map((k) => points.map((p) => p[k] ?? null))];
  chart(box, {
    // Points drawn always: a value between two empty intervals (one view in an
    // hour) has no line to show it.
    series: [{}, ...keys.map((k, i) => ({ label: KPIS[k].label, stroke: COLORS[i], width: 2, spanGaps: false, points: { show: true, size: 5 }, value: (u, v) => KPIS[k].f(v) }))],
    axes: [{}, { size: 70, values: (u, vs) => vs.map((v) => KPIS[keys[0]].f(v)) }],
  }, data);
}

function live(parent) {
  const now = el('div', { class: 'tile-value', id: 'live-concurrent' }, '–');
  const lastMin = el('div', { class: 'tile-change flat', id: 'live-last-minute' }, 'waiting for /v1/live…');
  const box = el('div', { class: 'chart' });
  parent.append(panel('Live: concurrent viewers',
    el('div', { class: 'tiles' }, el('div', { class: 'tile live' }, el('div', { class: 'tile-label' }, 'Watching now'), now, lastMin)),
    box));
  const xs = [];
  const ys = [];
  let u = null;
  const source = new EventSource('/v1/live');
  source.addEventListener('live', (ev) => {
    const s = JSON.parse(ev.data);
    now.textContent = fmt.int(s.concurrent_viewers);
    now.dataset.raw = String(s.concurrent_viewers);
    lastMin.textContent = `last minute: ${fmt.int(s.last_minute.views)} views started, ${fmt.dur(s.last_minute.watch_ms)} watched`;
    xs.push(s.now_ms / 1000);
    ys.push(s.concurrent_viewers);
    if (xs.length > 600) { xs.shift(); ys.shift(); }
    if (!u) {
      u = chart(box, {
        height: 160,
        series: [{}, { label: 'Concurrent viewers', stroke: COLORS[0], fill: 'rgba(37,99,235,0.12)', width: 2 }],
        scales: { y: { range: (self, min, max) => [0, Math.max(2, max + 1)] } },
      }, [xs, ys]);
    } else {
      u.setData([xs, ys]);
    }
  });
  // EventSource reconnects by itself, but cannot tell an expired login (401)
  // from a network blip: ask the API, whose 401 goes to the login form.
  source.onerror = () => {
    lastMin.textContent = 'live stream reconnecting…';
    api('/v1/kpis', new URLSearchParams({ from: String(Date.now() - 60e3) })).catch(() => {});
  };
  window.addEventListener('pagehide', () => source.close());
}

export async function render(root, st) {
  const span = st.to - st.from;
  const prevSt = { ...st, from: st.from - span, to: st.from };
  const iv = interval(st);
  const metrics = ['views', 'unique_viewers', 'playing_ms', 'startup_p50_ms', 'startup_p95_ms', 'rebuffer_pct', 'failure_pct', 'ebvs_pct'];
  const [cur, prev, series] = await Promise.all([
    api('/v1/kpis', apiParams(st)),
    api('/v1/kpis', apiParams(prevSt)),
    api('/v1/timeseries', apiParams(st, { metric: metrics.join(','), interval: iv })),
  ]);
  const tiles = el('div', { class: 'tiles', id: 'tiles' },
    TILES.map((k) => tile(k, cur.body.totals[k], prev.body.totals[k])));
  root.append(el('h1', {}, 'Overview'), tiles);
  live(root);
  const grid = el('div', { class: 'grid2' });
  root.append(grid);
  const pts = series.body.points;
  seriesChart(grid, pts, ['views'], `Views per ${iv}`);
  seriesChart(grid, pts, ['playing_ms'], `Playing time per ${iv}`);
  seriesChart(grid, pts, ['startup_p50_ms', 'startup_p95_ms'], 'Startup time');
  seriesChart(grid, pts, ['rebuffer_pct', 'failure_pct', 'ebvs_pct'], 'Rebuffering, failures, exits before start');
}
