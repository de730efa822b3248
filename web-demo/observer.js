/**
 * Independent playback observer: ground truth for the end-to-end tests.
 *
 * Why it exists: the plugin's numbers must be checked against something other than
 * the plugin itself. This file is deliberately written without looking at the plugin's
 * code: it watches the same <video> element with its own listeners, its own
 * requestVideoFrameCallback loop and a 100 ms poll, all timed with performance.now(),
 * and applies the metric definitions of the README ("Metrics as implemented") in plain
 * JS. The tests read `window.vidpulseObserver.summary()` (the current view) or
 * `.views()` (every view with play intent, oldest first) and compare.
 *
 * Rules used here (simple on purpose, so they are easy to trust):
 *  - a view starts at the first `play` for a source; a new source (`emptied`, or a
 *    `loadstart` with another currentSrc) or a `play` after `ended` starts the next one.
 *  - firstFrameAt: the first frame callback (or, without rVFC, `timeupdate`) after play
 *    intent while the element is not paused and the playhead moved past where it was
 *    at play intent (or a frame callback fired while playing). startupMs is null (and
 *    startupInvalid true) when a pause or a seek came between play intent and then.
 *  - a stall starts at `waiting` (or `stalled` with readyState < HAVE_FUTURE_DATA, or
 *    after 1 s of a playhead that should move but does not, backdated to its last
 *    move) after the first frame, when not paused, not seeking, not ended, rate > 0.
 *    It ends when the playhead has advanced past its position at the stall start
 *    (backdated by the media time advanced, never before the stall start), or at a
 *    pause, a seek, `ended`, an error or the end of the view. Stalls < 250 ms are
 *    ignored.
 *  - a seek runs from `seeking` to the moment the playhead leaves the position it was
 *    seeked to (backdated the same way), or to `seeked` when paused. A `seeking` that
 *    starts less than 2 s after the previous seek ended reopens that seek (one seek,
 *    spanning both). The rewind that a play() after `ended` makes is not a seek.
 *  - pauseCount: `pause` events during a view, except the one that comes with `ended`.
 *    watchMs: play intent to the view's end (or now), stopping at `ended`, minus the
 *    time between each pause and the next `play`.
 *  - playedMs: the sum of forward currentTime steps (divided by playbackRate), with
 *    steps across a seek or larger than 2 s of media time ignored.
 */

const EVENTS = [
  'loadstart', 'loadedmetadata', 'loadeddata', 'canplay', 'canplaythrough', 'play', 'playing',
  'pause', 'waiting', 'stalled', 'seeking', 'seeked', 'ended', 'error', 'emptied', 'abort',
  'ratechange', 'timeupdate', 'suspend',
];
const MAX_EVENTS = 5000;
const WATCHDOG_MS = 1000;
const MIN_STALL_MS = 250;
const SEEK_MERGE_MS = 2000;

function freshState(src) {
  return {
    src,
    playIntentAt: null,
    playIntentCurrentTime: null,
    firstFrameAt: null,
    startupInvalid: false,
    stalls: [],
    seeks: [],
    seekedCurrentTime: null,
    pauseCount: 0,
    pausedMs: 0,
    pausedSince: null,
    playedMs: 0,
    lastCurrentTime: null,
    lastAdvanceAt: null,
    ended: false,
    endedAt: null,
    closedAt: null,
    error: null,
  };
}

/** Attaches an observer to `video` and returns its public object. */
export function observe(video) {
  const events = [];
  const previous = [];
  let st = freshState(video.currentSrc || video.src || '');

  const now = () => performance.now();
  const rate = () => (video.playbackRate > 0 ? video.playbackRate : 1);
  const openStall = () => {
    const last = st.stalls[st.stalls.length - 1];
    return last && last.end === null ? last : null;
  };
  const openSeek = () => {
    const last = st.seeks[st.seeks.length - 1];
    return last && last.end === null ? last : null;
  };

  function startStall(t, how) {
    if (st.firstFrameAt === null || openStall() || openSeek()) return;
    if (video.paused || video.seeking || video.ended || !(video.playbackRate > 0)) return;
    st.stalls.push({ start: t, end: null, how, startCurrentTime: video.currentTime });
  }

  function endStall(t) {
    const s = openStall();
    if (s) s.end = Math.max(t, s.start);
  }

  function endSeek(t) {
    const s = openSeek();
    if (s) s.end = Math.max(t, s.partStart);
  }

  /** Ends the current view at `t` and starts a fresh one for `src`. */
  function nextView(t, src) {
    endStall(t);
    endSeek(t);
    if (st.pausedSince !== null) {
      st.pausedMs += t - st.pausedSince;
      st.pausedSince = null;
    }
    st.closedAt = t;
    previous.push(st);
    st = freshState(src);
  }

  // One sample of the playhead; `frame` is true when it comes from a presented frame.
  function sample(t, frame) {
    const ct = video.currentTime;
    if (st.playIntentAt !== null && st.firstFrameAt === null && !video.paused) {
      const moved = st.playIntentCurrentTime !== null && ct > st.playIntentCurrentTime;
      if (frame || moved) st.firstFrameAt = t;
    }
    if (st.lastCurrentTime !== null && !video.seeking) {
      const step = ct - st.lastCurrentTime;
      if (step > 0 && step <= 2) {
        st.playedMs += (step * 1000) / rate();
      }
    }
    if (st.lastCurrentTime === null || ct !== st.lastCurrentTime) st.lastAdvanceAt = t;
    st.lastCurrentTime = video.seeking ? null : ct;
    const stall = openStall();
    if (stall && ct > stall.startCurrentTime) {
      endStall(t - ((ct - stall.startCurrentTime) * 1000) / rate());
      stall.endCurrentTime = ct;
    }
    const seek = openSeek();
    if (
      seek && st.seekedCurrentTime !== null && !video.seeking && !video.paused &&
      ct > st.seekedCurrentTime
    ) {
      endSeek(t - ((ct - st.seekedCurrentTime) * 1000) / rate());
      seek.to = st.seekedCurrentTime;
    }
  }

  function onEvent(ev) {
    const t = now();
    if (events.length < MAX_EVENTS) {
      events.push({
        type: ev.type,
        t,
        currentTime: video.currentTime,
        readyState: video.readyState,
        paused: video.paused,
      });
    }
    if (ev.type === 'play' || ev.type === 'pause' || ev.type === 'playing' || ev.type === 'seeked') {
      // The playhead is not expected to have moved while paused or seeking: restart the
      // watchdog's clock so a resume is not mistaken for a stall.
      st.lastAdvanceAt = t;
    }
    switch (ev.type) {
      case 'emptied':
        // The load algorithm restarted (a new src): what follows is a new view. It is
        // queued before the `play` of a play() called right after setting src, while
        // `loadstart` comes after that `play`.
        nextView(t, '');
        break;
      case 'loadstart': {
        const src = video.currentSrc || video.src || '';
        if (st.src === '') {
          st.src = src;
        } else if (src !== st.src) {
          nextView(t, src);
        }
        break;
      }
      case 'play':
        if (st.ended) nextView(t, st.src); // replay after the end: the next view
        if (st.playIntentAt === null) {
          st.playIntentAt = t;
          st.playIntentCurrentTime = video.currentTime;
        }
        if (st.pausedSince !== null) {
          st.pausedMs += t - st.pausedSince;
          st.pausedSince = null;
        }
        break;
      case 'pause':
        if (st.playIntentAt !== null && !video.ended && !st.ended) {
          st.pauseCount += 1;
          st.pausedSince = t;
          if (st.firstFrameAt === null) st.startupInvalid = true;
        }
        endStall(t);
        if (!video.seeking) endSeek(t);
        break;
      case 'waiting':
        startStall(t, 'waiting');
        break;
      case 'stalled':
        // `stalled` is only a network hint; it counts when the playhead cannot move.
        if (video.readyState < 3) startStall(t, 'stalled');
        break;
      case 'seeking': {
        st.lastCurrentTime = null;
        st.seekedCurrentTime = null;
        endStall(t); // waiting from now on is seek latency
        // The rewind of a play() after `ended` belongs to the replay (the next view),
        // not to the view that ended: it is not a seek.
        if (st.playIntentAt === null || st.ended) break;
        if (st.firstFrameAt === null) st.startupInvalid = true;
        const open = openSeek();
        const last = st.seeks[st.seeks.length - 1];
        if (open) {
          open.parts += 1;
          open.partStart = t;
        } else if (last && t - last.end < SEEK_MERGE_MS) {
          last.end = null;
          last.parts += 1;
          last.partStart = t;
        } else {
          st.seeks.push({ start: t, partStart: t, end: null, parts: 1, from: video.currentTime });
        }
        break;
      }
      case 'seeked':
        st.seekedCurrentTime = video.currentTime;
        if (video.paused) endSeek(t);
        break;
      case 'ended':
        st.ended = true;
        if (st.endedAt === null) st.endedAt = t;
        endStall(t);
        endSeek(t);
        break;
      case 'error': {
        const e = video.error;
        st.error = e ? { code: e.code, message: e.message || '' } : { code: 0, message: '' };
        endStall(t);
        endSeek(t);
        break;
      }
      default:
        break;
    }
    if (ev.type === 'timeupdate' || ev.type === 'playing' || ev.type === 'seeked') {
      sample(t, false);
    }
  }

  for (const type of EVENTS) video.addEventListener(type, onEvent);

  const hasRvfc = typeof video.requestVideoFrameCallback === 'function';
  if (hasRvfc) {
    const onFrame = () => {
      sample(now(), true);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  // Watchdog: the playhead should move but has not for WATCHDOG_MS (waiting is unreliable).
  setInterval(() => {
    const t = now();
    sample(t, false);
    if (
      st.firstFrameAt !== null && !openStall() && st.lastAdvanceAt !== null &&
      t - st.lastAdvanceAt >= WATCHDOG_MS && !video.paused && !video.seeking && !video.ended &&
      !video.error
    ) {
      startStall(st.lastAdvanceAt, 'watchdog');
    }
  }, 100);

  /** A plain summary of view state `s` at time `t`. */
  function summarize(s, t) {
    const endT = s.closedAt !== null ? s.closedAt : t;
    const stalls = s.stalls
      .map((x) => ({
        start: x.start,
        end: x.end,
        how: x.how,
        ms: (x.end === null ? endT : x.end) - x.start,
        open: x.end === null,
      }))
      .filter((x) => x.ms >= MIN_STALL_MS);
    const seeks = s.seeks.map((x) => ({
      start: x.start,
      end: x.end,
      ms: (x.end === null ? endT : x.end) - x.start,
      open: x.end === null,
      parts: x.parts,
      from: x.from,
      to: x.to === undefined ? null : x.to,
    }));
    let watchMs = null;
    if (s.playIntentAt !== null) {
      const watchEnd = s.endedAt !== null ? Math.min(s.endedAt, endT) : endT;
      const openPause = s.pausedSince !== null ? Math.max(0, watchEnd - s.pausedSince) : 0;
      watchMs = watchEnd - s.playIntentAt - s.pausedMs - openPause;
    }
    return {
      src: s.src,
      now: t,
      hasRvfc,
      playIntentAt: s.playIntentAt,
      firstFrameAt: s.firstFrameAt,
      startupInvalid: s.startupInvalid,
      startupMs:
        s.playIntentAt !== null && s.firstFrameAt !== null && !s.startupInvalid
          ? s.firstFrameAt - s.playIntentAt
          : null,
      stalls,
      stallCount: stalls.length,
      stallMs: stalls.reduce((a, x) => a + x.ms, 0),
      stallMaxMs: stalls.reduce((a, x) => Math.max(a, x.ms), 0),
      seeks,
      seekCount: seeks.length,
      seekMs: seeks.reduce((a, x) => a + x.ms, 0),
      seekMaxMs: seeks.reduce((a, x) => Math.max(a, x.ms), 0),
      pauseCount: s.pauseCount,
      pausedMs: s.pausedMs + (s.pausedSince !== null ? endT - s.pausedSince : 0),
      watchMs,
      playedMs: s.playedMs,
      currentTime: video.currentTime,
      readyState: video.readyState,
      paused: video.paused,
      ended: s.ended,
      closed: s.closedAt !== null,
      error: s.error,
    };
  }

  function summary() {
    const t = now();
    return { ...summarize(st, t), eventCount: events.length, previousViews: previous.length };
  }

  /** Every view with play intent, oldest first (the current one last, if it has any). */
  function views() {
    const t = now();
    return [...previous, st].filter((s) => s.playIntentAt !== null).map((s) => summarize(s, t));
  }

  return {
    get playIntentAt() { return st.playIntentAt; },
    get firstFrameAt() { return st.firstFrameAt; },
    get stalls() { return st.stalls; },
    get playedMs() { return st.playedMs; },
    get error() { return st.error; },
    events,
    previous,
    summary,
    views,
  };
}
