//! Country of a client address, from an optional MaxMind database (`--geoip`).
//!
//! Without a database every view's country is `unknown`. The address itself is
//! never stored, only the country code derived from it.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// An optional, shared GeoIP2/GeoLite2 Country (or City) database.
#[derive(Clone, Default)]
pub struct Geo {
    reader: Option<Arc<maxminddb::Reader<Vec<u8>>>>,
}

impl Geo {
    /// Opens the database at `path`, or none.
    pub fn open(path: Option<&Path>) -> anyhow::Result<Geo> {
        let reader = match path {
            None => None,
            Some(p) => Some(Arc::new(maxminddb::Reader::open_readfile(p).map_err(
                |err| anyhow::anyhow!("opening GeoIP database {}: {err}", p.display()),
            )?)),
        };
        Ok(Geo { reader })
    }

    /// ISO country code of `ip`, when the database knows it.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let reader = self.reader.as_ref()?;
        let found = reader.lookup(ip).ok()?;
        let code: Option<String> = found
            .decode_path(&[
                maxminddb::PathElement::Key("country"),
                maxminddb::PathElement::Key("iso_code"),
            ])
            .ok()
            .flatten();
        code
    }
}
