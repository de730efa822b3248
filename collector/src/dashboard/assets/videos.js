// vidpulse dashboard, Videos: why it exists. A gallery of the videos watched in
// the range with their KPIs; pick one to four (`compare` in the URL) to see
// them side by side, with each one's retention curve (share of views that
// played each part) and watched-position heatmap (views per part).

import { el, api, apiParams, urlWith, KPIS, COLORS, chart, bars, panel } from './common.js';

const CARD_KPIS = ['views', 'unique_viewers', 'playing_ms', 'startup_p50_ms', 'rebuffer_pct', 'failure_pct', 'completion_pct'];
const MAX_COMPARE = 4;
const MAX_TITLES = 24;

async function titleOf(st, id) {
  const p = apiParams(st, { limit: 1 });
  p.append('filter', `video:${id}`);
  const { body } = await api('/v1/views', p);
  return body[0] && body[0].video ? body[0].video.title || '' : '';
}

async function retentionOf(id) {
  const r = (await api(`/v1/videos/${encodeURIComponent(id)}/retention`)).body;
  return r.views > 0 ? r : null; // null: no coverage reported for this video yet
}

export async function render(root, st) {
  const { body } = await api('/v1/videos', apiParams(st, { limit: 200 }));
  const videos = body.videos;
  const compare = st.params.getAll('compare').filter((id) => videos.some((v) => v.video_id === id)).slice(0, MAX_COMPARE);
  const titles = await Promise.all(videos.slice(0, MAX_TITLES).map((v) => titleOf(st, v.video_id).catch(() => '')));
  root.append(el('h1', {}, 'Videos'),
    el('p', { class: 'hint' }, `Tick up to ${MAX_COMPARE} videos to compare them; each shows its retention curve and heatmap.`));
  const gallery = el('div', { class: 'gallery', id: 'gallery' });
  videos.forEach((v, i) => {
    const on = compare.includes(v.video_id);
    const box = el('input', {
      type: 'checkbox', checked: on, 'aria-label': 'Compare',
      disabled: !on && compare.length >= MAX_COMPARE,
      onchange: () => location.assign(urlWith({ compare: on ? compare.filter((c) => c !== v.video_id) : [...compare, v.video_id] })),
    });
    gallery.append(el('article', { class: `card${on ? ' selected' : ''}`, dataset: { video: v.video_id } },
      el('label', { class: 'card-head' }, box, el('span', { class: 'card-title' }, titles[i] || v.video_id)),
      el('div', { class: 'card-id' }, v.video_id),
      el('dl', {}, CARD_KPIS.flatMap((k) => [el('dt', {}, KPIS[k].label),
        el('dd', { dataset: { kpi: k, raw: JSON.stringify(v.kpis[k] ?? null) } }, KPIS[k].f(v.kpis[k]))]))));
  });
  if (!videos.length) gallery.append(el('p', { class: 'empty' }, 'No videos in this range.'));
  root.append(panel(`${videos.length} videos`, gallery));
  if (!compare.length) return;

  const chosen = compare.map((id) => ({ id, v: videos.find((x) => x.video_id === id), title: titles[videos.findIndex((x) => x.video_id === id)] || id }));
  const head = el('tr', {}, el('th', { scope: 'col' }, 'KPI'), chosen.map((c) => el('th', { scope: 'col', class: 'num' }, c.title)));
  const rows = Object.keys(KPIS).map((k) => el('tr', {}, el('th', { scope: 'row' }, KPIS[k].label),
    chosen.map((c) => el('td', { class: 'num' }, KPIS[k].f(c.v.kpis[k])))));
  root.append(panel('Side by side', el('div', { class: 'scroll' },
    el('table', { class: 'data', id: 'compare-table' }, el('thead', {}, head), el('tbody', {}, rows)))));

  const rets = await Promise.all(chosen.map((c) => retentionOf(c.id)));
  const curve = el('div', { class: 'chart', id: 'retention-chart' });
  root.append(panel('Retention: share of views that played each part (% of the video)', curve));
  const withData = chosen.map((c, i) => ({ ...c, r: rets[i] })).filter((c) => c.r);
  if (!withData.length) {
    curve.append(el('p', { class: 'empty' }, 'No coverage data for these videos yet.'));
    return;
  }
  // Videos may have different bucket counts: plot against position in percent, on
  // the union of every video's bucket centres (each series null elsewhere).
  const xsSet = new Set();
  const pos = (r) => r.retention.map((_, i) => Math.round(((i + 0.5) / r.retention.length) * 1000) / 10);
  withData.forEach((c) => pos(c.r).forEach((x) => xsSet.add(x)));
  const xs = [...xsSet].sort((a, b) => a - b);
  const ys = withData.map((c) => {
    const m = new Map(pos(c.r).map((x, i) => [x, c.r.retention[i] * 100]));
    return xs.map((x) => (m.has(x) ? m.get(x) : null));
  });
  chart(curve, {
    series: [{ label: 'position %' }, ...withData.map((c, i) => ({ label: c.title, stroke: COLORS[i], width: 2, spanGaps: true, value: (u, v) => (v === null ? '–' : `${v.toFixed(1)} %`) }))],
    scales: { x: { time: false }, y: { range: [0, 100] } },
    axes: [{ values: (u, vs) => vs.map((v) => `${v}%`) }, { values: (u, vs) => vs.map((v) => `${v}%`) }],
  }, [xs, ...ys]);

  const heat = el('div', { class: 'grid2' });
  root.append(heat);
  withData.forEach((c, i) => {
    const box = el('div', { class: 'chart heatmap' });
    heat.append(panel(`Heatmap: views per part — ${c.title}`, box));
    const n = c.r.heatmap.length;
    chart(box, {
      height: 160,
      series: [{ label: 'part' }, { label: 'views', stroke: COLORS[i], fill: COLORS[i], paths: bars(), points: { show: false } }],
      scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] }, y: { range: (u, min, max) => [0, Math.max(max, 1)] } },
      axes: [{ values: (u, vs) => vs.map((v) => `${Math.round((v / n) * 100)}%`) }, {}],
    }, [c.r.heatmap.map((_, j) => j), c.r.heatmap]);
  });
}
