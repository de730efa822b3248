//! `cargo xtask`: the project's build automation, in Rust instead of shell so it
//! runs the same on a developer box and on CI.
//!
//! Every command is idempotent and can be run on its own; `demo` and `test` chain
//! the steps they need (setup → plugin → clips → …).

mod bench;
mod bench_browser;
mod bench_hard;
mod bench_plugin;
mod clips;
mod demo;
mod dist;
mod fuzz;
mod loadgen;
mod plugin;
mod replay;
mod setup;
mod test;
mod util;
mod vendor;
mod web_deps;

use anyhow::{bail, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  setup [--demo]   install missing prerequisites (wasm target, chromium, chromedriver,
                   ffmpeg, binaryen, terser); --demo: only what `demo` needs
  plugin           build the wasm plugin into target/plugin-pkg (+ target/bench/plugin_size.json)
  clips            generate the test media into target/media
  demo [ARGS..]    setup, plugin, clips, then run the collector serving the demo page;
                   ARGS are passed to the collector (e.g. --listen 0.0.0.0:8080)
  test             setup, plugin, clips, then fmt, clippy, native and end-to-end tests
  dist             release collector binary + plugin package into dist/
  bench collector  load a release collector over loopback → target/bench/collector.json
  bench engine     engine cost per input, release build → target/bench/engine.json
  bench browser    plugin cost per `timeupdate` in headless Chromium (60 s throttled
                   playback) → target/bench/browser.json
  bench plugin     vidpulse vs mux-embed 5.19.0 on one page: script weight, bytes and
                   requests per minute of steady playback → target/bench/plugin.json
  vendor [--refresh]  check the vendored uPlot against its pinned npm package
                   (--refresh: copy it from the package)
  fuzz [decoder|params] [--seconds N]
                   run the cargo-fuzz targets (default both at once, 600 s),
                   minimise fuzz/corpus/ → target/bench/fuzz.json
  bench crash      20 SIGKILLs of a release collector under load; acked beacons and
                   rollups checked after each → target/bench/crash.json
  bench soak [--minutes N]
                   max ingest rate, then N (10) minutes at half of it: RSS and
                   p99 per minute → target/bench/soak.json
  replay FILE      replay a recorded plugin trace (debug option) natively; prints
                   the beacons it produces, one JSON object per line
";

fn main() {
    if let Err(err) = real_main() {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next();
    let rest: Vec<String> = args.collect();
    match cmd.as_deref() {
        Some("setup") => {
            let level = match rest.as_slice() {
                [] => setup::Level::All,
                [flag] if flag == "--demo" => setup::Level::Demo,
                _ => bail!("unexpected arguments to setup: {rest:?}\n\n{USAGE}"),
            };
            setup::run(&util::Workspace::locate()?, level).map(drop)
        }
        Some("plugin") => {
            no_args("plugin", &rest)?;
            let ws = util::Workspace::locate()?;
            setup::run(&ws, setup::Level::Plugin)?;
            plugin::build(&ws).map(drop)
        }
        Some("clips") => {
            no_args("clips", &rest)?;
            let ws = util::Workspace::locate()?;
            setup::run(&ws, setup::Level::Clips)?;
            clips::generate(&ws)
        }
        Some("demo") => demo::run(&rest),
        Some("test") => {
            no_args("test", &rest)?;
            test::run()
        }
        Some("dist") => {
            no_args("dist", &rest)?;
            dist::run()
        }
        Some("vendor") => match rest.as_slice() {
            [] => vendor::run(&util::Workspace::locate()?, false),
            [flag] if flag == "--refresh" => vendor::run(&util::Workspace::locate()?, true),
            _ => bail!("usage: cargo xtask vendor [--refresh]\n\n{USAGE}"),
        },
        Some("fuzz") => fuzz::run(&rest),
        Some("replay") => match rest.as_slice() {
            [file] => replay::run(std::path::Path::new(file)),
            _ => bail!("usage: cargo xtask replay FILE\n\n{USAGE}"),
        },
        Some("bench") => match rest.as_slice() {
            [what] if what == "collector" => bench::run(&util::Workspace::locate()?),
            [what] if what == "engine" => {
                let ws = util::Workspace::locate()?;
                util::run(
                    std::process::Command::new("cargo")
                        .current_dir(&ws.root)
                        .args(["bench", "-p", "vidpulse-plugin", "--bench", "engine"]),
                )
            }
            [what] if what == "browser" => bench_browser::run(&util::Workspace::locate()?),
            [what] if what == "plugin" => bench_plugin::run(&util::Workspace::locate()?),
            [what] if what == "crash" => bench_hard::crash(&util::Workspace::locate()?),
            [what, args @ ..] if what == "soak" => {
                bench_hard::soak(&util::Workspace::locate()?, args)
            }
            _ => bail!(
                "usage: cargo xtask bench collector|engine|browser|plugin|crash|soak\n\n{USAGE}"
            ),
        },
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
        None => bail!("missing command\n\n{USAGE}"),
    }
}

fn no_args(cmd: &str, rest: &[String]) -> Result<()> {
    if rest.is_empty() {
        Ok(())
    } else {
        bail!("`{cmd}` takes no arguments, got {rest:?}\n\n{USAGE}")
    }
}
