// vidpulse dashboard: shared pieces. Why it exists: every page needs the same
// safe DOM builder (text only: page-originated strings never reach innerHTML),
// the URL state (range and filters), API calls, number formats and the uPlot
// wrapper.

/** Builds an element. `attrs`: properties/attributes; children: nodes or strings (as text). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'href') e.setAttribute('href', safeHref(v));
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Only same-origin paths are linked. */
function safeHref(v) {
  const s = String(v);
  return s.startsWith('/') && !s.startsWith('//') ? s : '#';
}

/** Dimensions of the API (`filter=dim:value`, `group_by=dim`). */
export const DIMS = ['video', 'title', 'browser', 'os', 'device_type', 'country', 'cdn',
  'player_name', 'page_host', 'property', 'stream_type'];

/** Time ranges offered, in ms. */
export const RANGES = { '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };

/** The URL's state: range (or from/to), filters, and page-specific parameters. */
export function urlState() {
  const p = new URLSearchParams(location.search);
  const now = Date.now();
  let from = Number(p.get('from'));
  let to = Number(p.get('to'));
  const range = RANGES[p.get('range')] ? p.get('range') : '24h';
  if (!(Number.isSafeInteger(to) && to > 0)) to = now;
  if (!(Number.isSafeInteger(from) && from > 0 && from < to)) from = to - RANGES[range];
  const filters = p.getAll('filter').filter((f) => DIMS.includes(f.split(':')[0]));
  return { params: p, from, to, range, filters, explicit: p.has('from') };
}

/** The current URL with `changes` applied (null removes; arrays repeat). */
export function urlWith(changes, path = location.pathname) {
  const p = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    p.delete(k);
    if (v === null || v === undefined) continue;
    for (const one of [].concat(v)) p.append(k, one);
  }
  const q = p.toString();
  return path + (q ? '?' + q : '');
}

/** Query string for the API: from, to, filters, plus `extra`. */
export function apiParams(st, extra = {}) {
  const p = new URLSearchParams();
  p.set('from', String(Math.floor(st.from)));
  p.set('to', String(Math.floor(st.to)));
  for (const f of st.filters) p.append('filter', f);
  for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
  return p;
}

/** GET a JSON API path; a 401 sends the browser to the login form. */
export async function api(path, params) {
  const url = params ? `${path}?${params}` : path;
  const resp = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (resp.status === 401) {
    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
    throw new Error('login required');
  }
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    const field = body && body.field ? ` (${body.field})` : '';
    throw new Error(`${path}: ${resp.status} ${body && body.error ? body.error : ''}${field}`);
  }
  return { body, headers: resp.headers };
}

/** Shows an error in the banner (as text). */
export function showError(err) {
  const b = document.getElementById('error');
  b.textContent = String(err && err.message ? err.message : err);
  b.hidden = false;
}

const nf = new Intl.NumberFormat('en-US');

/** Number formats by kind. */
export const fmt = {
  int: (v) => (v === null || v === undefined ? '–' : nf.format(Math.round(v))),
  ms: (v) => (v === null || v === undefined ? '–' : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`),
  pct: (v) => (v === null || v === undefined ? '–' : `${Number(v).toFixed(2)} %`),
  dur: (v) => {
    if (v === null || v === undefined) return '–';
    const s = v / 1000;
    if (s < 60) return `${s.toFixed(1)} s`;
    if (s < 3600) return `${(s / 60).toFixed(1)} min`;
    return `${(s / 3600).toFixed(2)} h`;
  },
  num: (v) => (v === null || v === undefined ? '–' : Number(v).toFixed(2)),
  time: (ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z',
};

/** KPIs: label, format, and which way is better (for change colours). */
export const KPIS = {
  views: { label: 'Views', f: fmt.int, better: 0, kind: 'count' },
  unique_viewers: { label: 'Unique viewers', f: fmt.int, better: 0, kind: 'count' },
  playing_ms: { label: 'Playing time', f: fmt.dur, better: 0, kind: 'count' },
  watch_ms: { label: 'Watch time', f: fmt.dur, better: 0, kind: 'count' },
  startup_p50_ms: { label: 'Startup p50', f: fmt.ms, better: -1, kind: 'ms' },
  startup_p95_ms: { label: 'Startup p95', f: fmt.ms, better: -1, kind: 'ms' },
  startup_mean_ms: { label: 'Startup mean', f: fmt.ms, better: -1, kind: 'ms' },
  rebuffer_pct: { label: 'Rebuffer %', f: fmt.pct, better: -1, kind: 'pct' },
  rebuffer_per_min: { label: 'Rebuffers / min', f: fmt.num, better: -1, kind: 'num' },
  failure_pct: { label: 'Failure %', f: fmt.pct, better: -1, kind: 'pct' },
  vsf_pct: { label: 'Start failure %', f: fmt.pct, better: -1, kind: 'pct' },
  ebvs_pct: { label: 'Exit before start %', f: fmt.pct, better: -1, kind: 'pct' },
  completion_pct: { label: 'Completion %', f: fmt.pct, better: 1, kind: 'pct' },
  seek_latency_mean_ms: { label: 'Seek latency', f: fmt.ms, better: -1, kind: 'ms' },
  dropped_frame_pct: { label: 'Dropped frames %', f: fmt.pct, better: -1, kind: 'pct' },
  upscale_pct: { label: 'Upscale %', f: fmt.pct, better: -1, kind: 'pct' },
};

/** Chart colours, one per series. */
export const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2'];

/** A uPlot chart in `parent`, as wide as it; resized with the window. */
export function chart(parent, opts, data) {
  const width = Math.max(240, Math.floor(parent.clientWidth || 600));
  const u = new uPlot({ width, height: 220, ...opts }, data, parent);
  const ro = new ResizeObserver(() => {
    const w = Math.max(240, Math.floor(parent.clientWidth));
    if (w !== u.width) u.setSize({ width: w, height: u.height });
  });
  ro.observe(parent);
  return u;
}

/** uPlot bars path builder (from the library). */
export function bars() {
  return uPlot.paths.bars({ size: [0.7, 60] });
}

/** A sortable table: `cols` = [{key, label, f?, num?}], rows of objects. */
export function sortableTable(cols, rows, { sortKey, desc = true, onSort, rowAttrs } = {}) {
  const sorted = [...rows];
  if (sortKey) {
    sorted.sort((a, b) => {
      const x = a[sortKey];
      const y = b[sortKey];
      const c = typeof x === 'number' || typeof y === 'number'
        ? (x ?? -Infinity) - (y ?? -Infinity)
        : String(x ?? '').localeCompare(String(y ?? ''));
      return desc ? -c : c;
    });
  }
  const head = el('tr', {}, cols.map((c) => el('th', {
    scope: 'col',
    class: c.num ? 'num' : '',
    'aria-sort': c.key === sortKey ? (desc ? 'descending' : 'ascending') : null,
  }, onSort && c.sortable !== false
    ? el('button', { type: 'button', class: 'sort', dataset: { key: c.key }, onclick: () => onSort(c.key) },
      c.label, c.key === sortKey ? (desc ? ' ▼' : ' ▲') : '')
    : c.label)));
  const body = sorted.map((r) => el('tr', rowAttrs ? rowAttrs(r) : {}, cols.map((c) => el('td', {
    class: c.num ? 'num' : 'text',
    title: !c.num && typeof r[c.key] === 'string' ? r[c.key].slice(0, 1000) : null,
    dataset: c.num && typeof r[c.key] === 'number' ? { raw: String(r[c.key]) } : {},
  }, c.render ? c.render(r) : c.f ? c.f(r[c.key]) : r[c.key]))));
  return { table: el('table', { class: 'data' }, el('thead', {}, head), el('tbody', {}, body)), sorted };
}

/** A titled panel. */
export function panel(title, ...children) {
  return el('section', { class: 'panel' }, el('h2', {}, title), ...children);
}
