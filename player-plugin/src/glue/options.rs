//! The options object `monitor(video, options)` takes, read once at start.
//!
//! Read field by field with `Reflect` rather than through a JSON deserializer: the
//! plugin only ever *writes* JSON, and leaving the parser (and its float parsing)
//! out keeps kilobytes off every viewer's download.

use alloc::string::String;

use wasm_bindgen::{JsCast, JsValue};

use crate::wire::{VideoMeta, ViewContext};

/// `monitor()` options as the page gives them (camelCase in JS).
#[derive(Debug, Default)]
pub struct Options {
    /// Base URL of the collector, e.g. `https://stats.example.com`.
    pub collector: String,
    /// Property key.
    pub property: String,
    /// Content metadata (`video: { id, title }`).
    pub video: VideoMeta,
    /// Heartbeat period in ms (`beaconIntervalMs`, default 10 000).
    pub beacon_interval_ms: Option<f64>,
    /// A viewer id chosen by the page instead of the stored random one (`viewerId`).
    pub viewer_id: Option<String>,
    /// Debug hook called with each batch sent (`onBeacon`).
    pub on_beacon: Option<js_sys::Function>,
    /// When the player was created, Unix epoch ms (`playerInitTime`), if before
    /// `monitor()`.
    pub player_init_time: Option<f64>,
    /// Whether the first view is autoplay-initiated (`autoplay`; default: the
    /// element's `autoplay` attribute).
    pub autoplay: Option<bool>,
    /// `player: { name, version }`.
    pub player_name: Option<String>,
    /// Player version.
    pub player_version: Option<String>,
    /// `experiment`: A/B test name.
    pub experiment: Option<String>,
    /// `debug`: record the engine's inputs for `trace()`.
    pub debug: bool,
    /// `sampleRate` in (0, 1]: the share of viewers monitored, decided per viewer.
    pub sample_rate: f64,
    /// `respectDoNotTrack`: monitor nothing when the browser sends Do Not Track.
    pub respect_dnt: bool,
    /// `consent` (default true): with `false`, nothing is stored or sent until
    /// `setConsent(true)`.
    pub consent: bool,
    /// `cookieless`: store nothing in the browser; the collector derives a daily
    /// viewer id.
    pub cookieless: bool,
}

/// Smallest heartbeat period accepted, so a typo cannot flood the collector.
pub const MIN_BEACON_INTERVAL_MS: f64 = 1000.0;
/// Longest string option kept (ids, titles, keys); the error message says 1024.
pub const MAX_OPTION_LEN: usize = 1024;

pub fn get(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A string option: absent is `None`; present but not a string is an error.
pub fn string(obj: &JsValue, key: &str, path: &str) -> Result<Option<String>, String> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_string() {
        Some(s) if s.len() <= MAX_OPTION_LEN => Ok(Some(s)),
        Some(_) => Err([path, ": longer than 1024 characters"].concat()),
        None => Err([path, ": expected a string"].concat()),
    }
}

/// Content metadata `{ id, title, series, duration, cdn }` (absent: empty).
pub fn video_meta(obj: &JsValue, path: &str) -> Result<VideoMeta, String> {
    let mut v = VideoMeta::default();
    if !obj.is_object() {
        return Ok(v);
    }
    // Field by field into one value, so an error drops one struct (less code
    // than a struct literal whose every `?` drops a different set of strings).
    let key = |k: &str| [path, ".", k].concat();
    v.id = string(obj, "id", &key("id"))?;
    v.title = string(obj, "title", &key("title"))?;
    v.series = string(obj, "series", &key("series"))?;
    v.duration_ms = number(obj, "duration", &key("duration"))?.map(|d| d as u64);
    v.cdn = string(obj, "cdn", &key("cdn"))?;
    Ok(v)
}

/// A non-negative number option: absent is `None`.
pub fn number(obj: &JsValue, key: &str, path: &str) -> Result<Option<f64>, String> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
        _ => Err([path, ": expected a non-negative number"].concat()),
    }
}

impl Options {
    /// Reads and checks the options object; the error names the field.
    pub fn from_js(value: &JsValue) -> Result<Options, String> {
        if !value.is_object() {
            return Err("options: expected an object".into());
        }
        let collector = string(value, "collector", "options.collector")?
            .filter(|s| !s.is_empty())
            .ok_or("options.collector: required (the collector's base URL)")?;
        let property = string(value, "property", "options.property")?
            .filter(|s| !s.is_empty())
            .ok_or("options.property: required (the property key)")?;
        // Field by field into one value (see `video_meta`).
        let mut o = Options {
            collector,
            property,
            ..Options::default()
        };
        o.video = video_meta(&get(value, "video"), "options.video")?;
        o.sample_rate = number(value, "sampleRate", "options.sampleRate")?.unwrap_or(1.0);
        if !(o.sample_rate > 0.0 && o.sample_rate <= 1.0) {
            return Err("options.sampleRate: a number in (0, 1]".into());
        }
        let interval = get(value, "beaconIntervalMs");
        if !interval.is_undefined() {
            match interval.as_f64() {
                Some(ms) if ms >= MIN_BEACON_INTERVAL_MS => o.beacon_interval_ms = Some(ms),
                _ => return Err("options.beaconIntervalMs: a number of at least 1000".into()),
            }
        }
        o.player_init_time = number(value, "playerInitTime", "options.playerInitTime")?;
        let autoplay = get(value, "autoplay");
        if !autoplay.is_undefined() {
            o.autoplay = Some(autoplay.is_truthy());
        }
        let player = get(value, "player");
        o.player_name = string(&player, "name", "options.player.name")?;
        o.player_version = string(&player, "version", "options.player.version")?;
        o.experiment = string(value, "experiment", "options.experiment")?;
        o.debug = get(value, "debug").is_truthy();
        o.respect_dnt = get(value, "respectDoNotTrack").is_truthy();
        o.consent = !matches!(get(value, "consent").as_bool(), Some(false));
        o.cookieless = get(value, "cookieless").is_truthy();
        o.viewer_id = string(value, "viewerId", "options.viewerId")?;
        o.on_beacon = get(value, "onBeacon").dyn_into::<js_sys::Function>().ok();
        Ok(o)
    }

    /// The page and player context for this monitor's views.
    pub fn context(&self, window: &web_sys::Window) -> ViewContext {
        let loc = window.location();
        ViewContext {
            page_host: loc.host().ok(),
            page_path: loc.pathname().ok(),
            player_name: Some(self.player_name.clone().unwrap_or_else(|| "html5".into())),
            player_version: self.player_version.clone(),
            autoplay: false,
            experiment: self.experiment.clone(),
        }
    }

    /// `POST` endpoint for beacons.
    pub fn beacons_url(&self) -> String {
        [self.collector.trim_end_matches('/'), "/v1/beacons"].concat()
    }
}
