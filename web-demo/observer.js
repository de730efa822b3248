/**
 * Independent playback observer: ground truth for the end-to-end tests.
 *
 * Why it exists: the plugin's numbers must be checked against something other than
 * the plugin itself. This file is deliberately written without looking at the plugin's
 * code: it watches the same <video> element with its own listeners, its own
 * requestVideoFrameCallback loop and a 100 ms poll, all timed with performance.now(),
 * and derives play intent, first frame, stalls after the first frame and the media
 * time actually played. The tests read `window.vidpulseObserver.summary()` and compare.
 *
 * Rules used here (simple on purpose, so they are easy to trust):
 *  - playIntentAt: the first `play` event for the current source.
 *  - firstFrameAt: the first frame callback (or, without rVFC, `timeupdate`) after play
 *    intent while the element is not paused and the playhead moved past where it was
 *    at play intent (or a frame callback fired while playing).
 *  - a stall starts at `waiting` (or after 1 s of a playhead that should move but does
 *    not) after the first frame, when not paused, not seeking, not ended; it ends at the
 *    first sample where currentTime has advanced past its value at the stall start.
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

function freshState(src) {
  return {
    src,
    playIntentAt: null,
    playIntentCurrentTime: null,
    firstFrameAt: null,
    stalls: [],
    playedMs: 0,
    lastCurrentTime: null,
    lastAdvanceAt: null,
    ended: false,
    error: null,
  };
}

/** Attaches an observer to `video` and returns its public object. */
export function observe(video) {
  const events = [];
  const previous = [];
  let st = freshState(video.currentSrc || video.src || '');

  const now = () => performance.now();
  const openStall = () => {
    const last = st.stalls[st.stalls.length - 1];
    return last && last.end === null ? last : null;
  };

  function startStall(t, how) {
    if (st.firstFrameAt === null || openStall()) return;
    if (video.paused || video.seeking || video.ended) return;
    st.stalls.push({ start: t, end: null, how, startCurrentTime: video.currentTime });
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
        st.playedMs += (step * 1000) / (video.playbackRate || 1);
      }
    }
    if (st.lastCurrentTime === null || ct !== st.lastCurrentTime) st.lastAdvanceAt = t;
    st.lastCurrentTime = video.seeking ? null : ct;
    const stall = openStall();
    if (stall && ct > stall.startCurrentTime) {
      stall.end = t;
      stall.endCurrentTime = ct;
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
        previous.push(st);
        st = freshState('');
        break;
      case 'loadstart': {
        const src = video.currentSrc || video.src || '';
        if (st.src === '') {
          st.src = src;
        } else if (src !== st.src) {
          previous.push(st);
          st = freshState(src);
        }
        break;
      }
      case 'play':
        if (st.playIntentAt === null) {
          st.playIntentAt = t;
          st.playIntentCurrentTime = video.currentTime;
        }
        break;
      case 'waiting':
      case 'stalled':
        // `stalled` is only a network hint; it counts when the playhead really stops.
        if (ev.type === 'waiting') startStall(t, 'waiting');
        break;
      case 'seeking':
        st.lastCurrentTime = null;
        break;
      case 'ended':
        st.ended = true;
        break;
      case 'error': {
        const e = video.error;
        st.error = e ? { code: e.code, message: e.message || '' } : { code: 0, message: '' };
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

  function summary() {
    const t = now();
    const stalls = st.stalls.map((s) => ({
      start: s.start,
      end: s.end,
      how: s.how,
      ms: (s.end === null ? t : s.end) - s.start,
      open: s.end === null,
    }));
    return {
      src: st.src,
      now: t,
      hasRvfc,
      playIntentAt: st.playIntentAt,
      firstFrameAt: st.firstFrameAt,
      startupMs:
        st.playIntentAt !== null && st.firstFrameAt !== null ? st.firstFrameAt - st.playIntentAt : null,
      stalls,
      stallCount: stalls.length,
      stallMs: stalls.reduce((a, s) => a + s.ms, 0),
      playedMs: st.playedMs,
      currentTime: video.currentTime,
      readyState: video.readyState,
      paused: video.paused,
      ended: st.ended,
      error: st.error,
      eventCount: events.length,
      previousViews: previous.length,
    };
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
  };
}
