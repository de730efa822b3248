//! Cookieless viewer ids: a daily id the collector derives, so pages that store
//! nothing still get unique-viewer counts.
//!
//! id = first 64 bits of SHA-256(salt ‖ day ‖ property ‖ IP ‖ user agent), with a
//! random salt that changes every UTC day. The IP is hashed and never stored; once
//! a day's salt is replaced, that day's ids cannot be recomputed from an IP and a
//! user agent, nor linked to the next day's. The current salt is kept in a small
//! file beside the database so a restart keeps the day's ids stable.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The day's salt and where it is kept.
pub struct DailySalt {
    current: Mutex<Option<(u64, [u8; 32])>>,
    path: Option<PathBuf>,
}

impl DailySalt {
    /// A salt kept at `path` (`None`: memory only, for tests).
    pub fn open(path: Option<PathBuf>) -> DailySalt {
        let current = path
            .as_ref()
            .and_then(|p| parse(&std::fs::read_to_string(p).ok()?));
        DailySalt {
            current: Mutex::new(current),
            path,
        }
    }

    /// The viewer id for a cookieless request received at `now_ms`.
    pub fn viewer_id(&self, now_ms: u64, property: &str, ip: IpAddr, user_agent: &str) -> String {
        let day = now_ms / DAY_MS;
        let salt = self.salt_for(day);
        let mut h = Sha256::new();
        h.update(salt);
        h.update(day.to_le_bytes());
        for part in [
            property.as_bytes(),
            ip.to_string().as_bytes(),
            user_agent.as_bytes(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let digest = h.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("c-{hex}")
    }

    fn salt_for(&self, day: u64) -> [u8; 32] {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match *cur {
            Some((d, salt)) if d == day => salt,
            _ => {
                let mut salt = [0u8; 32];
                if getrandom::getrandom(&mut salt).is_err() {
                    // No OS randomness: fall back to the clock and address entropy;
                    // still unlinkable once replaced, weaker against guessing.
                    let seed = format!("{day}{:p}{:?}", &salt, std::time::SystemTime::now());
                    salt.copy_from_slice(&Sha256::digest(seed.as_bytes()));
                }
                *cur = Some((day, salt));
                if let Some(p) = &self.path {
                    let hex: String = salt.iter().map(|b| format!("{b:02x}")).collect();
                    let tmp = p.with_extension("tmp");
                    let ok = std::fs::write(&tmp, format!("{day} {hex}\n")).is_ok()
                        && std::fs::rename(&tmp, p).is_ok();
                    if !ok {
                        tracing::warn!(path = %p.display(), "could not save the cookieless salt");
                    }
                }
                salt
            }
        }
    }
}

fn parse(text: &str) -> Option<(u64, [u8; 32])> {
    let (day, hex) = text.trim().split_once(' ')?;
    let mut salt = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, b) in salt.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((day.parse().ok()?, salt))
}

#[cfg(test)]
mod tests {
    use super::{DailySalt, DAY_MS};
    use std::net::IpAddr;

    #[test]
    fn stable_within_a_day_different_across_days_and_restarts_keep_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("salt");
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let s = DailySalt::open(Some(path.clone()));
        let a = s.viewer_id(5 * DAY_MS + 10, "p", ip, "UA");
        assert!(a.starts_with("c-") && a.len() == 18, "{a}");
        assert_eq!(a, s.viewer_id(5 * DAY_MS + 999, "p", ip, "UA"));
        assert_ne!(a, s.viewer_id(5 * DAY_MS + 10, "p", ip, "UA 2"));
        assert_ne!(a, s.viewer_id(5 * DAY_MS + 10, "q", ip, "UA"));
        let restarted = DailySalt::open(Some(path.clone()));
        assert_eq!(a, restarted.viewer_id(5 * DAY_MS + 20, "p", ip, "UA"));
        let next_day = restarted.viewer_id(6 * DAY_MS, "p", ip, "UA");
        assert_ne!(a, next_day);
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(saved.starts_with("6 ") && !saved.contains("203.0.113.7"));
    }
}
