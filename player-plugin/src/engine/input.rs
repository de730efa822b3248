//! What the engine is fed: media events and a snapshot of the element's state.
//!
//! The browser glue reads these off the `<video>` element; tests write them by hand.
//! Keeping them plain data (no web-sys types) is what makes the engine sans-IO and
//! lets a recorded trace be replayed anywhere.

use alloc::string::String;

use serde::{Deserialize, Serialize};

/// One media event, as the element fired it (or as the glue derived it).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaEvent {
    /// `emptied`: the element is being reloaded (new `src` or `load()`); the next
    /// `loadstart` tells which source it loads.
    Emptied,
    /// `loadstart` with the element's `currentSrc` at that moment.
    LoadStart {
        /// `currentSrc`.
        src: String,
    },
    /// `play`: play intent (user- or autoplay-initiated).
    Play,
    /// `playing`: playback is ready to go after being paused or delayed for data.
    Playing,
    /// `pause`.
    Pause,
    /// `waiting`: playback stopped for lack of data.
    Waiting,
    /// `stalled`: the network fetch is not progressing.
    Stalled,
    /// `timeupdate`.
    TimeUpdate,
    /// `seeking`.
    Seeking,
    /// `seeked`.
    Seeked,
    /// `ended`.
    Ended,
    /// `error` with the element's `MediaError`.
    Error {
        /// `MediaError.code` (1-4).
        code: u16,
        /// `MediaError.message`.
        message: String,
    },
    /// An error the integration reported (`reportError`): fatal ones end
    /// playback like a `MediaError`; others only go on the timeline.
    ReportedError {
        /// The player's error code.
        code: u16,
        /// Message.
        message: String,
        /// Whether playback stopped.
        fatal: bool,
    },
    /// New content in the same player (`setVideo`): the current view ends, and a
    /// new one starts at once if the element is playing.
    VideoChange {
        /// The new content's metadata.
        video: crate::wire::VideoMeta,
    },
    /// A video frame was presented (`requestVideoFrameCallback`).
    Frame,
    /// `canplay`: the element reached `HAVE_FUTURE_DATA`.
    CanPlay,
    /// `ratechange`.
    RateChange,
    /// `volumechange` (volume or mute).
    VolumeChange,
    /// `resize`, or a rendition the integration reported: the intrinsic size.
    Rendition {
        /// `videoWidth`.
        width: u32,
        /// `videoHeight`.
        height: u32,
        /// Bitrate in bit/s when the player knows it.
        #[serde(default)]
        bitrate: Option<u64>,
    },
    /// The displayed box changed: CSS pixels × devicePixelRatio, rounded.
    DisplaySize {
        /// Width in device pixels.
        width: u32,
        /// Height in device pixels.
        height: u32,
    },
    /// The element entered (`true`) or left fullscreen.
    Fullscreen {
        /// In fullscreen now.
        on: bool,
    },
    /// `pagehide`: the page is going away (or into the back/forward cache).
    PageHide,
}

/// The element's state read at the moment of an event.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct ElementState {
    /// `currentTime`, seconds.
    pub current_time: f64,
    /// `paused`.
    pub paused: bool,
    /// `seeking`.
    pub seeking: bool,
    /// `ended`.
    pub ended: bool,
    /// `readyState` (0 `HAVE_NOTHING` … 4 `HAVE_ENOUGH_DATA`).
    pub ready_state: u8,
    /// `playbackRate`.
    pub playback_rate: f64,
    /// `duration`, seconds: NaN while unknown, infinite for live streams.
    #[serde(default = "nan")]
    pub duration: f64,
}

fn nan() -> f64 {
    f64::NAN
}

impl Default for ElementState {
    fn default() -> Self {
        ElementState {
            current_time: 0.0,
            paused: true,
            seeking: false,
            ended: false,
            ready_state: 0,
            playback_rate: 1.0,
            duration: f64::NAN,
        }
    }
}

/// `readyState` at which the element has data for the current position and beyond.
pub const HAVE_FUTURE_DATA: u8 = 3;
