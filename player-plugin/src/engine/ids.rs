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

    /// 16 lowercase hex digits.
    pub fn view_id(&mut self) -> String {
        crate::json::hex16(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::IdGen;

    #[test]
    fn ids_are_hex_and_distinct() {
        let mut g = IdGen::new(7);
        let a = g.view_id();
        let b = g.view_id();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
