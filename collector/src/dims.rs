//! Dimensions: the attributes KPIs are filtered and grouped by, and how each is
//! derived from a stored view.
//!
//! Most come from the beacon (property, video, context); browser, OS and device
//! type come from the `User-Agent` header parsed with `woothee` (a compact,
//! self-contained parser: no regex file to ship or compile at start-up), country
//! from an optional MaxMind database ([`crate::geo`]). They are derived once, when
//! a view is first received, and stored with it ([`ClientDims`]), so a view's
//! rollup keys never depend on a later parser or database update.

use serde::{Deserialize, Serialize};
use vidpulse_plugin::wire::StreamType;

use crate::store::ViewRecord;

/// Value of a dimension the data does not tell.
pub const UNKNOWN: &str = "unknown";

macro_rules! dims {
    ($($variant:ident = $code:literal, $name:literal;)*) => {
        /// A dimension KPIs can be filtered or grouped by.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Dim { $($variant = $code),* }

        impl Dim {
            /// Every dimension, in code order.
            pub const EVERY: &'static [Dim] = &[$(Dim::$variant),*];

            /// The name used in query parameters (`filter=browser:Chrome`).
            pub fn name(self) -> &'static str {
                match self { $(Dim::$variant => $name),* }
            }

            /// Parses a query-parameter name.
            pub fn parse(name: &str) -> Option<Dim> {
                match name { $($name => Some(Dim::$variant),)* _ => None }
            }

            /// The storage code.
            pub fn code(self) -> u8 {
                self as u8
            }

            /// The dimension of a storage code.
            pub fn from_code(code: u8) -> Option<Dim> {
                match code { $($code => Some(Dim::$variant),)* _ => None }
            }
        }
    };
}

dims! {
    All = 0, "all";
    Property = 1, "property";
    Video = 2, "video";
    Title = 3, "title";
    StreamType = 4, "stream_type";
    Player = 5, "player_name";
    PageHost = 6, "page_host";
    Browser = 7, "browser";
    Os = 8, "os";
    DeviceType = 9, "device_type";
    Country = 10, "country";
    Cdn = 11, "cdn";
}

/// Every dimension name, comma-separated, for error messages.
pub fn names() -> String {
    Dim::EVERY
        .iter()
        .map(|d| d.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the collector derives about a view's client, stored with the view.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientDims {
    /// Browser name (`Chrome`, `Firefox`, `Safari`, …).
    pub browser: String,
    /// Operating system (`Linux`, `Windows 10`, `iPhone`, …).
    pub os: String,
    /// `desktop`, `mobile`, `appliance`, `bot` or `unknown`.
    pub device_type: String,
    /// ISO 3166-1 alpha-2 code, or `unknown`.
    pub country: String,
}

impl ClientDims {
    /// Derives browser, OS and device type from a `User-Agent` (parsed once per
    /// distinct string: a small cache spares the writer a parse per new view).
    pub fn from_request(user_agent: Option<&str>, country: Option<String>) -> ClientDims {
        let country = country.unwrap_or_else(|| UNKNOWN.to_owned());
        let Some(ua) = user_agent else {
            return ClientDims {
                country,
                ..parse_user_agent(None)
            };
        };
        let mut cache = UA_CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let cache = cache.get_or_insert_with(Default::default);
        if let Some(parsed) = cache.get(ua) {
            return ClientDims {
                country,
                ..parsed.clone()
            };
        }
        let parsed = parse_user_agent(Some(ua));
        if cache.len() >= UA_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(ua.to_owned(), parsed.clone());
        ClientDims { country, ..parsed }
    }
}

/// Distinct User-Agent strings whose parse is kept.
const UA_CACHE_ENTRIES: usize = 4096;

type UaCache = std::collections::HashMap<String, ClientDims>;
static UA_CACHE: std::sync::Mutex<Option<UaCache>> = std::sync::Mutex::new(None);

/// Browser, OS and device type of a `User-Agent` (country left empty).
fn parse_user_agent(user_agent: Option<&str>) -> ClientDims {
    let parsed = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua));
    let (browser, os, category) = match &parsed {
        Some(r) => (r.name, r.os, r.category),
        None => (UNKNOWN, UNKNOWN, UNKNOWN),
    };
    let device_type = match category {
        "pc" => "desktop",
        "smartphone" | "mobilephone" => "mobile",
        "appliance" => "appliance",
        "crawler" => "bot",
        _ => UNKNOWN,
    };
    let clean = |s: &str| {
        if s.is_empty() || s == "UNKNOWN" {
            UNKNOWN.to_owned()
        } else {
            s.to_owned()
        }
    };
    ClientDims {
        browser: clean(browser),
        os: clean(os),
        device_type: device_type.to_owned(),
        country: String::new(),
    }
}

/// The value of every dimension for a view, in [`Dim::EVERY`] order.
pub fn values(record: &ViewRecord) -> Vec<(Dim, String)> {
    let b = &record.beacon;
    let client = record
        .client
        .clone()
        .unwrap_or_else(|| ClientDims::from_request(record.user_agent.as_deref(), None));
    let or_unknown = |v: &Option<String>| {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or(UNKNOWN)
            .to_owned()
    };
    let stream_type = match b.video.stream_type {
        Some(StreamType::OnDemand) => "on_demand",
        Some(StreamType::Live) => "live",
        None => UNKNOWN,
    };
    let cdn = b
        .video
        .cdn
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| b.video.src.as_deref().and_then(host_of).map(str::to_owned))
        .unwrap_or_else(|| UNKNOWN.to_owned());
    vec![
        (Dim::All, "all".to_owned()),
        (Dim::Property, record.property.clone()),
        (Dim::Video, or_unknown(&b.video.id)),
        (Dim::Title, or_unknown(&b.video.title)),
        (Dim::StreamType, stream_type.to_owned()),
        (Dim::Player, or_unknown(&b.context.player_name)),
        (Dim::PageHost, or_unknown(&b.context.page_host)),
        (Dim::Browser, client.browser),
        (Dim::Os, client.os),
        (Dim::DeviceType, client.device_type),
        (Dim::Country, client.country),
        (Dim::Cdn, cdn),
    ]
}

/// The value of one dimension for a view.
pub fn value(record: &ViewRecord, dim: Dim) -> String {
    values(record).swap_remove(dim.code() as usize).1
}

/// The host of an absolute URL (`https://cdn.example.com:8443/a.mp4` →
/// `cdn.example.com`); `None` for relative or malformed ones.
pub fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for (i, d) in Dim::EVERY.iter().enumerate() {
            assert_eq!(d.code() as usize, i);
            assert_eq!(Dim::parse(d.name()), Some(*d));
            assert_eq!(Dim::from_code(d.code()), Some(*d));
        }
        assert_eq!(Dim::parse("nope"), None);
    }

    #[test]
    fn user_agents() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        let c = ClientDims::from_request(Some(chrome), Some("DE".into()));
        assert_eq!(
            (c.browser.as_str(), c.os.as_str(), c.device_type.as_str()),
            ("Chrome", "Linux", "desktop")
        );
        assert_eq!(c.country, "DE");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        let c = ClientDims::from_request(Some(iphone), None);
        assert_eq!(
            (c.browser.as_str(), c.device_type.as_str()),
            ("Safari", "mobile")
        );
        assert_eq!(c.country, UNKNOWN);
        let c = ClientDims::from_request(None, None);
        assert_eq!(
            (c.browser.as_str(), c.device_type.as_str()),
            (UNKNOWN, UNKNOWN)
        );
    }

    #[test]
    fn hosts() {
        assert_eq!(
            host_of("https://cdn.example.com:8443/a.mp4"),
            Some("cdn.example.com")
        );
        assert_eq!(host_of("http://u@[::1]:80/x"), Some("::1"));
        assert_eq!(
            host_of("http://127.0.0.1/media/c.webm?x=1"),
            Some("127.0.0.1")
        );
        assert_eq!(host_of("/media/c.webm"), None);
    }
}
