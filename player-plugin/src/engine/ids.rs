//! View ids from a seeded generator.
//!
//! The engine may not call a random source itself (sans-IO), so the glue seeds it
//! once with crypto-random bits and tests seed it with a constant, which makes
//! traces reproducible. SplitMix64: tiny, and its outputs are well mixed even for
//! consecutive seeds.

use alloc::string::String;

#[derive(Debug, Clone)]
pub(crate) struct IdGen {
    state: u64,
}

impl IdGen {
    pub fn new(seed: u64) -> IdGen {
        IdGen { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 64 random bits as 11 URL-safe base64 characters (`A-Z a-z 0-9 - _`):
    /// the id is in every beacon, so 5 characters fewer than hex count.
    pub fn view_id(&mut self) -> String {
        const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let n = self.next_u64();
        let mut id = String::new();
        for i in 0..11 {
            crate::push_ascii(&mut id, ABC[((n >> (6 * i)) & 63) as usize]);
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::IdGen;

    #[test]
    fn ids_are_url_safe_and_distinct() {
        let mut g = IdGen::new(7);
        let ids: Vec<String> = (0..1000).map(|_| g.view_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 11);
            assert!(id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }
}
