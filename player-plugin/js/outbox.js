// vidpulse plugin: the delivery queue, a pure state machine in JS.
//
// Why JS and not the wasm core: written in Rust this queue, its delta writer
// and the batch envelope were 4.1 KB of the 15.6 KB gzip core; here they are
// about 1.5 KB, because JSON.parse and JSON.stringify come with the browser.
// It stays sans-IO like the engine: no clock, no randomness, no storage, no
// network inside (the shell in vidpulse.js passes `now` and `jitter` in and
// does the I/O), so the Rust tests drive it through node
// (player-plugin/tests/outbox.rs) and check every delta it writes against the
// collector's own resolver (`wire::Delta::resolve`, tests/delta.rs).
//
// What it decides: a newer beacon of a view *replaces* its queued one (their
// timeline events are concatenated), so an outage costs one entry per view;
// one batch in flight; retries with exponential backoff and jitter; a bounded
// queue, saved as one beacon per line; once the collector acknowledged a
// beacon of a view, later ones go as deltas (`wire::Delta`), whole again after
// a 409 or a sendBeacon (no answer comes back from one).

/** The wire format version (`wire::WIRE_VERSION`). */
const WIRE_VERSION = 1;
/** Most acknowledged views remembered (`ACKED_VIEWS`). */
const ACKED_VIEWS = 64;

/** The metrics members of a beacon in wire order, each "long short kind":
 *  `n` a total (sent as its difference), `t` a clock (a difference, left out
 *  when it equals `t`), `o` a value (sent whole when it changed, `null` for
 *  none), `b` a flag (the same, default false). The names are `wire::Delta`'s;
 *  tests/delta.rs checks this list against its serde names. */
const FIELDS = ('startup_ms su o,startup_invalid si b,first_frame ff b,rebuffer_count rc n,'
  + 'rebuffer_ms rb n,rebuffer_max_ms rm n,watch_ms w t,playing_ms p t,seek_count kc n,seek_ms k n,'
  + 'seek_max_ms km n,pause_count pc n,rate_changes rt n,volume_changes vc n,fullscreen_ms fs n,'
  + 'player_startup_ms ps o,page_load_ms pl o,aggregate_startup_ms as o,max_position_ms x t,'
  + 'coverage_buckets cb n,completed cp b,mean_height h o,rendition_changes rn n,'
  + 'upscale_permille up n,downscale_permille dn n,max_upscale_permille mu n,dropped_frames d n,'
  + 'total_frames f n,throughput_bps tp o,error er o,ended en b,view_ended ve b')
  .split(',').map((f) => f.split(' '));

/** Limits and timings; every one can be given to the constructor. */
const OUTBOX_DEFAULTS = {
  /** Most entries kept (one per view, plus restored ones); beyond it the
   *  oldest entry not in flight is dropped. */
  maxEntries: 100,
  /** Most timeline events one entry keeps when beacons merge. */
  maxEvents: 256,
  /** Most beacons in one request. */
  maxBatch: 20,
  /** First retry delay (ms); doubles per consecutive failure. */
  backoffBaseMs: 1000,
  /** Longest retry delay (ms). */
  backoffMaxMs: 60000,
};

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** Bucket `i` of a coverage hex (bucket 0 is bit 0 of the last digit). */
const bucket = (h, i) => (parseInt(h[h.length - 1 - (i >> 2)], 16) >> (i & 3)) & 1;

/** The buckets hex `y` adds to hex `x` as ranges (`"3-7,12"`), when `y` only
 *  adds, at least one, and both are hex of the length `n` buckets take; else
 *  nothing (the delta then carries the whole hex). */
function added(x, y, n) {
  if (!/^[0-9a-f]*$/.test(`${x}${y}`) || x.length !== y.length || y.length !== Math.ceil(n / 4)
    || n > 128) return;
  const ranges = [];
  for (let i = 0; i < y.length * 4; i++) {
    const p = bucket(x, i), q = bucket(y, i), last = ranges[ranges.length - 1];
    if (p > q) return;
    if (q > p) last && last[1] === i - 1 ? (last[1] = i) : ranges.push([i, i]);
  }
  return ranges.length ? ranges.map(([s, e]) => (e > s ? `${s}-${e}` : s)).join(',') : undefined;
}

/** Beacon `b` as a `wire::Delta` from `a`, the acknowledged beacon of its view,
 *  or nothing when it cannot be one (not newer, another start or version). */
export function delta(a, b) {
  if (a.view_id !== b.view_id || !(b.seq > a.seq) || a.started_at_ms !== b.started_at_ms
    || a.plugin_version !== b.plugin_version) return;
  const d = { i: b.view_id, s: b.seq }, t = b.at_ms - a.at_ms, x = a.metrics, y = b.metrics;
  if (b.seq - 1 !== a.seq) d.b = a.seq;
  if (b.reason !== 'interval') d.r = b.reason;
  if (t) d.t = t;
  if (!same(a.video, b.video)) d.vd = b.video;
  if (!same(a.context, b.context)) d.cx = b.context;
  if (b.events?.length) d.e = b.events;
  for (const [k, s, kind] of FIELDS) {
    if (k === 'coverage_buckets' && x.coverage !== y.coverage) {
      const r = x.coverage && y.coverage && added(x.coverage, y.coverage, y[k]);
      r ? (d.ca = r) : (d.c = y.coverage ?? null);
    }
    const none = kind === 'b' ? false : kind === 'o' ? null : 0, p = x[k] ?? none, q = y[k] ?? none;
    if (kind === 'n' || kind === 't') {
      if (q - p !== (kind === 't' ? t : 0)) d[s] = q - p;
    } else if (!same(p, q)) d[s] = q;
  }
  return d;
}

/** The queue of one sender (one collector and property). Beacons are the
 *  objects the core's JSON parses to. */
export class Outbox {
  /** `viewer` empty: cookieless (the collector derives a daily id). */
  constructor(property, viewer, limits) {
    Object.assign(this, { _p: property, _u: viewer, _c: { ...OUTBOX_DEFAULTS, ...limits },
      _q: [], _flight: 0, _fails: 0, _at: 0, _acked: [], dropped: 0 });
  }

  /** Number of queued beacons. */
  get length() {
    return this._q.length;
  }

  /** Queues a beacon, merging it into a queued, not-in-flight one of its view;
   *  when full, drops the oldest beacon not in flight (or this one, if all are). */
  push(b) {
    const q = this._q, c = this._c, f = this._flight;
    const i = q.findIndex((e, j) => j >= f && e.view_id === b.view_id && e.seq < b.seq);
    if (i >= 0) {
      const events = [...(q[i].events ?? []), ...(b.events ?? [])];
      if (events.length) b.events = events.slice(Math.max(0, events.length - c.maxEvents));
      q[i] = b;
      return;
    }
    if (q.length >= c.maxEntries) {
      this.dropped++;
      if (f >= q.length) return;
      q.splice(f, 1);
    }
    q.push(b);
  }

  /** Adds the beacons of a queue `save()` gave on an earlier page; lines
   *  that are not beacons (storage is the page's to corrupt) are skipped. */
  restore(saved) {
    for (const line of saved.split('\n')) {
      try {
        const b = JSON.parse(line);
        if (typeof b.view_id !== 'string' || typeof b.seq !== 'number' || typeof b.metrics !== 'object'
          || !b.metrics) continue;
        this._q.length < this._c.maxEntries ? this._q.push(b) : this.dropped++;
      } catch { /* not a saved beacon */ }
    }
  }

  /** Everything queued, one beacon per line ('' when empty). */
  save() {
    return this._q.map((b) => `${JSON.stringify(b)}\n`).join('');
  }

  /** When the next batch may go after failures (-1: whenever asked, or a
   *  request is in flight: its answer comes first). */
  retryAt() {
    return this._fails && !this._flight ? this._at : -1;
  }

  /** The next request body, if one may go at `now`: its beacons are in flight
   *  until `finish`. */
  batch(now) {
    const q = this._q;
    if (this._flight || !q.length || (this._fails && now < this._at)) return null;
    const n = Math.min(q.length, this._c.maxBatch), body = this._body(q.slice(0, n));
    this._flight = n;
    return body;
  }

  /** Every queued beacon in one body, for `navigator.sendBeacon`. Nothing is
   *  removed (the next page sends the saved queue again, which the collector's
   *  per-view seq makes harmless); the views go whole next time, since no
   *  answer comes back. */
  all() {
    if (!this._q.length) return null;
    const body = this._body(this._q);
    this._forget(this._q.length);
    return body;
  }

  /** The answer to the batch in flight: an HTTP status, 0 for a network error;
   *  `jitter` a random number in [0, 1). */
  finish(status, now, jitter) {
    const c = this._c;
    if (status === 409) {
      // A delta's base is not what the collector holds: send those views whole.
      this._forget(this._flight);
      this._fails = 0;
    } else if ((status >= 200 && status < 300)
      || (status >= 400 && status < 500 && status !== 408 && status !== 429)) {
      // Stored, or refused for good (a 4xx other than 408/429): drop them. A
      // batch may hold two beacons of a view (a newer one merged into the first
      // idle entry while an older one waited); the newest is the base.
      for (const b of this._q.splice(0, this._flight)) {
        if (status >= 300 || this._acked.some((a) => a.view_id === b.view_id && a.seq > b.seq)) continue;
        const acked = this._acked.filter((a) => a.view_id !== b.view_id);
        this._acked = [...acked.slice(Math.max(0, acked.length + 1 - ACKED_VIEWS)), { ...b, events: undefined }];
      }
      this._fails = 0;
    } else {
      this._fails++;
      const exp = c.backoffBaseMs * 2 ** (Math.min(this._fails, 30) - 1);
      this._at = now + Math.min(exp, c.backoffMaxMs) * (0.5 + 0.5 * Math.min(Math.max(jitter, 0), 1));
    }
    this._flight = 0;
  }

  /** Forgets the acknowledged beacons of the views of the first `n` entries. */
  _forget(n) {
    const sent = this._q.slice(0, n).map((b) => b.view_id);
    this._acked = this._acked.filter((a) => !sent.includes(a.view_id));
  }

  /** The `wire::Batch` envelope around `beacons`: deltas for acknowledged
   *  views; a body of deltas only has the short names and no viewer (the
   *  collector keeps each view's). */
  _body(beacons) {
    const whole = [], d = [];
    for (const b of beacons) {
      const a = this._acked.find((a) => a.view_id === b.view_id), x = a && delta(a, b);
      x ? d.push(x) : whole.push(b);
    }
    const u = this._u;
    return JSON.stringify(whole.length || !d.length
      ? { v: WIRE_VERSION, property: this._p, viewer_id: u, cookieless: u ? undefined : true,
        beacons: whole, d: d.length ? d : undefined }
      : { v: WIRE_VERSION, p: this._p, d });
  }
}
