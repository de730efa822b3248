//! `js/outbox.js` driven from Rust through node (`driver.mjs`), so the
//! delivery queue's tests and the delta check against `wire::Delta::resolve`
//! stay native tests on the wire types; the collector's delta tests include
//! this file too, to post deltas the plugin really writes. Needs `node`
//! (`cargo xtask setup` installs it).
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;
use vidpulse_plugin::wire::Beacon;

/// A node process running the driver.
pub struct Node {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Node {
    pub fn start() -> Node {
        // From either crate including this file (both sit at the workspace root).
        let driver =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../player-plugin/tests/node/driver.mjs");
        let mut child = Command::new("node")
            .arg(&driver)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("running node (Node.js; `cargo xtask setup` installs it)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Node {
            child,
            stdin,
            stdout,
        }
    }

    /// Calls `op` with `args` (JSON texts); its answer.
    pub fn call(&mut self, op: &str, args: &[String]) -> Value {
        let mut line = format!("[{}", serde_json::to_string(op).unwrap());
        for a in args {
            line.push(',');
            line.push_str(a);
        }
        line.push_str("]\n");
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        let mut v: Value = serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("{e}: the driver answered {answer:?} to {line}"));
        if let Some(e) = v.get("error") {
            panic!(
                "outbox.js threw on {line}: {}",
                e.as_str().unwrap_or_default()
            );
        }
        v["ok"].take()
    }

    /// `delta(base, cur)` of outbox.js: the text, or `None`.
    pub fn delta(&mut self, base: &Beacon, cur: &Beacon) -> Option<String> {
        let v = self.call("delta", &[json(base), json(cur)]);
        v.as_str().map(String::from)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A value as JSON: for a beacon, exactly what the core's writer gives the JS
/// (`tests/json.rs` checks the two are byte for byte the same).
pub fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

/// An `Outbox` of outbox.js.
pub struct JsOutbox(pub Node);

impl JsOutbox {
    /// `limits`: a JSON object of `OUTBOX_DEFAULTS` members to change.
    pub fn new(property: &str, viewer: &str, limits: &str) -> JsOutbox {
        let mut n = Node::start();
        n.call("new", &[json(&property), json(&viewer), limits.into()]);
        JsOutbox(n)
    }
    pub fn push(&mut self, b: &Beacon) {
        self.0.call("push", &[json(b)]);
    }
    pub fn restore(&mut self, saved: &str) {
        self.0.call("restore", &[json(&saved)]);
    }
    pub fn save(&mut self) -> String {
        self.0.call("save", &[]).as_str().unwrap().into()
    }
    pub fn batch(&mut self, now: f64) -> Option<String> {
        self.0
            .call("batch", &[json(&now)])
            .as_str()
            .map(String::from)
    }
    pub fn all(&mut self) -> Option<String> {
        self.0.call("all", &[]).as_str().map(String::from)
    }
    pub fn finish(&mut self, status: u16, now: f64, jitter: f64) {
        self.0
            .call("finish", &[json(&status), json(&now), json(&jitter)]);
    }
    pub fn retry_at(&mut self) -> Option<f64> {
        let at = self.0.call("retryAt", &[]).as_f64().unwrap();
        (at >= 0.0).then_some(at)
    }
    pub fn len(&mut self) -> usize {
        self.0.call("len", &[]).as_u64().unwrap() as usize
    }
    pub fn dropped(&mut self) -> u64 {
        self.0.call("dropped", &[]).as_u64().unwrap()
    }
}
