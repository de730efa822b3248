//! Picture quality: renditions, up/downscaling and dropped frames.
//!
//! Renditions come from `resize` (the intrinsic `videoWidth × videoHeight`) or from
//! an integration that knows the bitrate. Scaling compares the displayed box (CSS
//! px × devicePixelRatio) with the intrinsic size in the limiting dimension, as
//! `object-fit: contain` does. Both are weighted by playing time, so a paused or
//! stalled picture does not count.

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Quality {
    intrinsic: Option<(u32, u32)>,
    display: Option<(f64, f64)>,
    renditions: u32,
    height_ms: f64,
    height_weight_ms: f64,
    up_ms: f64,
    down_ms: f64,
    scale_weight_ms: f64,
    max_up: f64,
}

impl Quality {
    /// A new intrinsic size. Returns whether it is a rendition change (or the first).
    pub fn rendition(&mut self, width: u32, height: u32) -> bool {
        if width == 0 || height == 0 || self.intrinsic == Some((width, height)) {
            return false;
        }
        self.intrinsic = Some((width, height));
        self.renditions += 1;
        true
    }

    /// The displayed box in device pixels.
    pub fn display(&mut self, width: f64, height: f64) {
        self.display = (width > 0.0 && height > 0.0).then_some((width, height));
    }

    /// `inc_ms` of playing time passed with the current rendition and box.
    pub fn playing(&mut self, inc_ms: f64) {
        let Some((w, h)) = self.intrinsic else { return };
        self.height_ms += f64::from(h) * inc_ms;
        self.height_weight_ms += inc_ms;
        if let Some((dw, dh)) = self.display {
            let scale = (dw / f64::from(w)).min(dh / f64::from(h));
            self.scale_weight_ms += inc_ms;
            if scale > 1.0 {
                self.up_ms += (scale - 1.0) * inc_ms;
                self.max_up = self.max_up.max(scale - 1.0);
            } else {
                self.down_ms += (1.0 - scale) * inc_ms;
            }
        }
    }

    /// Mean intrinsic height over playing time.
    pub fn mean_height(&self) -> Option<u32> {
        (self.height_weight_ms > 0.0).then(|| (self.height_ms / self.height_weight_ms + 0.5) as u32)
    }

    /// Rendition changes after the first rendition.
    pub fn changes(&self) -> u32 {
        self.renditions.saturating_sub(1)
    }

    /// (mean upscale, mean downscale, max upscale), per mille.
    pub fn scaling_permille(&self) -> (u32, u32, u32) {
        if self.scale_weight_ms <= 0.0 {
            return (0, 0, 0);
        }
        let pm = |v: f64| (v * 1000.0 + 0.5) as u32;
        (
            pm(self.up_ms / self.scale_weight_ms),
            pm(self.down_ms / self.scale_weight_ms),
            pm(self.max_up),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Quality;

    #[test]
    fn scaling_is_weighted_by_playing_time() {
        let mut q = Quality::default();
        assert!(q.rendition(640, 360));
        q.display(1280.0, 720.0); // 2x: 100 % upscale
        q.playing(1000.0);
        q.display(640.0, 360.0); // 1x
        q.playing(1000.0);
        assert_eq!(q.scaling_permille(), (500, 0, 1000));
        assert!(q.rendition(1920, 1080));
        q.display(960.0, 1080.0); // limited by width: 0.5x
        q.playing(2000.0);
        assert_eq!(q.scaling_permille(), (250, 250, 1000));
        assert_eq!(q.mean_height(), Some((360 * 2000 + 1080 * 2000) / 4000));
        assert_eq!(q.changes(), 1);
        assert!(!q.rendition(1920, 1080), "same size is no change");
    }
}
