//! `cargo xtask replay FILE`: runs a recorded trace (the plugin's `debug` option,
//! `h.trace()`) through the engine natively and prints the beacons it produces.
//!
//! The same engine code runs in the browser, so the last beacon printed is the
//! view's final state as the browser computed it: a way to debug a report from
//! the field without a browser.

use std::path::Path;

use anyhow::{Context, Result};
use vidpulse_plugin::engine::trace::{replay, Trace};

pub fn run(file: &Path) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading trace {}", file.display()))?;
    let trace: Trace = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a vidpulse trace", file.display()))?;
    let beacons = replay(&trace);
    eprintln!(
        "replay: {} inputs -> {} beacons",
        trace.records.len(),
        beacons.len()
    );
    for b in &beacons {
        println!("{}", serde_json::to_string(b)?);
    }
    Ok(())
}
