//! Plugin-vs-observer comparisons with stated tolerances: printed per scenario and
//! merged into `target/bench/accuracy.json`, so the achieved accuracy can be quoted
//! and a figure out of tolerance fails its scenario.

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::{get_num, workspace_dir};

/// How close a plugin figure must be to the observer's.
#[derive(Debug, Clone, Copy)]
pub enum Tolerance {
    /// Equal.
    Exact,
    /// Within ± this many milliseconds.
    Ms(f64),
    /// Within ± the larger of `pct` % of the observer's value and `ms` milliseconds.
    PctOrMs { pct: f64, ms: f64 },
}

impl Tolerance {
    fn allowed(self, observer: f64) -> f64 {
        match self {
            Tolerance::Exact => 0.0,
            Tolerance::Ms(ms) => ms,
            Tolerance::PctOrMs { pct, ms } => (observer.abs() * pct / 100.0).max(ms),
        }
    }

    fn describe(self) -> String {
        match self {
            Tolerance::Exact => "exact".into(),
            Tolerance::Ms(ms) => format!("±{ms:.0} ms"),
            Tolerance::PctOrMs { pct, ms } => format!("±max({pct} %, {ms} ms)"),
        }
    }
}

/// Startup and seek latency: ±100 ms.
pub const LATENCY: Tolerance = Tolerance::Ms(100.0);
/// Rebuffer durations: ±10 % or ±150 ms, whichever is larger.
pub const REBUFFER: Tolerance = Tolerance::PctOrMs {
    pct: 10.0,
    ms: 150.0,
};

/// One scenario's plugin-vs-observer comparisons: printed as a table and merged into
/// `target/bench/accuracy.json` (one object per scenario) whether they pass or not,
/// then [`Accuracy::finish`] fails on the first figure out of tolerance.
pub struct Accuracy {
    scenario: String,
    rows: serde_json::Map<String, Value>,
    failures: Vec<String>,
}

static ACCURACY_FILE: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Accuracy {
    /// Starts the comparisons of `scenario` (the key in `accuracy.json`).
    pub fn new(scenario: &str) -> Self {
        println!("=== {scenario}: plugin (as stored) vs observer");
        Self {
            scenario: scenario.to_string(),
            rows: serde_json::Map::new(),
            failures: Vec::new(),
        }
    }

    /// Compares `plugin` with `observer` for `metric`.
    pub fn compare(&mut self, metric: &str, plugin: f64, observer: f64, tol: Tolerance) {
        let delta = plugin - observer;
        let allowed = tol.allowed(observer);
        let ok = delta.abs() <= allowed + 1e-9;
        println!(
            "  {metric:<22} plugin {plugin:>9.1}   observer {observer:>9.1}   delta {delta:>+8.1}   {} {}",
            tol.describe(),
            if ok { "ok" } else { "OUT OF TOLERANCE" }
        );
        self.rows.insert(
            metric.to_string(),
            json!({
                "plugin": plugin,
                "observer": observer,
                "delta": (delta * 10.0).round() / 10.0,
                "tolerance": tol.describe(),
                "allowed": (allowed * 10.0).round() / 10.0,
                "ok": ok,
            }),
        );
        if !ok {
            self.failures.push(format!(
                "{metric}: plugin {plugin:.1} vs observer {observer:.1} (delta {delta:+.1}, allowed {})",
                tol.describe()
            ));
        }
    }

    /// Compares `m[plugin_key]` (a stored view's metrics) with `obs[observer_key]`.
    pub fn compare_keys(
        &mut self,
        m: &Value,
        plugin_key: &str,
        obs: &Value,
        observer_key: &str,
        tol: Tolerance,
    ) -> Result<()> {
        let p = get_num(m, plugin_key)?;
        let o = get_num(obs, observer_key)?;
        self.compare(plugin_key, p, o, tol);
        Ok(())
    }

    /// Records a figure that is shown but not compared (context for the reader).
    pub fn note(&mut self, metric: &str, value: Value) {
        println!("  {metric:<22} {value}");
        self.rows
            .insert(metric.to_string(), json!({ "value": value }));
    }

    /// Writes the scenario into `accuracy.json`; fails if a comparison was out of
    /// tolerance.
    pub fn finish(self) -> Result<()> {
        let passed = self.failures.is_empty();
        if let Err(e) = self.write(passed) {
            println!("  (could not write accuracy.json: {e:#})");
        }
        if !passed {
            bail!(
                "{}: out of tolerance:\n  {}",
                self.scenario,
                self.failures.join("\n  ")
            );
        }
        Ok(())
    }

    fn write(&self, passed: bool) -> Result<()> {
        let _guard = ACCURACY_FILE.lock().unwrap_or_else(|e| e.into_inner());
        let dir = workspace_dir().join("target/bench");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("accuracy.json");
        let mut all = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .unwrap_or_default();
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        all.insert(
            self.scenario.clone(),
            json!({ "passed": passed, "measured_at_unix_ms": at_ms, "metrics": self.rows }),
        );
        let tmp = dir.join("accuracy.json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(&Value::Object(all))?)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }
}
