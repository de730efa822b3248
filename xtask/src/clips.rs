//! Test media for the demo and the end-to-end tests, generated with ffmpeg so
//! the repository carries no binary blobs: a short VP9 and H.264 clip, a 100 s
//! low-bitrate clip for the delivery loss tests, a 30 s constant-bitrate clip that
//! stalls when throttled, a corrupt file that fails to decode part-way, and an HLS
//! stream with three renditions (`hls/master.m3u8`) for the hls.js and video.js
//! integrations. (404s need no file: tests use a missing name.) `cargo xtask bench
//! plugin` also asks for a longer clip ([`generate_long`]), made only then.

use crate::util::{self, run, Workspace};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const SIZE: &str = "640x360";
const FPS: u32 = 30;

struct Clip {
    name: &'static str,
    seconds: u32,
    /// ffmpeg muxer name (the temp file's extension can't tell ffmpeg).
    format: &'static str,
    /// Encoder arguments, whitespace-separated.
    codec_args: &'static str,
}

const CLIPS: &[Clip] = &[
    Clip {
        name: "clip.webm",
        seconds: 12,
        format: "webm",
        codec_args: "-c:v libvpx-vp9 -b:v 500k -deadline realtime -cpu-used 8 -row-mt 1 -g 60 \
                     -c:a libopus -b:a 64k",
    },
    Clip {
        name: "clip.mp4",
        seconds: 12,
        format: "mp4",
        codec_args: "-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 60 \
                     -c:a aac -b:a 96k -movflags +faststart",
    },
    // Long enough to keep one view playing through a 60 s collector outage
    // (the delivery loss tests).
    Clip {
        name: "clip-long.webm",
        seconds: 100,
        format: "webm",
        codec_args: "-c:v libvpx-vp9 -b:v 200k -deadline realtime -cpu-used 8 -row-mt 1 -g 60 \
                     -c:a libopus -b:a 32k",
    },
    // ~1.6 Mbit/s for 30 s (~6 MB): streamed at 20 KB/s it must stall.
    Clip {
        name: "clip-hq.mp4",
        seconds: 30,
        format: "mp4",
        codec_args: "-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 60 \
                     -b:v 1500k -minrate 1500k -maxrate 1500k -bufsize 3000k -x264-params nal-hrd=cbr \
                     -c:a aac -b:a 96k -movflags +faststart",
    },
];

/// Where the garbage starts in `corrupt.mp4`, as a fraction of the file.
const CORRUPT_FROM: f64 = 0.30;

pub fn generate(ws: &Workspace) -> Result<()> {
    let dir = ws.media();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let start = Instant::now();
    for clip in CLIPS {
        let dest = dir.join(clip.name);
        if is_nonempty(&dest) {
            println!("clips: {}: exists", clip.name);
            continue;
        }
        let tmp = util::tmp_path(&dest);
        let video = format!("testsrc2=size={SIZE}:rate={FPS}:duration={}", clip.seconds);
        let audio = format!(
            "sine=frequency=440:sample_rate=48000:duration={}",
            clip.seconds
        );
        run(Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-y"])
            .args(["-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio])
            .args(clip.codec_args.split_whitespace())
            .args(["-shortest", "-f", clip.format])
            .arg(&tmp))?;
        std::fs::rename(&tmp, &dest).with_context(|| format!("renaming to {}", dest.display()))?;
        println!("clips: {}: generated ({} bytes)", clip.name, len(&dest));
    }

    let corrupt = dir.join("corrupt.mp4");
    if is_nonempty(&corrupt) {
        println!("clips: corrupt.mp4: exists");
    } else {
        let mut bytes = std::fs::read(dir.join("clip.mp4")).context("reading clip.mp4")?;
        corrupt_tail(&mut bytes);
        util::write_atomic(&corrupt, &bytes)?;
        println!("clips: corrupt.mp4: generated ({} bytes)", bytes.len());
    }
    hls(&dir)?;
    println!(
        "clips: {} ready in {:.1}s",
        dir.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The HLS stream's renditions, `stream_0` first: (scale, video bitrate). ffmpeg
/// writes each one's BANDWIDTH into the master playlist (video + audio + ~10 %).
const HLS_RENDITIONS: &[(&str, &str)] = &[
    ("640:360", "1000k"),
    ("480:270", "500k"),
    ("320:180", "200k"),
];
/// Length of the HLS stream and of each segment, seconds.
const HLS_SECONDS: u32 = 24;
const HLS_SEGMENT_SECONDS: u32 = 2;

/// `hls/`: `master.m3u8` naming three H.264 + AAC renditions of one source
/// (`stream_N.m3u8`, 2 s MPEG-TS segments, keyframes aligned on segment starts, so
/// a player can switch at any segment; audio and video starting together). Made in `hls.tmp/`, then renamed, so an
/// interrupted run never leaves half a stream.
fn hls(media: &Path) -> Result<()> {
    let dest = media.join("hls");
    if is_nonempty(&dest.join("master.m3u8")) {
        println!("clips: hls/master.m3u8: exists");
        return Ok(());
    }
    let tmp = media.join("hls.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let n = HLS_RENDITIONS.len();
    let outs: String = (0..n).map(|i| format!("[s{i}]")).collect();
    let mut filter = format!("[0:v]split={n}{outs}");
    let mut cmd = Command::new("ffmpeg");
    cmd.current_dir(&tmp)
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=size={SIZE}:rate={FPS}:duration={HLS_SECONDS}"
        ))
        // Audio and video must start at the same instant, or the players see a
        // hole at 0 and seek over it before the first frame (which invalidates the
        // startup time): no B-frames (no video delay), and the audio input shifted
        // by the AAC encoder's priming (1024 samples at 48 kHz).
        .args(["-itsoffset", "0.0213333", "-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=440:sample_rate=48000:duration={HLS_SECONDS}"
        ));
    let mut maps = Vec::new();
    let mut rates = Vec::new();
    let mut stream_map = Vec::new();
    for (i, (scale, rate)) in HLS_RENDITIONS.iter().enumerate() {
        filter.push_str(&format!(";[s{i}]scale={scale}[v{i}]"));
        maps.extend(["-map".to_string(), format!("[v{i}]")]);
        let kbits: u32 = rate.trim_end_matches('k').parse().unwrap_or(500);
        rates.extend([
            format!("-b:v:{i}"),
            rate.to_string(),
            format!("-maxrate:v:{i}"),
            rate.to_string(),
            format!("-bufsize:v:{i}"),
            format!("{}k", kbits * 2),
        ]);
        stream_map.push(format!("v:{i},a:{i}"));
    }
    for _ in 0..n {
        maps.extend(["-map".to_string(), "1:a".to_string()]);
    }
    let gop = (FPS * HLS_SEGMENT_SECONDS).to_string();
    cmd.args(["-filter_complex", &filter])
        .args(&maps)
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .args([
            "-bf",
            "0",
            "-g",
            &gop,
            "-keyint_min",
            &gop,
            "-sc_threshold",
            "0",
        ])
        .args(&rates)
        .args(["-c:a", "aac", "-b:a", "64k", "-ac", "2"])
        .args(["-f", "hls", "-hls_playlist_type", "vod"])
        .args(["-hls_time", &HLS_SEGMENT_SECONDS.to_string()])
        .args(["-hls_segment_filename", "stream_%v_%03d.ts"])
        .args(["-master_pl_name", "master.m3u8"])
        .args(["-var_stream_map", &stream_map.join(" ")])
        .arg("stream_%v.m3u8");
    run(&mut cmd)?;
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&tmp, &dest).with_context(|| format!("renaming to {}", dest.display()))?;
    println!("clips: hls/master.m3u8: generated ({n} renditions)");
    Ok(())
}

/// The bench's clip: `clip-long.mp4`, 200 s (so 2-3 minutes of steady playback
/// never reach the end), small and cheap to encode.
pub fn generate_long(ws: &Workspace) -> Result<std::path::PathBuf> {
    let dest = ws.media().join("clip-long.mp4");
    if is_nonempty(&dest) {
        println!("clips: clip-long.mp4: exists");
        return Ok(dest);
    }
    std::fs::create_dir_all(ws.media())?;
    let tmp = util::tmp_path(&dest);
    run(Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=size=480x270:rate={FPS}:duration={LONG_SECONDS}"
        ))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=440:sample_rate=48000:duration={LONG_SECONDS}"
        ))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-b:v", "300k", "-g", "60", "-c:a", "aac", "-b:a", "64k"])
        .args(["-movflags", "+faststart", "-shortest", "-f", "mp4"])
        .arg(&tmp))?;
    std::fs::rename(&tmp, &dest).with_context(|| format!("renaming to {}", dest.display()))?;
    println!("clips: clip-long.mp4: generated ({} bytes)", len(&dest));
    Ok(dest)
}

/// Length of `clip-long.mp4`, seconds.
pub const LONG_SECONDS: u32 = 200;

/// Overwrites everything from ~30 % onwards with deterministic noise. The clip
/// is `+faststart`, so the header (moov) stays intact and playback starts, then
/// the media data turns to garbage and the decoder errors out.
fn corrupt_tail(bytes: &mut [u8]) {
    let from = (bytes.len() as f64 * CORRUPT_FROM) as usize;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in &mut bytes[from..] {
        // xorshift64*: cheap, reproducible, no dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        *b = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
    }
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn is_nonempty(path: &Path) -> bool {
    len(path) > 0
}
