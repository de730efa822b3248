// vidpulse dashboard, Views: why it exists. The individual views behind the
// aggregates: a filterable list (the range and filters of the URL, pages by
// cursor) and, for one view (`view` in the URL), its timeline: startup,
// stalls, seeks, rendition changes and errors on one time axis.

import { el, api, apiParams, urlWith, fmt, COLORS, chart, panel, sortableTable } from './common.js';

const PAGE = 50;

export async function render(root, st) {
  const id = st.params.get('view');
  if (id) return timeline(root, id);
  const p = apiParams(st, { limit: PAGE });
  const cursor = st.params.get('cursor');
  if (cursor) p.set('cursor', cursor);
  const { body, headers } = await api('/v1/views', p);
  const rows = body.map((v) => ({
    view_id: v.view_id,
    started: v.started_at_ms,
    title: v.video.title || '',
    video: v.video.id || '',
    startup: v.metrics.startup_ms ?? null,
    rebuffers: v.metrics.rebuffer_count,
    rebuffer_ms: v.metrics.rebuffer_ms,
    playing: v.metrics.playing_ms,
    error: v.metrics.error ? `${v.metrics.error.code}: ${v.metrics.error.message}` : '',
    state: v.metrics.view_ended ? 'ended' : 'open',
  }));
  const cols = [
    { key: 'started', label: 'Started (UTC)', render: (r) => el('a', { href: urlWith({ view: r.view_id, cursor: null }) }, fmt.time(r.started)) },
    { key: 'title', label: 'Title' },
    {
      key: 'video', label: 'Video id',
      render: (r) => (r.video ? el('a', { href: urlWith({ filter: [...st.filters, `video:${r.video}`], cursor: null }), title: 'Only this video' }, r.video) : ''),
    },
    { key: 'startup', label: 'Startup', f: fmt.ms, num: true },
    { key: 'rebuffers', label: 'Rebuffers', f: fmt.int, num: true },
    { key: 'rebuffer_ms', label: 'Rebuffer time', f: fmt.ms, num: true },
    { key: 'playing', label: 'Playing', f: fmt.dur, num: true },
    { key: 'error', label: 'Error' },
    { key: 'state', label: 'State' },
  ];
  const { table } = sortableTable(cols, rows, { rowAttrs: (r) => ({ dataset: { view: r.view_id } }) });
  table.id = 'views-table';
  const next = headers.get('x-next-cursor');
  root.append(el('h1', {}, 'Views'),
    el('p', { class: 'hint' }, 'Newest first. Use the filters above (e.g. video, browser, country); open a view for its timeline.'),
    panel(`${rows.length}${next ? '+' : ''} views`, el('div', { class: 'scroll' }, table),
      el('p', { class: 'pager' },
        cursor ? el('a', { href: urlWith({ cursor: null }) }, '« newest') : null, ' ',
        next ? el('a', { href: urlWith({ cursor: next }), id: 'next-page' }, 'older »') : null)));
  if (!rows.length) root.append(el('p', { class: 'empty' }, 'No views in this range.'));
}

/** One event as a table row and, for the chart, a lane and a span. */
function describe(e) {
  switch (e.kind) {
    case 'stall': return { lane: 2, a: e.at_ms, b: e.at_ms + e.dur_ms, what: 'Stall', detail: fmt.ms(e.dur_ms) };
    case 'seek': return { lane: 3, a: e.at_ms, b: e.at_ms + e.dur_ms, what: 'Seek', detail: `${fmt.ms(e.from_ms)} → ${fmt.ms(e.to_ms)} media time, latency ${fmt.ms(e.dur_ms)}` };
    case 'rendition': return { lane: 4, a: e.at_ms, b: null, what: 'Rendition', detail: `${e.width}×${e.height}${e.bitrate ? `, ${fmt.int(e.bitrate / 1000)} kbit/s` : ''}` };
    case 'error': return { lane: 5, a: e.at_ms, b: null, what: e.fatal ? 'Error (fatal)' : 'Error', detail: `${e.code}: ${e.message}` };
    default: return { lane: 0, a: e.at_ms || 0, b: null, what: String(e.kind), detail: '' };
  }
}

const LANES = ['', 'Startup', 'Stalls', 'Seeks', 'Renditions', 'Errors'];

async function timeline(root, id) {
  const { body: v } = await api(`/v1/views/${encodeURIComponent(id)}`);
  const b = v.beacon;
  const m = b.metrics;
  const items = v.events.map(describe);
  if (m.startup_ms !== null && m.startup_ms !== undefined) {
    items.unshift({ lane: 1, a: 0, b: m.startup_ms, what: 'Startup', detail: fmt.ms(m.startup_ms) });
  }
  root.append(el('h1', {}, 'View ', el('code', { id: 'view-id' }, b.view_id)),
    el('p', {}, el('a', { href: urlWith({ view: null }) }, '« all views')),
    el('dl', { class: 'facts', id: 'view-facts' },
      [['Title', b.video.title || ''], ['Video id', b.video.id || ''], ['Source', b.video.src || ''],
        ['Player', `${b.context.player_name || ''} ${b.context.player_version || ''}`],
        ['Page', `${b.context.page_host || ''}${b.context.page_path || ''}`],
        ['Browser / OS / device', `${v.dims.browser} / ${v.dims.os} / ${v.dims.device_type}`],
        ['Country', v.dims.country], ['Started (UTC)', fmt.time(b.started_at_ms)],
        ['Startup', fmt.ms(m.startup_ms)], ['Watch / playing', `${fmt.dur(m.watch_ms)} / ${fmt.dur(m.playing_ms)}`],
        ['Rebuffering', `${m.rebuffer_count} stalls, ${fmt.ms(m.rebuffer_ms)}`],
        ['Error', m.error ? `${m.error.code}: ${m.error.message}` : 'none'],
      ].flatMap(([k, val]) => [el('dt', {}, k), el('dd', {}, val)])));

  const box = el('div', { class: 'chart', id: 'timeline-chart' });
  root.append(panel('Timeline (seconds from play intent)', box));
  const end = Math.max(b.at_ms, ...items.map((i) => i.b ?? i.a));
  // Aligned x values: every span edge, a gap just after each span (so two spans in a
  // lane are not joined), every point, and both ends.
  const xsSet = new Set([0, end / 1000]);
  for (const i of items) {
    xsSet.add(i.a / 1000);
    if (i.b !== null) { xsSet.add(i.b / 1000); xsSet.add(i.b / 1000 + 0.0005); }
  }
  const xs = [...xsSet].sort((p, q) => p - q);
  const series = LANES.slice(1).map((_, k) => {
    const lane = k + 1;
    const mine = items.filter((i) => i.lane === lane);
    return xs.map((x) => (mine.some((i) => (i.b === null ? Math.abs(i.a / 1000 - x) < 1e-9 : x >= i.a / 1000 && x <= i.b / 1000)) ? lane : null));
  });
  chart(box, {
    height: 240,
    series: [{ label: 's' }, ...LANES.slice(1).map((l, k) => ({
      label: l, stroke: COLORS[k], width: 8, spanGaps: false,
      points: { show: k >= 3, size: 12, fill: COLORS[k] },
      paths: k >= 3 ? () => null : undefined,
    }))],
    scales: { x: { time: false }, y: { range: [0.5, LANES.length - 0.5] } },
    axes: [{ values: (u, vs) => vs.map((x) => `${x}s`) }, { size: 90, values: (u, vs) => vs.map((y) => LANES[y] || ''), incrs: [1] }],
  }, [xs, ...series]);

  const cols = [
    { key: 'at', label: 'At', f: fmt.ms, num: true },
    { key: 'what', label: 'Event' },
    { key: 'detail', label: 'Detail' },
  ];
  const { table } = sortableTable(cols, items.map((i) => ({ at: i.a, what: i.what, detail: i.detail })), { sortKey: 'at', desc: false });
  table.id = 'timeline-table';
  root.append(panel(`${items.length} events`, el('div', { class: 'scroll' }, table)));
}
