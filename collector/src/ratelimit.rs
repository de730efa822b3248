//! Rate limits on ingest: a token bucket per client IP (requests) and one per
//! property (beacons), so one noisy client or one hijacked key cannot take the
//! writer from everybody else.
//!
//! The buckets are `governor`'s keyed GCRA limiters (a maintained, lock-free
//! token-bucket equivalent); a refused request is answered 429 with a JSON error
//! naming `ip` or `property` and a `Retry-After` header in whole seconds (the
//! plugin's outbox retries a 429 with exponential backoff). Loopback clients are exempt unless
//! `--rate-limit-loopback` is given (the demo, tests and benches run there).
//! Idle buckets are forgotten every minute so the maps stay small.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Config;
use crate::error::ApiError;

/// How often idle buckets are dropped.
pub const CLEANUP_EVERY: Duration = Duration::from_secs(60);

/// The ingest rate limiters.
pub struct RateLimits {
    ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    property: Option<DefaultKeyedRateLimiter<String>>,
    limit_loopback: bool,
    clock: DefaultClock,
}

/// A refused request: which limit, and when to retry.
#[derive(Debug)]
pub struct Limited {
    /// `ip`, `property` or `authorization` (wrong operator tokens).
    pub field: &'static str,
    /// Seconds until a retry can pass (at least 1).
    pub retry_after_secs: u64,
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        let message = match self.field {
            "ip" => "too many requests from this client address",
            "authorization" => "too many wrong operator tokens from this client address",
            _ => "too many beacons for this property",
        };
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            message,
            Some(self.field.to_owned()),
        )
        .into_response();
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_secs),
        );
        resp
    }
}

fn quota(per_sec: u32, burst: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(per_sec)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(Quota::per_second(rate).allow_burst(burst))
}

impl RateLimits {
    /// The limits of a configuration (a rate of 0 turns that limit off).
    pub fn new(config: &Config) -> RateLimits {
        RateLimits {
            ip: quota(config.rate_ip_per_sec, config.rate_ip_burst).map(RateLimiter::keyed),
            property: quota(config.rate_property_per_sec, config.rate_property_burst)
                .map(RateLimiter::keyed),
            limit_loopback: config.rate_limit_loopback,
            clock: DefaultClock::default(),
        }
    }

    fn exempt(&self, ip: IpAddr) -> bool {
        !self.limit_loopback && ip.is_loopback()
    }

    /// One request from `ip`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Limited> {
        let Some(limiter) = &self.ip else {
            return Ok(());
        };
        if self.exempt(ip) {
            return Ok(());
        }
        limiter.check_key(&ip).map_err(|not_until| Limited {
            field: "ip",
            retry_after_secs: secs_ceil(not_until.wait_time_from(self.clock.now())),
        })
    }

    /// `beacons` beacons for `property`, from `ip` (exempt on loopback too).
    pub fn check_property(
        &self,
        ip: IpAddr,
        property: &str,
        beacons: usize,
    ) -> Result<(), Limited> {
        let Some(limiter) = &self.property else {
            return Ok(());
        };
        if self.exempt(ip) {
            return Ok(());
        }
        let n = NonZeroU32::new(u32::try_from(beacons).unwrap_or(u32::MAX).max(1))
            .unwrap_or(NonZeroU32::MIN);
        match limiter.check_key_n(&property.to_owned(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Limited {
                field: "property",
                retry_after_secs: secs_ceil(not_until.wait_time_from(self.clock.now())),
            }),
            // More beacons than the whole burst: wait for a full bucket.
            Err(_) => Err(Limited {
                field: "property",
                retry_after_secs: 1,
            }),
        }
    }

    /// Forgets buckets that are full again (idle clients), every [`CLEANUP_EVERY`].
    pub fn spawn_cleanup(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CLEANUP_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(me) = me.upgrade() else { return };
                if let Some(l) = &me.ip {
                    l.retain_recent();
                    l.shrink_to_fit();
                }
                if let Some(l) = &me.property {
                    l.retain_recent();
                    l.shrink_to_fit();
                }
            }
        })
    }
}

pub(crate) fn secs_ceil(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ip: u32, burst: u32) -> Config {
        let mut c = Config::for_test("x.redb".into());
        c.rate_ip_per_sec = ip;
        c.rate_ip_burst = burst;
        c.rate_property_per_sec = 10;
        c.rate_property_burst = 20;
        c
    }

    #[test]
    fn buckets_are_per_ip_and_loopback_is_exempt() {
        let limits = RateLimits::new(&config(1, 3));
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        for _ in 0..3 {
            limits.check_ip(a).unwrap();
        }
        let refused = limits.check_ip(a).unwrap_err();
        assert_eq!(refused.field, "ip");
        assert!(refused.retry_after_secs >= 1);
        limits.check_ip(b).unwrap();
        for _ in 0..100 {
            limits.check_ip("127.0.0.1".parse().unwrap()).unwrap();
        }
    }

    #[test]
    fn property_counts_beacons() {
        let limits = RateLimits::new(&config(0, 1));
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        limits.check_property(a, "p", 15).unwrap();
        assert_eq!(
            limits.check_property(a, "p", 10).unwrap_err().field,
            "property"
        );
        limits.check_property(a, "q", 20).unwrap();
        assert!(limits.check_property(a, "r", 21).is_err());
    }
}
