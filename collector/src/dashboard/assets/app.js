// vidpulse dashboard: the entry point. Why it exists: one shell serves every
// page; this draws the navigation and the range/filter controls (kept in the
// URL, so a view of the data can be shared) and hands the page to its module.

import { el, urlState, urlWith, RANGES, DIMS, showError } from './common.js';
import * as overview from './overview.js';
import * as breakdowns from './breakdowns.js';
import * as videos from './videos.js';
import * as views from './views.js';
import * as errors from './errors.js';

const PAGES = [
  ['/', 'Overview', overview],
  ['/breakdowns', 'Breakdowns', breakdowns],
  ['/videos', 'Videos', videos],
  ['/views', 'Views', views],
  ['/errors', 'Errors', errors],
];

/** Query parameters every page shares (carried over by the navigation). */
const SHARED = ['range', 'from', 'to', 'filter'];

function sharedQuery() {
  const p = new URLSearchParams(location.search);
  const out = new URLSearchParams();
  for (const k of SHARED) for (const v of p.getAll(k)) out.append(k, v);
  const q = out.toString();
  return q ? '?' + q : '';
}

function nav() {
  const n = document.getElementById('nav');
  for (const [path, label] of PAGES) {
    n.append(el('a', {
      href: path + sharedQuery(),
      'aria-current': location.pathname === path ? 'page' : null,
    }, label));
  }
}

function controls(st) {
  const c = document.getElementById('controls');
  const range = el('select', { id: 'range', 'aria-label': 'Time range' },
    Object.keys(RANGES).map((r) => el('option', { value: r, selected: !st.explicit && r === st.range }, `Last ${r}`)),
    st.explicit ? el('option', { value: '', selected: true }, 'Custom range') : null);
  range.addEventListener('change', () => {
    if (range.value) location.assign(urlWith({ range: range.value, from: null, to: null }));
  });
  const chips = st.filters.map((f) => {
    const [d, ...rest] = f.split(':');
    return el('span', { class: 'chip' }, el('b', {}, d), ' = ', el('span', { class: 'chip-value' }, rest.join(':')),
      el('button', {
        type: 'button', 'aria-label': 'Remove filter',
        onclick: () => location.assign(urlWith({ filter: st.filters.filter((x) => x !== f) })),
      }, '×'));
  });
  const dim = el('select', { id: 'filter-dim', 'aria-label': 'Filter dimension' }, DIMS.map((d) => el('option', { value: d }, d)));
  const value = el('input', { id: 'filter-value', type: 'text', placeholder: 'value', 'aria-label': 'Filter value', maxlength: 2048 });
  const add = el('form', {
    class: 'add-filter',
    onsubmit: (e) => {
      e.preventDefault();
      if (value.value) location.assign(urlWith({ filter: [...st.filters, `${dim.value}:${value.value}`] }));
    },
  }, dim, value, el('button', { type: 'submit' }, 'Add filter'));
  const span = el('span', { class: 'span', id: 'span' }, `${new Date(st.from).toISOString().slice(0, 16)} → ${new Date(st.to).toISOString().slice(0, 16)} UTC`);
  c.append(range, span, ...chips, add);
}

async function main() {
  const st = urlState();
  nav();
  controls(st);
  const root = document.getElementById('page');
  root.dataset.from = String(Math.floor(st.from));
  root.dataset.to = String(Math.floor(st.to));
  const page = (PAGES.find(([p]) => p === location.pathname) || PAGES[0])[2];
  try {
    await page.render(root, st);
  } catch (err) {
    showError(err);
  } finally {
    document.body.dataset.ready = '1';
  }
}

main();
