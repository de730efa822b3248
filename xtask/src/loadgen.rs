//! The load generator and process guard shared by the collector benchmarks
//! (`bench.rs`, `bench_hard.rs`): a blocking HTTP/1.1 keep-alive client (one
//! thread per connection, nothing between the bench and the socket), the release
//! collector started on a free loopback port and stopped cleanly on drop, and the
//! percentile rule every bench reports with.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// One keep-alive connection to the collector.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            reader: BufReader::new(s),
        })
    }

    /// Sends one request, returns (status, body).
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = self.reader.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("bad status line")?;
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse()?;
                }
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok((status, body))
    }
}

impl Conn {
    /// `POST /v1/beacons` with `body`; the status.
    pub fn post(&mut self, body: &[u8]) -> Result<u16> {
        Ok(self.request("POST", "/v1/beacons", body)?.0)
    }
}

/// The `p`th percentile (nearest rank) of ascending `sorted`; NaN when empty.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank - 1]
}

/// Wall-clock Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A running collector process.
pub struct Collector(pub Child);

impl Drop for Collector {
    /// SIGTERM first, so the collector closes its file cleanly (a killed one
    /// leaves a file that redb must repair, reading all of it, on the next
    /// open); SIGKILL if it has not exited within 30 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..300 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the release collector on `data` on a free loopback port.
pub fn start_collector(bin: &Path, data: &Path) -> Result<(Collector, SocketAddr, f64)> {
    let started = Instant::now();
    let addr: SocketAddr = {
        let l = TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?
    };
    let child = Command::new(bin)
        .args(["--listen", &addr.to_string(), "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let collector = Collector(child);
    wait_ready(addr).with_context(|| format!("collector on {}", data.display()))?;
    Ok((collector, addr, started.elapsed().as_secs_f64()))
}

/// Waits up to 120 s: opening a file that was not closed cleanly means a repair
/// that reads all of it.
fn wait_ready(addr: SocketAddr) -> Result<()> {
    for _ in 0..2400 {
        if let Ok(mut c) = Conn::open(addr) {
            if matches!(c.request("GET", "/healthz", b""), Ok((200, _))) {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("collector did not come up on {addr}")
}
