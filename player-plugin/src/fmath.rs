//! `ceil` and `round` for `f64` without std (they are std methods, not core ones,
//! and the shipped plugin is `no_std`). The same code runs natively, and a test
//! checks it against the std methods (`x - trunc(x)` is exact, so `round` agrees
//! on every value; only the sign of a zero result may differ).

/// `x` without its fraction (the sign of a zero result may differ from
/// `f64::trunc`; every caller converts to an integer).
fn trunc(x: f64) -> f64 {
    // From 2^52 on, every f64 is an integer (and NaN and infinities stay as they are).
    if x.abs() < 4_503_599_627_370_496.0 {
        x as i64 as f64
    } else {
        x
    }
}

/// The smallest integer not less than `x`.
pub fn ceil(x: f64) -> f64 {
    let t = trunc(x);
    if t < x {
        t + 1.0
    } else {
        t
    }
}

/// The nearest integer, halves away from zero (like `f64::round`).
pub fn round(x: f64) -> f64 {
    let t = trunc(x);
    if (x - t).abs() >= 0.5 {
        if x < 0.0 {
            t - 1.0
        } else {
            t + 1.0
        }
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_agrees_with_std() {
        let mut cases = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            2.5,
            -2.5,
            0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            9_007_199_254_740_993.0,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-300,
            -0.3,
            f64::NAN,
        ];
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(f64::from_bits(x));
            cases.push((x % 10_000_000) as f64 / 1000.0 - 5000.0);
        }
        for c in cases {
            let (a, b) = (super::round(c), c.round());
            assert!(a == b || (a.is_nan() && b.is_nan()), "{c}: {a} vs {b}");
            let (a, b) = (super::ceil(c), c.ceil());
            assert!(a == b || (a.is_nan() && b.is_nan()), "{c}: {a} vs {b}");
        }
    }
}
