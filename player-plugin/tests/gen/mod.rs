//! Generated wire values for the JSON writer's tests (`json.rs`, `delta.rs`):
//! every variant, every optional member present and absent, edge integers, and
//! strings with quotes, control characters and non-ASCII, from a seeded source.
#![allow(dead_code)] // each test binary uses its own subset

use vidpulse_plugin::wire::{
    Beacon, NotableEvent, PlaybackError, Reason, StreamType, VideoMeta, ViewContext, ViewMetrics,
};

/// SplitMix64: a reproducible source of cases.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn flag(&mut self) -> bool {
        self.next() & 1 == 1
    }
    pub fn u64(&mut self) -> u64 {
        match self.below(5) {
            0 => 0,
            1 => u64::MAX,
            2 => self.below(10),
            3 => self.below(100_000),
            _ => self.next() >> self.below(64),
        }
    }
    pub fn u32(&mut self) -> u32 {
        match self.below(4) {
            0 => u32::MAX,
            _ => self.u64() as u32,
        }
    }
    pub fn u16(&mut self) -> u16 {
        self.u64() as u16
    }
    pub fn i64(&mut self) -> i64 {
        match self.below(6) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => -(self.below(1_000_000) as i64),
            _ => self.u64() as i64,
        }
    }
    pub fn string(&mut self) -> String {
        const PIECES: [&str; 16] = [
            "",
            "a",
            "movie-1",
            "\"",
            "\\",
            "/",
            "\n\r\t",
            "\u{8}\u{c}",
            "\u{0}\u{1}\u{1f}",
            "\u{7f}",
            "é",
            "日本語",
            "🎬",
            "\u{2028}",
            "https://cdn.example.com/v.mp4?x=1&y=2",
            " ",
        ];
        (0..self.below(5))
            .map(|_| PIECES[self.below(16) as usize])
            .collect()
    }
    pub fn opt_string(&mut self) -> Option<String> {
        self.flag().then(|| self.string())
    }
    pub fn opt_u64(&mut self) -> Option<u64> {
        self.flag().then(|| self.u64())
    }
}

pub fn video(r: &mut Rng) -> VideoMeta {
    VideoMeta {
        id: r.opt_string(),
        title: r.opt_string(),
        series: r.opt_string(),
        duration_ms: r.opt_u64(),
        stream_type: match r.below(3) {
            0 => None,
            1 => Some(StreamType::OnDemand),
            _ => Some(StreamType::Live),
        },
        src: r.opt_string(),
        cdn: r.opt_string(),
    }
}

pub fn context(r: &mut Rng) -> ViewContext {
    ViewContext {
        page_host: r.opt_string(),
        page_path: r.opt_string(),
        player_name: r.opt_string(),
        player_version: r.opt_string(),
        autoplay: r.flag(),
        experiment: r.opt_string(),
    }
}

pub fn metrics(r: &mut Rng) -> ViewMetrics {
    ViewMetrics {
        startup_ms: r.opt_u64(),
        startup_invalid: r.flag(),
        first_frame: r.flag(),
        rebuffer_count: r.u32(),
        rebuffer_ms: r.u64(),
        rebuffer_max_ms: r.u64(),
        watch_ms: r.u64(),
        playing_ms: r.u64(),
        seek_count: r.u32(),
        seek_ms: r.u64(),
        seek_max_ms: r.u64(),
        pause_count: r.u32(),
        rate_changes: r.u32(),
        volume_changes: r.u32(),
        fullscreen_ms: r.u64(),
        player_startup_ms: r.opt_u64(),
        page_load_ms: r.opt_u64(),
        aggregate_startup_ms: r.opt_u64(),
        max_position_ms: r.u64(),
        coverage: r.opt_string(),
        coverage_buckets: r.u16(),
        completed: r.flag(),
        mean_height: r.flag().then(|| r.u32()),
        rendition_changes: r.u32(),
        upscale_permille: r.u32(),
        downscale_permille: r.u32(),
        max_upscale_permille: r.u32(),
        dropped_frames: r.u32(),
        total_frames: r.u32(),
        throughput_bps: r.opt_u64(),
        error: r.flag().then(|| PlaybackError {
            code: r.u16(),
            message: r.string(),
            before_first_frame: r.flag(),
        }),
        ended: r.flag(),
        view_ended: r.flag(),
    }
}

pub fn event(r: &mut Rng) -> NotableEvent {
    match r.below(4) {
        0 => NotableEvent::Stall {
            at_ms: r.u64(),
            dur_ms: r.u64(),
        },
        1 => NotableEvent::Seek {
            at_ms: r.u64(),
            dur_ms: r.u64(),
            from_ms: r.u64(),
            to_ms: r.u64(),
        },
        2 => NotableEvent::Rendition {
            at_ms: r.u64(),
            width: r.u32(),
            height: r.u32(),
            bitrate: r.opt_u64(),
        },
        _ => NotableEvent::Error {
            at_ms: r.u64(),
            code: r.u16(),
            message: r.string(),
            fatal: r.flag(),
        },
    }
}

pub const REASONS: [Reason; 7] = [
    Reason::ViewStart,
    Reason::FirstFrame,
    Reason::Error,
    Reason::Ended,
    Reason::Interval,
    Reason::Flush,
    Reason::ViewEnd,
];

pub fn beacon(r: &mut Rng) -> Beacon {
    Beacon {
        view_id: r.string(),
        seq: r.u32(),
        reason: REASONS[r.below(7) as usize],
        started_at_ms: r.u64(),
        at_ms: r.u64(),
        plugin_version: r.string(),
        same: false,
        video: video(r),
        context: context(r),
        metrics: metrics(r),
        events: (0..r.below(4)).map(|_| event(r)).collect(),
    }
}
