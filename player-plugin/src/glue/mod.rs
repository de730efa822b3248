//! The browser binding: `monitor(video, options)` and its handle.
//!
//! This is the only code that touches the DOM. [`driver`] turns DOM callbacks into
//! engine inputs, [`element`] reads the element, [`options`] reads the options,
//! [`transport`] sends batches. Listeners are RAII ([`listener::EventListener`]):
//! dropping them is `destroy()`, so no listener survives it.

mod driver;
mod element;
mod listener;
mod options;
mod transport;

use alloc::rc::{Rc, Weak};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlMediaElement;

use crate::engine::trace::{self, Trace, TraceHeader, TraceInput};
use crate::engine::{Engine, MediaEvent, HAVE_FUTURE_DATA};
use driver::{deliver, listen, on_frame, on_timer, Inner};
pub use element::MEDIA_EVENTS;
use options::Options;
use transport::Via;

/// Live monitors by element: `monitor()` on a monitored element returns the same
/// monitor, and a monitor lives until `destroy()` even if the page drops the handle.
static MONITORS: Global<RefCell<Vec<Monitored>>> = Global(RefCell::new(Vec::new()));

/// A monitored element and its monitor.
type Monitored = (HtmlMediaElement, Rc<RefCell<Inner>>);
/// Page load time goes to the first player on the page only.
static PAGE_LOAD_TAKEN: Global<Cell<bool>> = Global(Cell::new(false));

/// A global of the page's one thread: what `thread_local!` gives, without std
/// (the shipped build is `no_std`). The plugin is built without wasm threads, so
/// nothing else can reach it.
pub(crate) struct Global<T>(pub T);

// SAFETY: wasm32 without the `atomics` feature has exactly one thread.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0)
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Content metadata. */
export interface VideoInfo {
  /** Your id for the content. */ id?: string;
  /** Title. */ title?: string;
  /** Series or show. */ series?: string;
  /** Duration in ms (else read from the element). */ duration?: number;
  /** CDN name (else the collector uses the host of the source URL). */ cdn?: string;
}

/** Options of `monitor()`. */
export interface MonitorOptions {
  /** Base URL of the collector, e.g. `https://stats.example.com` (required). */
  collector: string;
  /** Property key (required). */
  property: string;
  video?: VideoInfo;
  /** Heartbeat period while a view changes, ms, at least 1000 (default 10000). */
  beaconIntervalMs?: number;
  /** Your own anonymous viewer id (default: random, kept in localStorage). */
  viewerId?: string;
  player?: { name?: string; version?: string };
  /** When the player was created, Unix epoch ms (default: when monitor() ran). */
  playerInitTime?: number;
  /** The first view is autoplay-initiated (default: the element's autoplay). */
  autoplay?: boolean;
  /** A/B experiment name. */
  experiment?: string;
  /** Share of viewers measured, in (0, 1], stable per viewer (default 1). */
  sampleRate?: number;
  /** Measure nothing when the browser sends Do Not Track. */
  respectDoNotTrack?: boolean;
  /** false: nothing is stored or sent until setConsent(true) (default true). */
  consent?: boolean;
  /** Record every engine input for trace(). */
  debug?: boolean;
  /** Called with each batch sent (debugging). */
  onBeacon?: (batch: object) => void;
}

/** A fatal playback error. */
export interface PlaybackError { code: number; message: string; before_first_frame: boolean }

/** The current (or last) view's metrics; see the README for definitions. */
export interface Snapshot {
  view_id: string | null; seq: number;
  startup_ms: number | null; startup_invalid: boolean; first_frame: boolean;
  rebuffer_count: number; rebuffer_ms: number; rebuffer_max_ms: number;
  watch_ms: number; playing_ms: number;
  seek_count: number; seek_ms: number; seek_max_ms: number;
  pause_count: number; rate_changes: number; volume_changes: number; fullscreen_ms: number;
  player_startup_ms?: number; page_load_ms?: number; aggregate_startup_ms?: number;
  max_position_ms: number; coverage?: string; coverage_buckets: number; completed: boolean;
  mean_height?: number; rendition_changes: number;
  upscale_permille: number; downscale_permille: number; max_upscale_permille: number;
  dropped_frames: number; total_frames: number; throughput_bps?: number;
  error: PlaybackError | null; ended: boolean; view_ended: boolean;
}
"#;

/// The handle `monitor()` returns.
#[wasm_bindgen]
pub struct Monitor {
    inner: Rc<RefCell<Inner>>,
}

/// Starts measuring `video` (any `HTMLMediaElement`). See the README for options.
#[wasm_bindgen]
pub fn monitor(
    #[wasm_bindgen(unchecked_param_type = "HTMLMediaElement")] video: JsValue,
    #[wasm_bindgen(unchecked_param_type = "MonitorOptions")] options: JsValue,
) -> Result<Monitor, JsError> {
    let video: HtmlMediaElement = video
        .dyn_into()
        .map_err(|_| JsError::new("monitor(video, …): video must be an HTMLMediaElement"))?;
    if let Some(inner) = find(&video) {
        return Ok(Monitor { inner });
    }
    let opts = Options::from_js(&options).map_err(|e| JsError::new(&e))?;
    let window = web_sys::window().ok_or_else(|| JsError::new("no window"))?;
    let perf = window
        .performance()
        .ok_or_else(|| JsError::new("no performance clock"))?;
    // Cookieless: an empty id asks the collector for a daily one; nothing stored.
    let viewer = match (&opts.viewer_id, opts.cookieless) {
        (Some(id), _) => id.clone(),
        (None, true) => String::new(),
        (None, false) => transport::viewer_id(opts.consent),
    };
    // Sampling is decided per viewer, so a viewer is in or out on every page.
    let dnt = opts.respect_dnt && window.navigator().do_not_track() == "1";
    let watched = !dnt && sampled(&viewer, opts.sample_rate);
    let (origin_us, _) = trace::quantize_ms(perf.time_origin());
    // Player startup is measurable only if the element was not ready before init.
    let player_init = match opts.player_init_time {
        Some(epoch_ms) => Some(epoch_ms - perf.time_origin()),
        None => (video.ready_state() < u16::from(HAVE_FUTURE_DATA)).then(|| perf.now()),
    };
    let page_load = player_init.filter(|_| !PAGE_LOAD_TAKEN.with(|t| t.replace(true)));
    let header = TraceHeader {
        seed: crate::json::hex16(transport::random_u64() >> 12),
        time_origin_us: origin_us,
        beacon_interval_ms: opts.beacon_interval_ms.unwrap_or(10_000.0) as u64,
        player_init_us: player_init.map(|t| trace::quantize_ms(t).0),
        page_load_us: page_load.map(|t| trace::quantize_ms(t).0),
        autoplay: opts.autoplay.unwrap_or_else(|| video.autoplay()),
        video: opts.video.clone(),
        context: opts.context(&window),
        src: Some(video.current_src()),
    };
    // The live engine is built from the header, exactly as a replay builds it.
    let engine: Engine = header.engine();
    let trace = opts.debug.then(|| Trace {
        header,
        records: Vec::new(),
    });
    let sender = transport::sender(
        opts.beacons_url(),
        opts.property.clone(),
        viewer,
        perf.clone(),
        !opts.cookieless,
    );
    {
        let mut s = sender.borrow_mut();
        s.add_hook(opts.on_beacon.clone());
        if !opts.consent {
            s.set_enabled(false);
        }
    }
    let inner = Rc::new_cyclic(|weak: &Weak<RefCell<Inner>>| {
        let (w1, w2) = (weak.clone(), weak.clone());
        RefCell::new(Inner {
            engine,
            video: video.clone(),
            perf,
            last_now: 0.0,
            sender: sender.clone(),
            listeners: Vec::new(),
            timer: None,
            on_timer: Closure::new(move |_: JsValue| on_timer(&w1)),
            frame_request: None,
            on_frame: Closure::new(move |now: f64, meta: JsValue| on_frame(&w2, now, meta)),
            display: (0, 0),
            trace,
        })
    });
    MONITORS.with(|m| m.borrow_mut().push((video.clone(), inner.clone())));
    if !watched {
        // Sampled out or Do Not Track: a handle that measures nothing.
        return Ok(Monitor { inner });
    }
    let listeners = listen(&inner, &video, &window);
    inner.borrow_mut().listeners = listeners;
    deliver(&inner, Via::Fetch, |i, now, el| {
        i.measure(now, el);
        // Monitoring may start on an element that is already playing.
        if !el.paused {
            i.event(now, el, MediaEvent::Play);
        }
    });
    Ok(Monitor { inner })
}

#[wasm_bindgen]
impl Monitor {
    /// The current (or last) view's metrics as a plain object.
    #[wasm_bindgen(unchecked_return_type = "Snapshot")]
    pub fn snapshot(&self) -> JsValue {
        let json = {
            let Ok(i) = self.inner.try_borrow() else {
                return JsValue::NULL;
            };
            let now = i.perf.now().max(i.last_now);
            let el = element::read_state(&i.video);
            let s = i.engine.snapshot(now, &el);
            crate::json::snapshot(s.view_id.as_deref(), s.seq, &s.metrics)
        };
        js_sys::JSON::parse(&json).unwrap_or(JsValue::NULL)
    }

    /// Sends the current state now.
    pub fn flush(&self) {
        deliver(&self.inner, Via::Fetch, |i, now, el| {
            i.measure(now, el);
            i.feed(now, el, TraceInput::Flush);
        });
    }

    /// Ends the view, sends its final beacon and removes every listener and timer.
    pub fn destroy(&self) {
        deliver(&self.inner, Via::Fetch, |i, now, el| {
            i.measure(now, el);
            i.feed(now, el, TraceInput::EndView);
        });
        let Ok(mut i) = self.inner.try_borrow_mut() else {
            return;
        };
        i.detach();
        let video = i.video.clone();
        drop(i);
        MONITORS.with(|m| {
            m.borrow_mut()
                .retain(|(el, _)| !js_sys::Object::is(el, &video))
        });
    }

    /// New content in this player (single-page apps): ends the current view; the
    /// next starts at once if the element is playing. `video`: `{ id, title,
    /// series, duration, cdn }`.
    #[wasm_bindgen(js_name = setVideo)]
    pub fn set_video(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VideoInfo")] video: JsValue,
    ) -> Result<(), JsError> {
        let video = options::video_meta(&video, "video").map_err(|e| JsError::new(&e))?;
        self.feed_event(MediaEvent::VideoChange { video });
        Ok(())
    }

    /// A rendition the player switched to: `{ width, height, bitrate }` (bit/s).
    #[wasm_bindgen(js_name = reportRendition)]
    pub fn report_rendition(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "{ width?: number; height?: number; bitrate?: number }"
        )]
        r: JsValue,
    ) -> Result<(), JsError> {
        let n = |k: &str| options::number(&r, k, &["rendition.", k].concat());
        let (w, h, b) = (n("width"), n("height"), n("bitrate"));
        let (w, h, b) = (w.map_err(js)?, h.map_err(js)?, b.map_err(js)?);
        self.feed_event(MediaEvent::Rendition {
            width: w.unwrap_or(0.0) as u32,
            height: h.unwrap_or(0.0) as u32,
            bitrate: b.map(|b| b as u64),
        });
        Ok(())
    }

    /// An error the player knows of: `{ code, message, fatal }` (`fatal` defaults
    /// to true).
    #[wasm_bindgen(js_name = reportError)]
    pub fn report_error(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "{ code?: number; message?: string; fatal?: boolean }"
        )]
        e: JsValue,
    ) -> Result<(), JsError> {
        let code = options::number(&e, "code", "error.code").map_err(js)?;
        let message = options::string(&e, "message", "error.message").map_err(js)?;
        let fatal = !matches!(options::get(&e, "fatal").as_bool(), Some(false));
        self.feed_event(MediaEvent::ReportedError {
            code: code.unwrap_or(0.0).min(f64::from(u16::MAX)) as u16,
            message: message.unwrap_or_default(),
            fatal,
        });
        Ok(())
    }

    /// Consent at run time: `false` stops storing and sending and forgets what is
    /// queued and the stored viewer id; `true` resumes.
    #[wasm_bindgen(js_name = setConsent)]
    pub fn set_consent(&self, on: bool) {
        if let Ok(i) = self.inner.try_borrow() {
            if let Ok(mut s) = i.sender.try_borrow_mut() {
                s.set_enabled(on);
            }
        }
        if !on {
            transport::forget_viewer();
        }
    }

    fn feed_event(&self, ev: MediaEvent) {
        if self
            .inner
            .try_borrow()
            .is_ok_and(|i| i.listeners.is_empty())
        {
            return; // destroyed, or not sampled
        }
        deliver(&self.inner, Via::Fetch, |i, now, el| i.event(now, el, ev));
    }

    /// The recorded engine inputs as JSON (with the `debug` option), else `null`.
    /// `cargo xtask replay FILE` replays them natively.
    pub fn trace(&self) -> Option<String> {
        let i = self.inner.try_borrow().ok()?;
        Some(crate::json::trace(i.trace.as_ref()?))
    }
}

fn js(e: String) -> JsError {
    JsError::new(&e)
}

/// Whether this viewer is in the sample: a stable hash of the id against the rate.
fn sampled(viewer: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if viewer.is_empty() {
        // Cookieless: no stable id on the page; decide per page.
        return js_sys::Math::random() < rate;
    }
    // FNV-1a, 64 bits.
    let h = viewer.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    ((h >> 11) as f64 / (1u64 << 53) as f64) < rate
}

fn find(video: &HtmlMediaElement) -> Option<Rc<RefCell<Inner>>> {
    MONITORS.with(|m| {
        m.borrow()
            .iter()
            .find(|(el, _)| js_sys::Object::is(el, video))
            .map(|(_, inner)| inner.clone())
    })
}
