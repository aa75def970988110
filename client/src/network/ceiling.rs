//! The relay's ceiling: how fast the shaper itself can move bytes, with no link to imitate.
//!
//! The shaper is a user-space hop: every byte is read by the relay's thread, stamped, handed to
//! a writer and written again, and every chunk waits for the precise timer. If that hop could
//! carry less than the link it imitates, a "50 Mbit/s" run would really measure the relay, and
//! the lab would blame the transports for its own bottleneck. So the lab measures the relay's
//! ceiling and shows it beside the fastest profile's rate (`broadband`, 50 Mbit/s): the
//! ceiling should be far above it.
//!
//! **How.** A sink (a listener on 127.0.0.1 that reads and discards), a [`Shaper`] in front of it
//! over a link with no delay, no jitter and no rate limit, and one connection through it that
//! writes 64 KiB buffers as fast as it can for a window. The answer is the bytes the *sink*
//! received, divided by the time from its first byte to the window's end: bytes still in the
//! writer's socket buffers or the relay's queue have not crossed, so they do not count.
//!
//! The same measurement over a rate-limited link ([`throughput_through`]) must find that rate,
//! which is how the tests check the method. One connection on a busy two-core machine is a
//! lower bound of what the relay can do (the writer, the sink and the relay share the cores);
//! a production lab would also measure many connections at once.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::{Link, Shaper};

/// Bytes per write: big enough that the writer's system calls are not what is measured.
pub const WRITE_BYTES: usize = 64 * 1024;

/// The relay's own throughput, bytes per second: one connection through a shaper with no
/// delay, jitter or rate limit, written to as fast as possible for `window`.
pub async fn relay_ceiling(window: Duration) -> io::Result<f64> {
    let unlimited = Link {
        rtt: Duration::ZERO,
        jitter: Duration::ZERO,
        bandwidth_bps: None,
    };
    throughput_through(unlimited, window).await
}

/// What crosses a shaper over `link` when one connection writes as fast as it can for
/// `window`: bytes received by the sink behind it, per second, from the first byte it received
/// to the end of the writing.
pub async fn throughput_through(link: Link, window: Duration) -> io::Result<f64> {
    let sink = Sink::start().await?;
    // Starting a shaper binds a socket and spawns its threads: quick, but not async.
    let shaper = tokio::task::spawn_blocking(move || Shaper::start(sink.addr, link, 0, 1))
        .await
        .map_err(io::Error::other)??;
    let measured = write_for(shaper.addr(), shaper.handshake(), window, &sink).await;
    // Stopping it joins its threads: off the runtime too.
    let _ = tokio::task::spawn_blocking(move || drop(shaper)).await;
    sink.task.abort();
    measured
}

/// Connects through the shaper at `addr`, writes for `window`, and reads the sink's rate.
async fn write_for(
    addr: SocketAddr,
    handshake: Duration,
    window: Duration,
    sink: &Sink,
) -> io::Result<f64> {
    let mut stream = TcpStream::connect(addr).await?;
    tokio::time::sleep(handshake).await;
    let end = Instant::now() + window;
    let buf = vec![0x5a_u8; WRITE_BYTES];
    // A write blocked by back-pressure at the window's end is simply abandoned.
    while let Ok(written) = tokio::time::timeout_at(end, stream.write_all(&buf)).await {
        written?;
    }
    // Read the count and the clock together: the timer that ended the window may have woken
    // late, and the bytes that crossed meanwhile belong to the span up to now.
    let (now, received) = (Instant::now(), sink.bytes.load(Ordering::Relaxed));
    let Some(&first) = sink.first.get() else {
        return Err(io::Error::other("no byte crossed the shaper"));
    };
    let span = now.saturating_duration_since(first).as_secs_f64();
    if span <= 0.0 {
        return Err(io::Error::other("the first byte crossed after the window"));
    }
    Ok(received as f64 / span)
}

/// A listener that reads and discards, counting the bytes and noting when the first came.
struct Sink {
    addr: SocketAddr,
    bytes: Arc<AtomicU64>,
    first: Arc<OnceLock<Instant>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let bytes = Arc::new(AtomicU64::new(0));
        let first = Arc::new(OnceLock::new());
        let (count, note) = (bytes.clone(), first.clone());
        let task = tokio::spawn(async move {
            // One connection: the shaper's dial.
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; WRITE_BYTES];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    return;
                }
                let _ = note.set(Instant::now());
                count.fetch_add(n as u64, Ordering::Relaxed);
            }
        });
        Ok(Self {
            addr,
            bytes,
            first,
            task,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_ceiling_is_a_finite_positive_rate() {
        let bps = relay_ceiling(Duration::from_millis(300)).await.unwrap();
        assert!(bps.is_finite() && bps > 0.0, "{bps}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_method_finds_a_2_mbit_link_within_a_quarter() {
        let link = Link::millis(0, 0, Some(2_000_000));
        let bits = 8.0
            * throughput_through(link, Duration::from_secs(1))
                .await
                .unwrap();
        assert!(
            (1_500_000.0..=2_500_000.0).contains(&bits),
            "{bits} bit/s through a 2 Mbit/s link"
        );
    }
}
