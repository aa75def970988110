//! Memory per connection, measured as a slope: what one more idle subscriber costs the server.
//!
//! The obvious figure, (peak RSS − RSS before any client) ÷ clients, mixes in everything that grows
//! during a run and is not a connection: the history ring filling with events, allocator arenas
//! warming up, buffers sized by the load. This module measures the *marginal* cost instead:
//!
//! 1. a server publishing nothing (`--rate 0`) is given idle streaming connections in steps
//!    ([`STEPS`]: 1 000, 2 000, … 5 000), each opened the way a real subscriber opens it (the
//!    WebSocket upgrade, the SSE `GET`, a bare TCP connect);
//! 2. after each step, once the server's `/stats` counts every connection open and the RSS has
//!    settled, `VmRSS` is read from `/proc/PID/status`;
//! 3. a least-squares line through (connections, RSS) gives the slope, in bytes per connection,
//!    and its R², which says how straight the line was (near 1: the cost really is per connection).
//!
//! What the slope includes: everything the server keeps per connection in user space (the task,
//! the framework's per-connection state and buffers, the subscription), rounded to the pages the
//! allocator touched. What it does not: the kernel's socket buffers, which are not in RSS.
//! A production capacity plan would add those (`ss -m`) and measure under load as well.

use std::net::SocketAddr;
use std::time::Duration;

use rtlab_wire::{StatsSnapshot, Transport, paths};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::proc_sampler::{ProcError, read_sample};

/// Open connections after each step in the default suite (a suite's `clients` sets the top one;
/// the runner divides it into as many equal steps).
pub const STEPS: [u64; 5] = [1_000, 2_000, 3_000, 4_000, 5_000];

/// Connections opened at once while stepping up (bounded, so the accept queue never overflows).
const CONCURRENT_OPENS: usize = 100;

/// How long the server has to count a step's connections as open.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Pause after the count is reached, before reading RSS: lets lazily allocated state settle.
const SETTLE_PAUSE: Duration = Duration::from_millis(300);

/// The handshake request of a WebSocket subscriber (RFC 6455 §4.1; the key is the RFC's example).
const WS_REQUEST: &str = "GET /ws HTTP/1.1\r\nHost: rtlab\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// The request of an SSE subscriber.
const SSE_REQUEST: &str = "GET /sse HTTP/1.1\r\nHost: rtlab\r\nAccept: text/event-stream\r\n\r\n";

/// One reading: the server's RSS with this many idle connections open.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RssPoint {
    /// Idle connections of the transport open at the server.
    pub connections: u64,
    /// The server's resident set, in bytes.
    pub rss_bytes: u64,
}

/// The marginal memory of one idle connection, with the readings it was fitted to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionMemory {
    /// The readings, in the order taken.
    pub points: Vec<RssPoint>,
    /// The least-squares slope of RSS against connections: bytes per connection.
    pub bytes_per_connection: f64,
    /// The fit's coefficient of determination (1 = a perfectly straight line).
    pub r_squared: f64,
}

/// Why the measurement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// Only streaming transports hold a connection open while idle.
    #[error(
        "{0} is not a streaming transport; memory per idle connection is measured for ws, sse and tcp"
    )]
    NotStreaming(Transport),
    /// A connection could not be opened or its handshake failed.
    #[error("opening {transport} connection {n}: {reason}")]
    Open {
        /// The transport.
        transport: Transport,
        /// Which connection (1-based).
        n: u64,
        /// What went wrong.
        reason: String,
    },
    /// The server did not count the step's connections in time.
    #[error(
        "the server counted {seen} open {transport} connections, expected {expected}, after {SETTLE_TIMEOUT:?}"
    )]
    Settle {
        /// The transport.
        transport: Transport,
        /// What `/stats` said last.
        seen: u64,
        /// What was opened.
        expected: u64,
    },
    /// The whole measurement took longer than the case allows.
    #[error("the memory measurement did not finish within {0:?}")]
    Timeout(Duration),
    /// `/proc` could not be read (the server exited?).
    #[error(transparent)]
    Proc(#[from] ProcError),
}

/// Opens idle `transport` connections to the server (`pid`, listening on `http` and `tcp`) in
/// [`STEPS`], reads its RSS after each, and fits the slope. The connections close when it returns.
pub async fn measure(
    pid: u32,
    http: SocketAddr,
    tcp: SocketAddr,
    transport: Transport,
    steps: &[u64],
) -> Result<ConnectionMemory, MemoryError> {
    let (addr, request) = match transport {
        Transport::Ws => (http, Some(WS_REQUEST)),
        Transport::Sse => (http, Some(SSE_REQUEST)),
        Transport::Tcp => (tcp, None),
        Transport::LongPoll | Transport::ShortPoll => {
            return Err(MemoryError::NotStreaming(transport));
        }
    };
    let mut open: Vec<TcpStream> = Vec::new();
    let mut points = Vec::with_capacity(steps.len());
    for &target in steps {
        let mut opening = JoinSet::new();
        let mut next = open.len() as u64;
        while next < target || !opening.is_empty() {
            while next < target && opening.len() < CONCURRENT_OPENS {
                next += 1;
                let n = next;
                opening.spawn(async move {
                    open_one(addr, request)
                        .await
                        .map_err(|reason| MemoryError::Open {
                            transport,
                            n,
                            reason,
                        })
                });
            }
            if let Some(joined) = opening.join_next().await {
                let stream = joined.map_err(|e| MemoryError::Open {
                    transport,
                    n: next,
                    reason: e.to_string(),
                })??;
                open.push(stream);
            }
        }
        wait_until_open(http, transport, target).await?;
        tokio::time::sleep(SETTLE_PAUSE).await;
        let sample = tokio::task::spawn_blocking(move || read_sample(pid))
            .await
            .map_err(|e| ProcError::Read {
                path: format!("/proc/{pid}/status"),
                cause: std::io::Error::other(e),
            })??;
        points.push(RssPoint {
            connections: target,
            rss_bytes: sample.rss_bytes,
        });
    }
    let (bytes_per_connection, r_squared) = fit(&points);
    Ok(ConnectionMemory {
        points,
        bytes_per_connection,
        r_squared,
    })
}

/// Connects and, for HTTP transports, sends the request and reads the response head: the
/// connection is then a subscriber the server has registered.
async fn open_one(addr: SocketAddr, request: Option<&str>) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let Some(request) = request else {
        return Ok(stream);
    };
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    // Byte by byte up to the blank line: nothing after the head may be consumed (or lost), and
    // the head is small.
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8 * 1024 {
            return Err("response head over 8 KiB".into());
        }
        let n = stream.read(&mut byte).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed during the handshake".into());
        }
        head.push(byte[0]);
    }
    let status_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let status_line = String::from_utf8_lossy(status_line);
    let ok = status_line
        .split(' ')
        .nth(1)
        .is_some_and(|code| code == "101" || code == "200");
    if ok {
        Ok(stream)
    } else {
        Err(format!("server answered {status_line:?}"))
    }
}

/// Polls `/stats` until the server counts `expected` open connections of `transport`.
async fn wait_until_open(
    http: SocketAddr,
    transport: Transport,
    expected: u64,
) -> Result<(), MemoryError> {
    let url = format!("http://{http}{}", paths::STATS);
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    let mut seen = 0;
    while tokio::time::Instant::now() < deadline {
        if let Ok(response) = client.get(&url).send().await
            && let Ok(stats) = response.json::<StatsSnapshot>().await
        {
            seen = stats
                .transports
                .get(&transport)
                .map_or(0, |t| t.open_connections);
            if seen == expected {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(MemoryError::Settle {
        transport,
        seen,
        expected,
    })
}

/// The least-squares slope of RSS on connections, and R². Fewer than two distinct connection
/// counts give a slope of 0 and R² of 0: there is no line to fit.
pub fn fit(points: &[RssPoint]) -> (f64, f64) {
    let n = points.len() as f64;
    if points.len() < 2 {
        return (0.0, 0.0);
    }
    let mean_x = points.iter().map(|p| p.connections as f64).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.rss_bytes as f64).sum::<f64>() / n;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for p in points {
        let dx = p.connections as f64 - mean_x;
        let dy = p.rss_bytes as f64 - mean_y;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return (0.0, 0.0);
    }
    let slope = sxy / sxx;
    let r_squared = if syy == 0.0 {
        1.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    (slope, r_squared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[(u64, u64)]) -> Vec<RssPoint> {
        v.iter()
            .map(|&(connections, rss_bytes)| RssPoint {
                connections,
                rss_bytes,
            })
            .collect()
    }

    #[test]
    fn a_straight_line_gives_its_slope_and_r2_of_one() {
        // 10 MB of baseline (history ring, code) plus 6 KiB per connection.
        let p = pts(&[
            (1000, 10_000_000 + 6_144_000),
            (3000, 10_000_000 + 18_432_000),
        ]);
        let (slope, r2) = fit(&p);
        assert!((slope - 6144.0).abs() < 1e-6, "{slope}");
        assert!((r2 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_baseline_does_not_enter_the_slope() {
        // Peak-minus-baseline over clients would say 16 KiB here; the marginal cost is 4 KiB.
        let base = 12 * 1024 * 1024;
        let p = pts(&[
            (1000, base + 4_096_000),
            (2000, base + 8_192_000),
            (3000, base + 12_288_000),
        ]);
        let (slope, _) = fit(&p);
        assert!((slope - 4096.0).abs() < 1e-6, "{slope}");
    }

    #[test]
    fn noise_lowers_r2_and_degenerate_input_gives_zero() {
        let p = pts(&[(1000, 5_000_000), (2000, 20_000_000), (3000, 9_000_000)]);
        let (_, r2) = fit(&p);
        assert!(r2 < 0.5, "{r2}");
        assert_eq!(fit(&pts(&[(1000, 1)])), (0.0, 0.0));
        assert_eq!(fit(&pts(&[(1000, 1), (1000, 5)])), (0.0, 0.0));
    }
}
