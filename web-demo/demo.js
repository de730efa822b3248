/**
 * vidpulse demo page logic: why it exists.
 *
 * Attaches the wasm plugin to the page's <video>, shows its live snapshot and every
 * beacon it sends, and offers buttons that switch to a normal, a throttled and a broken
 * source so a developer sees rebuffering and failures being measured. Query parameters
 * let the end-to-end tests script it:
 *   src       media URL path (default /media/clip.webm)
 *   autoplay  1 = call video.play() right after monitor()
 *   interval  beaconIntervalMs passed to the plugin
 *   id, title the video's id and title
 *   debug     1 = load the debug core and pass `debug: true` to monitor(), so
 *             handle.trace() returns the inputs
 *   spy       1 = record every navigator.sendBeacon call in localStorage
 *             (`vidpulseSendBeacon`: [{url, bytes, queued, t}]), which outlives the page
 * Exposes window.vidpulseDemo = { handle, beacons, ready } (ready is set last; beacons
 * holds a copy of every batch passed to onBeacon, oldest first) and
 * window.vidpulseObserver (the independent ground-truth observer, see observer.js).
 * All data is rendered with textContent: nothing from the URL, the plugin or the
 * collector ever goes through innerHTML.
 */

import { observe } from './observer.js';

const SOURCES = {
  normal: '/media/clip.webm',
  throttled: '/media/clip-hq.mp4?rate=20000&burst=200000',
  broken: '/media/corrupt.mp4',
};
const SNAPSHOT_KEYS = [
  'view_id', 'seq', 'startup_ms', 'startup_invalid', 'first_frame', 'rebuffer_count',
  'rebuffer_ms', 'rebuffer_max_ms', 'watch_ms', 'playing_ms', 'error', 'ended', 'view_ended',
];
const MAX_BEACON_ROWS = 200;
let sentCount = 0;

const params = new URLSearchParams(location.search);
const video = document.getElementById('video');
const statusEl = document.getElementById('status');
const sourceEl = document.getElementById('source');
const titleEl = document.getElementById('video-title');
const snapshotBody = document.querySelector('#snapshot tbody');
const beaconBody = document.querySelector('#beacons tbody');
const beaconCount = document.getElementById('beacon-count');

// Visible to the tests before the plugin is ready, so a failure is reported, not waited on.
const demo = { handle: null, beacons: [], ready: false, error: null };
window.vidpulseDemo = demo;

// The observer attaches first so it sees every event of the element.
video.muted = true;
window.vidpulseObserver = observe(video);

function setStatus(text, isError = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', isError);
}

function fmt(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(1);
  if (typeof value === 'object') {
    if ('code' in value) return `code ${value.code}: ${value.message ?? ''}`;
    return JSON.stringify(value);
  }
  return String(value);
}

function cell(row, text, numeric = false) {
  const td = document.createElement('td');
  td.textContent = text;
  if (numeric) td.className = 'num';
  row.appendChild(td);
}

// Snapshot table: one row per metric, created once, values updated in place.
const snapshotCells = new Map();
for (const key of SNAPSHOT_KEYS) {
  const tr = document.createElement('tr');
  cell(tr, key);
  const td = document.createElement('td');
  td.textContent = '—';
  tr.appendChild(td);
  snapshotCells.set(key, td);
  snapshotBody.appendChild(tr);
}

function renderSnapshot() {
  if (!demo.handle) return;
  let snap;
  try {
    snap = demo.handle.snapshot();
  } catch (e) {
    return; // destroyed handle: keep the last values on screen
  }
  if (!snap || typeof snap !== 'object') return;
  for (const [key, td] of snapshotCells) {
    const text = fmt(snap[key]);
    if (td.textContent !== text) td.textContent = text;
  }
}

function clock() {
  const d = new Date();
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function onBeacon(batch) {
  let copy;
  try {
    copy = JSON.parse(JSON.stringify(batch));
  } catch (e) {
    copy = batch;
  }
  const time = clock();
  demo.beacons.push(copy);
  const beacons = (copy && Array.isArray(copy.beacons)) ? copy.beacons : [];
  for (const b of beacons) {
    const m = b.metrics || {};
    const tr = document.createElement('tr');
    cell(tr, time);
    cell(tr, fmt(b.reason));
    cell(tr, fmt(b.seq), true);
    cell(tr, fmt(m.startup_ms), true);
    cell(tr, fmt(m.rebuffer_count ?? 0), true); // beacons leave out members at 0
    cell(tr, fmt(m.rebuffer_ms ?? 0), true);
    cell(tr, fmt(m.playing_ms ?? 0), true);
    cell(tr, m.error ? fmt(m.error.code) : '');
    beaconBody.insertBefore(tr, beaconBody.firstChild);
  }
  while (beaconBody.children.length > MAX_BEACON_ROWS) beaconBody.lastChild.remove();
  sentCount += beacons.length;
  beaconCount.textContent = `(${sentCount} in ${demo.beacons.length} batches)`;
}

function play() {
  // play() rejects for a broken source or when interrupted by a source change; the
  // plugin measures those through media events, the page only has to not throw.
  const p = video.play();
  if (p && typeof p.catch === 'function') {
    p.catch((e) => {
      const name = e && e.name ? e.name : String(e);
      // AbortError = interrupted by a source change: expected when switching clips.
      if (name !== 'AbortError') setStatus(`play() rejected: ${name}`, true);
    });
  }
}

function load(src, autoplay) {
  sourceEl.textContent = src;
  video.src = src;
  if (autoplay) play();
}

function switchTo(src) {
  const url = new URL(location.href);
  url.searchParams.set('src', src);
  url.searchParams.set('autoplay', '1');
  history.replaceState(null, '', url);
  setStatus(`Playing ${src}`);
  load(src, true);
}

document.getElementById('btn-normal').addEventListener('click', () => switchTo(SOURCES.normal));
document.getElementById('btn-throttled').addEventListener('click', () => switchTo(SOURCES.throttled));
document.getElementById('btn-broken').addEventListener('click', () => switchTo(SOURCES.broken));
document.getElementById('btn-flush').addEventListener('click', () => {
  if (!demo.handle) return;
  try {
    demo.handle.flush();
    setStatus('Flushed: the current state was sent.');
  } catch (e) {
    setStatus(`flush() failed: ${e && e.message ? e.message : e}`, true);
  }
});

/**
 * Test hook: wraps navigator.sendBeacon so each call is appended to localStorage
 * (`vidpulseSendBeacon`). localStorage outlives the page, so a test can read, after
 * leaving it, which beacons went out through sendBeacon (e.g. on `pagehide`).
 */
function spyOnSendBeacon() {
  const KEY = 'vidpulseSendBeacon';
  const original = navigator.sendBeacon.bind(navigator);
  localStorage.removeItem(KEY);
  navigator.sendBeacon = (url, data) => {
    const queued = original(url, data);
    try {
      const log = JSON.parse(localStorage.getItem(KEY) || '[]');
      const bytes = typeof data === 'string' ? data.length : (data && data.size) || 0;
      log.push({ url: String(url), bytes, queued, t: performance.now() });
      localStorage.setItem(KEY, JSON.stringify(log));
    } catch (e) {
      // The spy must never break the page.
    }
    return queued;
  };
}

async function main() {
  const src = params.get('src') || SOURCES.normal;
  const autoplay = params.get('autoplay') === '1';
  const interval = Number.parseInt(params.get('interval') || '', 10);
  const id = params.get('id') || 'clip-1';
  const title = params.get('title') || 'Clip 1';
  const debug = params.get('debug') === '1';
  // Where beacons go (default: this page's own collector). The delivery tests point
  // it at a second collector they stop and restart.
  const collector = params.get('collector') || location.origin;
  if (params.get('spy') === '1') spyOnSendBeacon();

  titleEl.textContent = `${title} (${id})`;

  let plugin;
  try {
    plugin = await import('/plugin/vidpulse.js');
    // debug=1 loads the debug core, which records the inputs for handle.trace().
    await plugin.default(debug ? { module_or_path: '/plugin/vidpulse_debug_bg.wasm' } : undefined);
  } catch (e) {
    const msg = `The plugin could not be loaded (${e && e.message ? e.message : e}). ` +
      'Build it with `cargo xtask plugin` (or run `cargo xtask demo`).';
    demo.error = msg;
    setStatus(msg, true);
    return;
  }

  const options = {
    collector,
    property: 'demo',
    video: { id, title },
    onBeacon,
  };
  if (Number.isFinite(interval) && interval > 0) options.beaconIntervalMs = interval;
  if (debug) options.debug = true;

  try {
    demo.handle = plugin.monitor(video, options);
  } catch (e) {
    const msg = `monitor() failed: ${e && e.message ? e.message : e}`;
    demo.error = msg;
    setStatus(msg, true);
    return;
  }

  load(src, autoplay);
  setStatus(autoplay ? `Playing ${src}` : `Ready: press play (${src})`);
  setInterval(renderSnapshot, 250);
  renderSnapshot();
  demo.ready = true;
}

main();
