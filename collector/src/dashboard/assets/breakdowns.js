// vidpulse dashboard, Breakdowns: why it exists. Any KPI split by one
// dimension (browser, OS, device, country, CDN, player, video, ...): a bar chart
// of the chosen KPI and a sortable table of all of them. Choices live in the URL
// (`dim`, `kpi`, `sort`, `desc`).

import { el, api, apiParams, urlWith, KPIS, COLORS, DIMS, chart, bars, sortableTable, panel } from './common.js';

const COLS = ['views', 'unique_viewers', 'playing_ms', 'startup_p50_ms', 'startup_p95_ms',
  'rebuffer_pct', 'failure_pct', 'ebvs_pct', 'completion_pct'];

export async function render(root, st) {
  const dim = DIMS.includes(st.params.get('dim')) ? st.params.get('dim') : 'browser';
  const kpi = KPIS[st.params.get('kpi')] ? st.params.get('kpi') : 'views';
  const sortKey = [...COLS, 'value'].includes(st.params.get('sort')) ? st.params.get('sort') : kpi;
  const desc = st.params.get('desc') !== '0';
  const { body } = await api('/v1/kpis', apiParams(st, { group_by: dim }));
  const rows = (body.groups || []).map((g) => ({ value: g.value, ...g.kpis }));

  const dimSel = el('select', { id: 'dim', 'aria-label': 'Dimension' }, DIMS.map((d) => el('option', { value: d, selected: d === dim }, d)));
  dimSel.addEventListener('change', () => location.assign(urlWith({ dim: dimSel.value })));
  const kpiSel = el('select', { id: 'kpi', 'aria-label': 'KPI' }, Object.keys(KPIS).map((k) => el('option', { value: k, selected: k === kpi }, KPIS[k].label)));
  kpiSel.addEventListener('change', () => location.assign(urlWith({ kpi: kpiSel.value, sort: null, desc: null })));
  root.append(el('h1', {}, 'Breakdowns'),
    el('div', { class: 'toolbar' }, el('label', {}, 'KPI ', kpiSel), el('label', {}, ' by ', dimSel)));

  const cols = [
    { key: 'value', label: dim },
    ...[...new Set([kpi, ...COLS])].map((k) => ({ key: k, label: KPIS[k].label, f: KPIS[k].f, num: true })),
  ];
  const onSort = (key) => location.assign(urlWith({ sort: key, desc: key === sortKey && desc ? '0' : null }));
  const { table, sorted } = sortableTable(cols, rows, { sortKey, desc, onSort });
  table.id = 'breakdown-table';

  const box = el('div', { class: 'chart', id: 'breakdown-chart' });
  root.append(panel(`${KPIS[kpi].label} by ${dim}`, box));
  root.append(panel(`${rows.length} values`, el('div', { class: 'scroll' }, table)));
  if (!rows.length) {
    box.append(el('p', { class: 'empty' }, 'No views in this range.'));
    return;
  }
  const top = sorted.slice(0, 30);
  const labels = top.map((r) => r.value);
  chart(box, {
    height: 260,
    series: [
      { value: (u, i) => labels[i] ?? '' },
      { label: KPIS[kpi].label, stroke: COLORS[0], fill: 'rgba(37,99,235,0.5)', paths: bars(), points: { show: false }, value: (u, v) => KPIS[kpi].f(v) },
    ],
    scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] }, y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.1] } },
    axes: [
      { values: (u, vs) => vs.map((i) => (Number.isInteger(i) && labels[i] !== undefined ? shorten(labels[i]) : '')), incrs: [1], rotate: 0 },
      { size: 70, values: (u, vs) => vs.map((v) => KPIS[kpi].f(v)) },
    ],
  }, [top.map((_, i) => i), top.map((r) => r[kpi] ?? null)]);
}

function shorten(s) {
  const t = String(s);
  return t.length > 16 ? t.slice(0, 15) + '…' : t;
}
