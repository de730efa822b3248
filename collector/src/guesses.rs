//! Wrong operator tokens, limited per client IP.
//!
//! The admin token guards all the data; without a limit a client could try tokens
//! as fast as the server answers. Every request that presents a wrong credential
//! (a `Bearer` header, a session cookie, the login form) takes one cell from its
//! IP's bucket (`governor`, GCRA: `--max-token-failures` per minute, all of them
//! as a burst). Once the bucket is empty the IP gets 429 with `Retry-After` for
//! every credential, right or wrong, until it refills, so a guesser learns nothing
//! more. Loopback clients are exempt unless `--rate-limit-loopback` is given, as
//! for the ingest limits (a reverse proxy on loopback would otherwise let one
//! guesser lock every operator out).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::ratelimit::Limited;

/// Most locked-out IPs remembered before expired ones are swept.
const SWEEP_AT: usize = 10_000;

/// Failed token attempts per IP.
pub struct Guesses {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    locked: Mutex<HashMap<IpAddr, Instant>>,
    limit_loopback: bool,
    clock: DefaultClock,
}

impl std::fmt::Debug for Guesses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guesses")
            .field("limited", &self.limiter.is_some())
            .field("limit_loopback", &self.limit_loopback)
            .finish_non_exhaustive()
    }
}

impl Default for Guesses {
    /// No limit.
    fn default() -> Self {
        Guesses::new(0, false)
    }
}

impl Guesses {
    /// `per_min` failures a minute per IP (0: no limit).
    pub fn new(per_min: u32, limit_loopback: bool) -> Guesses {
        Guesses {
            limiter: NonZeroU32::new(per_min).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            locked: Mutex::default(),
            limit_loopback,
            clock: DefaultClock::default(),
        }
    }

    fn applies(&self, ip: IpAddr) -> bool {
        self.limiter.is_some() && (self.limit_loopback || !ip.is_loopback())
    }

    /// `Err` while `ip` is locked out: no credential of its is even looked at.
    pub fn check(&self, ip: IpAddr) -> Result<(), Limited> {
        if !self.applies(ip) {
            return Ok(());
        }
        let locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        match locked.get(&ip) {
            Some(until) if *until > Instant::now() => Err(limited(*until - Instant::now())),
            _ => Ok(()),
        }
    }

    /// Records a wrong credential from `ip`; `Err` when that emptied its bucket.
    pub fn failed(&self, ip: IpAddr) -> Result<(), Limited> {
        let (true, Some(limiter)) = (self.applies(ip), &self.limiter) else {
            return Ok(());
        };
        let Err(not_until) = limiter.check_key(&ip) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(self.clock.now());
        let now = Instant::now();
        let mut locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        if locked.len() >= SWEEP_AT {
            locked.retain(|_, until| *until > now);
            limiter.retain_recent();
        }
        locked.insert(ip, now + wait);
        tracing::warn!(%ip, "operator token: too many wrong attempts; locked out");
        Err(limited(wait))
    }
}

fn limited(wait: Duration) -> Limited {
    Limited {
        field: "authorization",
        retry_after_secs: crate::ratelimit::secs_ceil(wait),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_runs_out_then_every_credential_waits() {
        let g = Guesses::new(3, false);
        let ip: IpAddr = [203, 0, 113, 9].into();
        for _ in 0..3 {
            assert!(g.check(ip).is_ok());
            assert!(g.failed(ip).is_ok());
        }
        let err = g.failed(ip).unwrap_err();
        assert_eq!(err.field, "authorization");
        assert!((1..=60).contains(&err.retry_after_secs), "{err:?}");
        assert!(g.check(ip).is_err());
        // Another address is not affected.
        assert!(g.check([203, 0, 113, 10].into()).is_ok());
    }

    #[test]
    fn loopback_is_exempt_unless_asked_and_zero_is_off() {
        let lo: IpAddr = [127, 0, 0, 1].into();
        let g = Guesses::new(1, false);
        for _ in 0..5 {
            assert!(g.failed(lo).is_ok());
        }
        let g = Guesses::new(1, true);
        assert!(g.failed(lo).is_ok());
        assert!(g.failed(lo).is_err());
        let off = Guesses::new(0, true);
        for _ in 0..5 {
            assert!(off.failed(lo).is_ok());
        }
    }
}
