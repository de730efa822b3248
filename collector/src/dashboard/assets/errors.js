// vidpulse dashboard, Errors: why it exists. Which failures hurt most: the
// playback errors of the range grouped by code and message (GET /v1/errors),
// with occurrences, affected views, and links to some of those views.

import { el, api, apiParams, urlWith, fmt, COLORS, chart, bars, panel, sortableTable } from './common.js';

export async function render(root, st) {
  const { body } = await api('/v1/errors', apiParams(st));
  const rows = body.errors.map((g, i) => ({ ...g, rank: i + 1, kind: g.fatal ? 'fatal' : 'non-fatal' }));
  const sortKey = ['views', 'occurrences', 'code', 'last_seen_ms'].includes(st.params.get('sort')) ? st.params.get('sort') : 'views';
  const desc = st.params.get('desc') !== '0';
  const cols = [
    { key: 'code', label: 'Code', num: true, f: (v) => String(v) },
    { key: 'message', label: 'Message' },
    { key: 'kind', label: 'Kind' },
    { key: 'occurrences', label: 'Occurrences', num: true, f: fmt.int },
    { key: 'views', label: 'Affected views', num: true, f: fmt.int },
    { key: 'last_seen_ms', label: 'Latest view (UTC)', f: fmt.time },
    {
      key: 'sample_view_ids', label: 'Some views', sortable: false,
      render: (r) => r.sample_view_ids.map((id, j) => el('a', { href: urlWith({ view: id, sort: null, desc: null }, '/views'), class: 'view-link' }, `#${j + 1}`)),
    },
  ];
  const onSort = (key) => location.assign(urlWith({ sort: key, desc: key === sortKey && desc ? '0' : null }));
  const { table, sorted } = sortableTable(cols, rows, { sortKey, desc, onSort });
  table.id = 'errors-table';
  root.append(el('h1', {}, 'Errors'),
    el('p', { class: 'hint', id: 'errors-summary' },
      `${fmt.int(body.views_with_errors)} of ${fmt.int(body.views_scanned)} views in the range had an error.`));
  const box = el('div', { class: 'chart', id: 'errors-chart' });
  root.append(panel('Affected views per error', box), panel(`${rows.length} distinct errors`, el('div', { class: 'scroll' }, table)));
  if (!rows.length) {
    box.append(el('p', { class: 'empty' }, 'No errors in this range.'));
    return;
  }
  const top = sorted.slice(0, 20);
  chart(box, {
    height: 220,
    series: [
      { value: (u, i) => (top[i] ? `${top[i].code}: ${top[i].message}` : '') },
      { label: 'views', stroke: COLORS[1], fill: 'rgba(220,38,38,0.5)', paths: bars(), points: { show: false } },
    ],
    scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] }, y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.1] } },
    axes: [{ values: (u, vs) => vs.map((i) => (Number.isInteger(i) && top[i] ? `code ${top[i].code}` : '')), incrs: [1] }, {}],
  }, [top.map((_, i) => i), top.map((r) => r.views)]);
}
