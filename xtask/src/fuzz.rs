//! `cargo xtask fuzz [decoder|params] [--seconds N]`: runs the cargo-fuzz
//! targets in `fuzz/` (both at once by default, 600 s each), then minimises
//! each corpus in place (`cargo fuzz cmin`, committed under `fuzz/corpus/`), and
//! writes `target/bench/fuzz.json` (runs, execs/s, coverage, corpus size,
//! crashes). cargo-fuzz and libFuzzer need nightly `-Z` flags; on the stable
//! toolchain they run with `RUSTC_BOOTSTRAP=1`. cargo-fuzz is installed here,
//! pinned, only for this command (never for `test`).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::util::{self, Workspace};

/// The pinned cargo-fuzz version.
const CARGO_FUZZ_VERSION: &str = "0.13.1";
/// Every target, in `fuzz/fuzz_targets/`.
const TARGETS: &[&str] = &["decoder", "params"];

/// Parses the arguments and runs.
pub fn run(args: &[String]) -> Result<()> {
    let mut targets: Vec<&str> = Vec::new();
    let mut seconds = 600u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .context("--seconds needs a number")?;
            }
            t => match TARGETS.iter().find(|x| **x == t) {
                Some(known) => targets.push(known),
                None => bail!("usage: cargo xtask fuzz [decoder|params] [--seconds N] (got {t:?})"),
            },
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    let ws = Workspace::locate()?;
    ensure_cargo_fuzz()?;
    let dir = ws.root.join("fuzz");
    // Build first (one at a time: the builds share a target directory).
    for t in &targets {
        util::run(fuzz_cmd(&dir).args(["build", "-O", t]))?;
    }
    // Then fuzz all targets at once.
    let children: Vec<(&str, std::process::Child)> = targets
        .iter()
        .map(|t| {
            let child = fuzz_cmd(&dir)
                .args(["run", "-O", t, "--"])
                .arg(format!("-max_total_time={seconds}"))
                .arg("-print_final_stats=1")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("starting the {t} fuzzer"))?;
            println!("fuzzing {t} for {seconds} s");
            Ok((*t, child))
        })
        .collect::<Result<_>>()?;
    let out_path = ws.target.join("bench").join("fuzz.json");
    let mut report: Value = std::fs::read(&out_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let mut failed = Vec::new();
    for (t, child) in children {
        let out = child.wait_with_output()?;
        let log = String::from_utf8_lossy(&out.stderr);
        let stats = parse_stats(&log);
        let crashed = !out.status.success();
        if crashed {
            eprintln!("{}", tail(&log, 60));
            failed.push(t);
        }
        let corpus_before = count_files(&dir.join("corpus").join(t));
        if !crashed {
            util::run(fuzz_cmd(&dir).args(["cmin", "-O", t]))?;
        }
        let corpus_after = count_files(&dir.join("corpus").join(t));
        let entry = json!({
            "seconds": seconds,
            "runs": stats.runs,
            "execs_per_sec": stats.runs.map(|r| r / seconds.max(1)),
            "coverage_edges": stats.cov,
            "features": stats.ft,
            "crashes": u8::from(crashed),
            "corpus_files_before_cmin": corpus_before,
            "corpus_files": corpus_after,
            "peak_rss_mb": stats.rss_mb,
            "command": format!("cargo xtask fuzz {t} --seconds {seconds}"),
        });
        println!("{t}: {entry}");
        report[t] = entry;
    }
    std::fs::create_dir_all(out_path.parent().context("no parent")?)?;
    util::write_atomic(&out_path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!("wrote {}", out_path.display());
    if !failed.is_empty() {
        bail!("fuzz target(s) {failed:?} crashed; the input is under fuzz/artifacts/");
    }
    Ok(())
}

fn fuzz_cmd(dir: &Path) -> Command {
    let mut cmd = util::cargo_cmd(dir);
    cmd.arg("fuzz").env("RUSTC_BOOTSTRAP", "1");
    cmd
}

fn ensure_cargo_fuzz() -> Result<()> {
    let have = util::capture(Command::new(util::cargo()).args(["fuzz", "--version"]));
    if have.is_some_and(|v| v.contains(CARGO_FUZZ_VERSION)) {
        return Ok(());
    }
    println!("installing cargo-fuzz {CARGO_FUZZ_VERSION}");
    util::run(Command::new(util::cargo()).args([
        "install",
        "cargo-fuzz",
        "--locked",
        "--version",
        CARGO_FUZZ_VERSION,
    ]))
}

#[derive(Default)]
struct Stats {
    runs: Option<u64>,
    cov: Option<u64>,
    ft: Option<u64>,
    rss_mb: Option<u64>,
}

/// Reads libFuzzer's status lines (`#123 DONE cov: 45 ft: 67 corp: … rss: 89Mb`)
/// and final stats (`stat::number_of_executed_units: 123`).
fn parse_stats(log: &str) -> Stats {
    let mut s = Stats::default();
    let num = |line: &str, key: &str| -> Option<u64> {
        let rest = line.split(key).nth(1)?;
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    for line in log.lines() {
        if let Some(n) = num(line, "stat::number_of_executed_units:") {
            s.runs = Some(n);
        }
        if let Some(n) = num(line, "stat::peak_rss_mb:") {
            s.rss_mb = Some(n);
        }
        if line.starts_with('#') {
            if let Some(n) = num(line, "cov:") {
                s.cov = Some(n);
            }
            if let Some(n) = num(line, "ft:") {
                s.ft = Some(n);
            }
        }
    }
    s
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.filter_map(Result::ok).count())
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
