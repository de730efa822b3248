// vidpulse plugin: the page-facing half of the browser binding.
//
// `await init()` loads the wasm core; `monitor(video, options)` measures a
// <video>. This file does the I/O the core cannot: it reads the options and the
// element, owns the listeners, timers, fetch, sendBeacon and localStorage, and
// hands every input to the core (src/glue/ in the crate), which decides the
// metrics and the beacons; what a batch holds and when to retry is decided by
// the delivery queue (outbox.js, bundled into this file by `cargo xtask plugin`).
// The core's exports are one-letter names; src/glue/mod.rs lists them.
//
// Rules kept here:
// - Every input goes begin (`b`) → feed (`i`/`m`) → after (`d`, `f`, `e`), so
//   the core's trace of a monitor is complete.
// - Listeners are kept with their removers: destroy() removes every one.
// - Nothing is stored or sent without consent; cookieless stores nothing.

import { Outbox } from './outbox.js';

/** Media events the core needs, by DOM name; the index is the core's input number. */
const EVENTS = [
  'emptied', 'loadstart', 'play', 'playing', 'pause', 'waiting', 'stalled', 'timeupdate',
  'seeking', 'seeked', 'ended', 'error', 'canplay', 'ratechange', 'volumechange', 'resize',
];
const LOADSTART = 1, PLAY = 2, ENDED = 10, ERROR = 11, RESIZE = 15, FRAME = 16, PAGEHIDE = 17,
  FULLSCREEN = 18, REPORTED_ERROR = 19, VIDEO_CHANGE = 20, TIMEOUT = 21, FLUSH = 22,
  END_VIEW = 23;
/** Largest body sent with `keepalive` (browsers cap keepalive bodies at 64 KB). */
const MAX_KEEPALIVE_BODY = 60 * 1024;
/** Smallest heartbeat period accepted, so a typo cannot flood the collector. */
const MIN_BEACON_INTERVAL_MS = 1000;
/** Longest string option kept (ids, titles, keys). */
const MAX_OPTION_LEN = 1024;
/** Where the viewer id is kept, and the prefix of saved queues' keys. */
const VIEWER_KEY = 'vidpulse.viewer', OUTBOX_KEY = 'vidpulse.outbox:';

let core, loading;
const enc = new TextEncoder(), dec = new TextDecoder();
const monitors = new Map(), senders = new Map();
/** Frees a monitor's core state once the page has dropped its (destroyed) handle. */
const freed = globalThis.FinalizationRegistry && new FinalizationRegistry((h) => core.x(h));
let pageLoadTaken = false;

/** Loads the wasm core once: `init()`, `init(url)` or `init({ module_or_path })`. */
export default function init(arg) {
  return (loading ??= (async () => {
    try {
      let src = arg?.module_or_path ?? arg ?? new URL('vidpulse_bg.wasm', import.meta.url);
      if (typeof src === 'string' || src instanceof URL || src instanceof Request) src = fetch(src);
      src = await src;
      if (src instanceof Response) src = await src.arrayBuffer();
      const r = await WebAssembly.instantiate(src, {});
      core = (r.instance ?? r).exports;
    } catch (e) {
      loading = null; // a later init() may try again
      throw e;
    }
  })());
}

// Strings cross into the core as UTF-8 arguments queued before the call, and
// come back as a length with the bytes at `o()`.
const put = (s) => {
  if (s == null) return core.n();
  const b = enc.encode(s), at = core.a(b.length); // may grow (and detach) the memory
  new Uint8Array(core.memory.buffer, at, b.length).set(b);
};
const text = (len) => (len < 0 ? null : dec.decode(new Uint8Array(core.memory.buffer, core.o(), len)));

const fail = (msg) => { throw new Error(msg); };
const get = (o, k) => (o == null ? undefined : o[k]);
const hex = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n / 2)),
  (b) => b.toString(16).padStart(2, '0')).join('');
const storage = (f) => { try { return f(localStorage); } catch { return null; } };

/** A string option: absent is undefined; present but not a string is an error. */
function string(o, k, path) {
  const v = get(o, k);
  if (v == null) return undefined;
  if (typeof v !== 'string') fail(`${path}: expected a string`);
  if (v.length > MAX_OPTION_LEN) fail(`${path}: longer than 1024 characters`);
  return v;
}

/** A non-negative number option: absent is undefined. */
function number(o, k, path) {
  const v = get(o, k);
  if (v == null) return undefined;
  if (typeof v !== 'number' || !(v >= 0) || v === Infinity) fail(`${path}: expected a non-negative number`);
  return v;
}

/** Content metadata `{ id, title, series, duration, cdn }`, checked: the strings
 *  in the order the core takes them, then the duration (ms, -1 absent). */
function videoMeta(v, path) {
  if (typeof v !== 'object' || v === null) return [, , , , -1];
  const s = (k) => string(v, k, `${path}.${k}`);
  return [s('id'), s('title'), s('series'), s('cdn'), number(v, 'duration', `${path}.duration`) ?? -1];
}

/** The anonymous viewer id: kept in localStorage when allowed, else for this page. */
function viewerId(store) {
  const kept = store && storage((l) => l.getItem(VIEWER_KEY));
  if (kept && kept.length <= 64) return kept;
  const id = hex(16);
  if (store) storage((l) => l.setItem(VIEWER_KEY, id));
  return id;
}

/** Whether this viewer is in the sample: a stable hash (FNV-1a) of the id. */
function sampled(viewer, rate) {
  if (rate >= 1) return true;
  if (!viewer) return Math.random() < rate; // cookieless: no stable id, decide per page
  let h = 0x811c9dc5;
  for (const b of enc.encode(viewer)) h = Math.imul(h ^ b, 0x01000193);
  return (h >>> 0) / 2 ** 32 < rate;
}

// ---- Senders: one per collector and property, shared by its monitors. ----

/** The page's sender for `url` and `property`, created on first use; with
 *  consent, it claims the queues earlier pages left for it and sends them. */
function sender(url, property, viewer, persist, consented, hook) {
  // JSON: no url or property can make another pair's prefix.
  const prefix = OUTBOX_KEY + JSON.stringify([url, property]);
  let s = senders.get(prefix);
  if (s) return s;
  const queue = () => new Outbox(property, viewer);
  s = { _q: queue(), _queue: queue, _url: url, _persist: persist, _prefix: prefix,
    _key: prefix + hex(12), _hooks: [], _on: true, _claimed: false, _timer: 0 };
  senders.set(prefix, s);
  // The page's hook sees even the first batch (the queues claimed just now).
  if (typeof hook === 'function') s._hooks.push(hook);
  consent(s, consented);
  return s;
}

/** Adds the queues earlier pages saved for this sender (once, with consent). */
function claim(s) {
  if (s._claimed || !s._persist) return;
  s._claimed = true;
  storage((l) => {
    for (const k of Object.keys(l)) {
      if (!k.startsWith(s._prefix)) continue;
      s._q.restore(l.getItem(k) ?? ''); // another tab may have claimed it meanwhile
      l.removeItem(k);
    }
  });
}

/** Saves the queue after every change (removes the key when there is nothing to keep). */
function save(s) {
  if (!s._persist) return;
  const saved = s._q.save();
  storage((l) => (saved ? l.setItem(s._key, saved) : l.removeItem(s._key)));
}

/** Calls the page's hooks with a body sent, as a plain object. */
function notify(s, body) {
  if (!s._hooks.length) return;
  const batch = JSON.parse(body);
  for (const h of s._hooks) {
    try { h(batch); } catch { /* the page's hook must not break delivery */ }
  }
}

/** Records the answer to the request in flight (if any) from queue `q`, then
 *  sends the next batch or arms the retry timer. One request at a time; an
 *  answer for a queue consent has since replaced is ignored. */
function pump(s, status, q) {
  const now = performance.now();
  if (status !== undefined && q === s._q) {
    q.finish(status, now, Math.random());
    save(s);
  }
  const body = s._on && s._q.batch(now), at = s._q.retryAt();
  if (!body) {
    // 1 ms late, so the timer fires after the retry time, not just before it.
    if (at >= 0 && !s._timer) {
      s._timer = setTimeout(() => { s._timer = 0; pump(s); }, Math.min(Math.max(at - now, 0), 2e9) + 1);
    }
    return;
  }
  q = s._q;
  fetch(s._url, { method: 'POST', body, keepalive: enc.encode(body).length <= MAX_KEEPALIVE_BODY })
    .then((r) => pump(s, r.status, q), () => pump(s, 0, q));
  notify(s, body);
}

/** Queues the beacons the core wrote (`n`: their length, as `e` answers), then
 *  saves and sends (with `sendBeacon` too when the page is going away). */
function send(s, n, beacon) {
  if (!s._on || (n < 0 && !beacon)) return;
  if (n >= 0) for (const b of text(n).split('\n')) s._q.push(JSON.parse(b));
  save(s);
  if (beacon) {
    const body = s._q.all();
    let ok = false;
    try { ok = body && navigator.sendBeacon(s._url, body); } catch { /* no sendBeacon here */ }
    if (ok) notify(s, body);
  }
  pump(s);
}

/** Consent on or off. Off forgets everything queued and leaves earlier pages'
 *  queues where they are, unsent; on claims those and sends. */
function consent(s, on) {
  s._on = on;
  if (on) claim(s);
  else s._q = s._queue();
  save(s);
  if (on) pump(s);
}

// ---- Monitors. ----

/** Runs `f` (which feeds the core) at a fresh clock and element state (`at`: a
 *  time the browser gave), then arms what the core asks for and sends. */
function deliver(m, beacon, f, at) {
  const v = m.v, h = m.h;
  core.b(...state(m, at));
  f();
  const delay = core.d(h);
  if (delay !== -2) {
    clearTimeout(m._timer);
    m._timer = delay < 0 ? 0 : setTimeout(() => {
      m._timer = 0;
      deliver(m, false, () => { measure(m); core.i(h, TIMEOUT); });
    }, delay);
  }
  if (core.f(h) && m._frame == null && v.requestVideoFrameCallback) {
    m._frame = v.requestVideoFrameCallback((now, meta) => deliver(m, false, () => {
      m._frame = null;
      core.i(h, FRAME);
    }, meta?.expectedDisplayTime ?? now));
  }
  send(m.s, core.e(h), beacon);
}

/** The clock (`at`, else now) and the element's state, as `b` takes them. */
function state(m, at) {
  const v = m.v;
  return [m.h, at ?? performance.now(), v.currentTime, v.paused | (v.seeking << 1) | (v.ended << 2),
    v.readyState, v.playbackRate, v.duration];
}

/** The measurements no event carries: displayed size in device pixels, frame
 *  counters, media throughput from Resource Timing (where the server allows it). */
function measure(m) {
  const v = m.v, r = devicePixelRatio || 1, q = v.getVideoPlaybackQuality?.();
  let bytes = 0, ms = 0;
  if (v.currentSrc) {
    for (const e of performance.getEntriesByName(v.currentSrc)) {
      const d = e.responseEnd - e.responseStart;
      if (e.transferSize > 0 && d > 0) { bytes += e.transferSize; ms += d; }
    }
  }
  core.m(m.h, v.clientWidth * r, v.clientHeight * r, q ? q.droppedVideoFrames : -1,
    q ? q.totalVideoFrames : -1, ms > 0 ? (bytes * 8000) / ms : -1);
}

/** Feeds media event number `k` with what it carries. */
function mediaEvent(m, k) {
  const v = m.v;
  // Measure where the numbers matter: at play intent, on a new rendition, and
  // before the beacons `ended` and `error` send.
  if (k === PLAY || k === RESIZE || k === ENDED || k === ERROR) measure(m);
  if (k === LOADSTART) put(v.currentSrc);
  if (k === ERROR) put(v.error?.message ?? '');
  core.i(m.h, k, k === ERROR ? v.error?.code ?? 0 : v.videoWidth, v.videoHeight, -1);
}

/** Attaches the media, fullscreen, page-hide and visibility listeners. */
function listen(m) {
  const on = (target, name, f) => {
    target.addEventListener(name, f);
    m._off.push(() => target.removeEventListener(name, f));
  };
  EVENTS.forEach((name, k) => on(m.v, name, () => deliver(m, false, () => mediaEvent(m, k))));
  on(window, 'pagehide', () => deliver(m, true, () => { measure(m); core.i(m.h, PAGEHIDE); }));
  on(document, 'fullscreenchange', () => deliver(m, false, () => {
    core.i(m.h, FULLSCREEN, document.fullscreenElement?.contains(m.v) ? 1 : 0);
    measure(m);
  }));
  // The tab may never come back: send what we have while we can.
  on(document, 'visibilitychange', () => document.visibilityState === 'hidden'
    && deliver(m, true, () => { measure(m); core.i(m.h, FLUSH); }));
}

/** The handle `monitor()` returns. */
class Monitor {
  constructor(v, h, s) {
    Object.assign(this, { v, h, s, _off: [], _timer: 0, _frame: null });
  }

  /** The current (or last) view's metrics as a plain object. */
  snapshot() {
    core.b(...state(this)); // the clock and element now; feeds nothing
    return JSON.parse(text(core.s(this.h)));
  }

  /** Sends the current state now. */
  flush() {
    deliver(this, false, () => { measure(this); core.i(this.h, FLUSH); });
  }

  /** Ends the view, sends its final beacon and removes every listener and timer. */
  destroy() {
    deliver(this, false, () => { measure(this); core.i(this.h, END_VIEW); });
    this._off.forEach((f) => f());
    this._off = [];
    clearTimeout(this._timer);
    if (this._frame != null) this.v.cancelVideoFrameCallback?.(this._frame);
    this._frame = null;
    if (monitors.get(this.v) === this) monitors.delete(this.v);
  }

  /** New content in this player (single-page apps): ends the current view; the
   *  next starts at once if the element is playing. */
  setVideo(video) {
    const meta = videoMeta(video, 'video');
    this._feed(() => {
      meta.slice(0, 4).forEach(put);
      core.i(this.h, VIDEO_CHANGE, 0, 0, meta[4]);
    });
  }

  /** A rendition the player switched to: `{ width, height, bitrate }` (bit/s). */
  reportRendition(r) {
    const n = (k) => number(r, k, `rendition.${k}`);
    const [width, height, bitrate] = [n('width'), n('height'), n('bitrate')];
    this._feed(() => core.i(this.h, RESIZE, width ?? 0, height ?? 0, bitrate ?? -1));
  }

  /** An error the player knows of: `{ code, message, fatal }` (`fatal` defaults to true). */
  reportError(e) {
    const code = number(e, 'code', 'error.code');
    const message = string(e, 'message', 'error.message');
    this._feed(() => {
      put(message ?? '');
      core.i(this.h, REPORTED_ERROR, Math.min(code ?? 0, 65535), get(e, 'fatal') === false ? 0 : 1);
    });
  }

  /** Consent at run time: `false` stops storing and sending and forgets what is
   *  queued and the stored viewer id; `true` resumes. */
  setConsent(on) {
    consent(this.s, !!on);
    if (!on) storage((l) => l.removeItem(VIEWER_KEY));
  }

  /** The recorded engine inputs as JSON (with the `debug` option and the debug
   *  core, `vidpulse_debug_bg.wasm`), else null. */
  trace() {
    return core.r ? text(core.r(this.h)) : null;
  }

  _feed(f) {
    if (this._off.length) deliver(this, false, f); // else destroyed, or not sampled
  }
}

/** Starts measuring `video` (any HTMLMediaElement). See the README for options;
 *  they are read and checked here, and an error names the field. */
export function monitor(video, o) {
  if (!core) fail('vidpulse: await init() before monitor()');
  if (!(video instanceof HTMLMediaElement)) fail('monitor(video, …): video must be an HTMLMediaElement');
  const known = monitors.get(video);
  if (known) return known;
  if (typeof o !== 'object' || o === null) fail('options: expected an object');
  const opt = (k) => string(o, k, `options.${k}`);
  const collector = opt('collector') || fail("options.collector: required (the collector's base URL)");
  const property = opt('property') || fail('options.property: required (the property key)');
  const meta = videoMeta(o.video, 'options.video');
  const num = (k) => number(o, k, `options.${k}`);
  const rate = num('sampleRate') ?? 1;
  if (!(rate > 0 && rate <= 1)) fail('options.sampleRate: a number in (0, 1]');
  const interval = o.beaconIntervalMs ?? 10000;
  if (!(typeof interval === 'number' && interval >= MIN_BEACON_INTERVAL_MS)) {
    fail('options.beaconIntervalMs: a number of at least 1000');
  }
  const init = num('playerInitTime');
  const player = (k) => string(o.player, k, `options.player.${k}`);
  // An unnamed player is the element itself.
  const strings = [player('name') ?? 'html5', player('version'), opt('experiment')];
  const id = opt('viewerId'), { cookieless, onBeacon } = o;
  const dnt = o.respectDoNotTrack && navigator.doNotTrack === '1';
  // Do Not Track respected is no consent: nothing stored or sent, not even the
  // queues earlier pages saved.
  const consented = o.consent !== false && !dnt;
  // Cookieless: an empty id asks the collector for a daily one; nothing stored
  // (nor with Do Not Track respected, where nothing is measured).
  const viewer = id ?? (cookieless ? '' : viewerId(consented));
  // Sampling is decided per viewer, so a viewer is in or out on every page.
  const watched = !dnt && sampled(viewer, rate);
  const perf = performance;
  // Player startup is measurable only if the element was not ready before init.
  // Absent times are NaN for the core (a time before the time origin is negative).
  const playerInit = init != null ? init - perf.timeOrigin : video.readyState < 3 ? perf.now() : NaN;
  const pageLoad = !Number.isNaN(playerInit) && !pageLoadTaken ? ((pageLoadTaken = true), playerInit) : NaN;
  const s = sender(`${collector.replace(/\/+$/, '')}/v1/beacons`, property, viewer, !cookieless,
    consented, onBeacon);
  if (typeof onBeacon === 'function' && !s._hooks.includes(onBeacon)) s._hooks.push(onBeacon);
  if (!consented && s._on) consent(s, false);
  [...meta.slice(0, 4), location.host, location.pathname, ...strings, video.currentSrc]
    .forEach(put);
  const h = core.c(...crypto.getRandomValues(new Uint32Array(2)), perf.timeOrigin, interval,
    playerInit, pageLoad, meta[4], o.autoplay === undefined ? video.autoplay : !!o.autoplay, !!o.debug);
  const m = new Monitor(video, h, s);
  monitors.set(video, m);
  freed?.register(m, h);
  if (!watched) return m; // sampled out or Do Not Track: a handle that measures nothing
  listen(m);
  deliver(m, false, () => {
    measure(m);
    // Monitoring may start on an element that is already playing.
    if (!video.paused) core.i(h, PLAY);
  });
  return m;
}
