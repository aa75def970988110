//! The hostile connections themselves, in a process of their own (`rtlab hostile-clients`, a
//! hidden subcommand the [`hostile`](super::hostile) case starts).
//!
//! Two classics: a *slow-headers* client (Slowloris) that sends its request head one byte a
//! second, never finishing it, and a crowd of TCP connections that never send a byte. Each one
//! waits in a read until the server drops it (end of file or an error), and that moment is
//! what is timed.
//!
//! **Why a process of its own.** In a real attack the hostile sockets are on other machines. If
//! the process that measures the healthy subscribers also held them, their wake-ups (5 000 reads
//! returning at once when the server's timeout fires) would run on the same runtime as the
//! measuring client and show up in its latencies: a cost of the lab, blamed on the server. Here
//! they cost the measuring process nothing; this process reports its own CPU time, so the report
//! can show what it took from the shared machine.
//!
//! The conversation with the case is two JSON lines on stdout: [`Opened`] once every connection
//! is open (the case waits for it before the healthy subscribers connect), then [`Seen`] when
//! every one was dropped or the time given is up.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::proc_sampler::read_sample;

/// The hidden subcommand's name.
pub const SUBCOMMAND: &str = "hostile-clients";
/// Connections opened at once. 5 000 SYNs in one burst overflow the server's accept queue
/// (its listen backlog, 2 048 for actix and at most `net.core.somaxconn`): the kernel then
/// completes the handshake with a SYN cookie or drops the final ACK, the client believes it is
/// connected, and the server never sees the connection, so it can neither hold nor drop it
/// (a first run counted 3 110 of 10 000 such, and `nstat`'s `TcpExtListenOverflows` grew by as
/// many). In batches well under the backlog every one reaches the server.
const OPEN_BATCH: u64 = 256;
/// What the slow-headers client sends, one byte a second: a request head it never finishes.
const SLOW_HEAD: &[u8] = b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The first line: how many idle connections opened (of those asked), the slow-headers client
/// included in neither.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    /// Idle connections open.
    pub idle: u64,
    /// Whether the slow-headers client connected.
    pub slow_headers: bool,
}

/// The second line: what the hostile connections saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    /// Each opened idle connection's drop, seconds after it opened (`None`: still open at the
    /// end).
    pub idle_drops: Vec<Option<f64>>,
    /// When the server dropped the slow-headers client, seconds after it connected.
    pub slow_headers_dropped_after_s: Option<f64>,
    /// Bytes of its head it had sent by then.
    pub slow_headers_bytes_sent: u64,
    /// This process's CPU time, user and system, seconds.
    pub cpu_s: Option<f64>,
}

/// Opens `idle` idle connections and a slow-headers client to `http`, says so on stdout, waits
/// until the server has dropped them all or `within` has passed, and says what it saw.
pub async fn serve(http: SocketAddr, idle: u64, within: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + within;
    let mut sockets = Vec::new();
    for batch_start in (0..idle).step_by(OPEN_BATCH as usize) {
        let mut opening = JoinSet::new();
        for _ in batch_start..idle.min(batch_start + OPEN_BATCH) {
            opening.spawn(async move {
                let s = TcpStream::connect(http).await?;
                Ok::<_, std::io::Error>((s, Instant::now()))
            });
        }
        while let Some(joined) = opening.join_next().await {
            if let Ok(Ok(opened)) = joined {
                sockets.push(opened);
            }
        }
        // A moment for the server's accept loop to take the batch off the queue.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let slow = TcpStream::connect(http).await.ok();
    let opened = Opened {
        idle: sockets.len() as u64,
        slow_headers: slow.is_some(),
    };
    let mut waiting = JoinSet::new();
    for (s, opened) in sockets {
        waiting.spawn(idle_connection(s, opened, deadline));
    }
    let slow = slow.map(|s| tokio::spawn(slow_headers(s, deadline)));
    say(&opened).await?;

    let mut seen = Seen::default();
    while let Some(joined) = waiting.join_next().await {
        seen.idle_drops.push(joined.unwrap_or(None));
    }
    if let Some(task) = slow {
        (
            seen.slow_headers_dropped_after_s,
            seen.slow_headers_bytes_sent,
        ) = task.await.unwrap_or((None, 0));
    }
    seen.cpu_s = read_sample(std::process::id()).ok().map(|s| s.cpu_s);
    say(&seen).await
}

/// One JSON line on stdout.
async fn say<T: Serialize>(value: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut out = tokio::io::stdout();
    out.write_all(&line).await?;
    out.flush().await
}

/// A connection, open since `opened`, that never sends a byte: when the server dropped it
/// (seconds after `opened`), `None` if still open at `deadline`.
async fn idle_connection(mut s: TcpStream, opened: Instant, deadline: Instant) -> Option<f64> {
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(opened.elapsed().as_secs_f64()),
            // Whatever the server says (a 408), the drop is what is timed.
            Ok(Ok(_)) => {}
        }
    }
}

/// The slow-headers client: one byte of an endless request head a second, until the server
/// drops it or `deadline`. When it was dropped (seconds after connecting), and bytes sent.
async fn slow_headers(s: TcpStream, deadline: Instant) -> (Option<f64>, u64) {
    let opened = Instant::now();
    let (mut rd, mut wr) = s.into_split();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline.into()) => return (None, sent),
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => return (Some(opened.elapsed().as_secs_f64()), sent),
                Ok(_) => {}
            },
            _ = tick.tick() => {
                let byte = SLOW_HEAD[(sent as usize) % SLOW_HEAD.len()];
                if wr.write_all(&[byte]).await.is_err() {
                    return (Some(opened.elapsed().as_secs_f64()), sent);
                }
                sent += 1;
            }
        }
    }
}
