//! Test media for the demo and the end-to-end tests, generated with ffmpeg so
//! the repository carries no binary blobs: a short VP9 and H.264 clip, a 100 s
//! low-bitrate clip for the delivery loss tests, a 30 s
//! constant-bitrate clip that stalls when throttled, and a corrupt file that
//! fails to decode part-way. (404s need no file: tests use a missing name.)

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
    println!(
        "clips: {} ready in {:.1}s",
        dir.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

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
