//! The shaper: a TCP relay that makes loopback behave like a long, narrow link.
//!
//! The client connects to the relay's listener on 127.0.0.1; for each connection the relay dials
//! the real server and pumps bytes both ways. TCP is a byte stream, so the relay keeps its
//! semantics: bytes arrive complete and in order, each direction on its own, and a close (FIN)
//! follows the last byte. What it adds is time, chunk by chunk, as a link would:
//!
//! - **delay + jitter, never reordered**: a chunk read at `arrival` is released at
//!   `max(sent + RTT/2 + jitter_sample, previous release)`, where `sent` is when its last bit is
//!   on the wire (below). The clamp to the previous release is what a byte stream needs: a
//!   late chunk holds back the ones behind it, as TCP's in-order delivery does.
//! - **bandwidth** (serialization delay): a token bucket per direction, filled at the link rate,
//!   one segment deep ([`SEGMENT_BYTES`](super::pacer::SEGMENT_BYTES)); a chunk is cut into segments and each waits for its
//!   tokens, so a 64 KiB event at 1 Mbit/s takes half a second to cross.
//! - **back-pressure**: each direction holds at most its buffer (the bytes in flight at the link
//!   rate plus [`QUEUE_BYTES`](super::pacer::QUEUE_BYTES) of queue); when it is full the relay stops reading from the
//!   sender, whose kernel buffers fill and whose writes then wait, as on a real link.
//! - **the handshake**: through a relay on loopback `connect()` returns at once, where a real
//!   one returns after the SYN/SYN-ACK round trip. So the client's bytes may not leave before
//!   one RTT after the connection was accepted, and the server's not before 1.5 RTT (when its
//!   side of the handshake completes); [`Shaper::handshake`] tells the client's dial how long
//!   to wait, so that its connect time is a round trip too.
//!
//! **Why its own thread.** The relay runs on a dedicated OS thread with a current-thread tokio
//! runtime: its releases happen on time however busy the measured client's runtime is, and
//! the client's tasks do not queue behind the relay's. The release times themselves come from
//! a second thread, a precise timer (`timer.rs`), because tokio's millisecond timer wheel
//! would add 1–3 ms to every transit. It is still a user-space hop (a few tens of
//! µs per chunk on loopback); calibration (`calibrate.rs`) measures what it adds.
//!
//! What this does not model: loss and retransmission, TCP's slow start and congestion window
//! (the link is as fast as its rate from the first byte), and reordering. Linux `netem` on a
//! real interface would do those; this machine's kernel has no netem (issue 11).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::pacer::{Pacer, READ_BYTES};
use super::profile::Link;
use super::timer::PreciseTimer;

/// A running shaper: a listener (on 127.0.0.1 for the client's runs, or any address for
/// `rtlab shape`) whose connections are relayed, shaped, to one upstream address. Stops (and
/// closes its connections) when dropped.
#[derive(Debug)]
pub struct Shaper {
    addr: SocketAddr,
    link: Link,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    timer: PreciseTimer,
    timer_thread: Option<std::thread::JoinHandle<()>>,
}

impl Shaper {
    /// Starts a shaper on 127.0.0.1 and a free port, on its own thread, relaying to `upstream`
    /// over `link`: [`bind`](Self::bind) for a client's run, which dials [`addr`](Self::addr).
    pub fn start(
        upstream: SocketAddr,
        link: Link,
        seed: u64,
        connections: u64,
    ) -> io::Result<Self> {
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self::bind(any_port, upstream, link, seed, connections)
    }

    /// Starts a shaper listening on `listen` (port 0: a free one, see [`addr`](Self::addr)), on
    /// its own thread, relaying to `upstream` over `link`. `connections` is how many
    /// connections the run may open (beyond 20 000 the relay's own dials spread over loopback
    /// source addresses, see `source_addr`); `seed` seeds each connection's jitter.
    ///
    /// The bind happens here, on the caller's thread, so that an address in use is this
    /// call's error rather than a log line from the relay's thread.
    pub fn bind(
        listen: SocketAddr,
        upstream: SocketAddr,
        link: Link,
        seed: u64,
        connections: u64,
    ) -> io::Result<Self> {
        let std_listener = std::net::TcpListener::bind(listen)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (timer, timer_thread) = PreciseTimer::start(format!("shaper-timer-{}", addr.port()))?;
        let relay_timer = timer.clone();
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("shaper-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "the shaper cannot listen");
                            return;
                        }
                    };
                    tokio::select! {
                        () = accept_loop(listener, upstream, link, seed, connections, relay_timer) => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here ends every relay task and closes their sockets.
            })?;
        Ok(Self {
            addr,
            link,
            stop: Some(stop),
            thread: Some(thread),
            timer,
            timer_thread: Some(timer_thread),
        })
    }

    /// Where clients connect instead of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The link it imitates.
    pub fn link(&self) -> Link {
        self.link
    }

    /// How long a client's dial should wait after `connect()` returns, to take the TCP
    /// handshake's round trip the relay's loopback listener skipped.
    pub fn handshake(&self) -> Duration {
        self.link.rtt
    }
}

impl Drop for Shaper {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.timer.stop();
        if let Some(thread) = self.timer_thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    link: Link,
    seed: u64,
    total: u64,
    timer: PreciseTimer,
) {
    let index = Arc::new(AtomicU64::new(0));
    let mut seeds = StdRng::seed_from_u64(seed);
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(e) => {
                // Out of file descriptors, say: the client's connect fails or times out and is
                // counted there; keep serving the others.
                tracing::warn!(error = %e, "shaper accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let accepted = Instant::now();
        let i = index.fetch_add(1, Ordering::Relaxed);
        let conn = Conn {
            upstream,
            link,
            // Each connection's own seed, drawn in accept order from the run's: neighbouring
            // connections do not draw related jitter, and a run with the same seed repeats.
            seed: seeds.random(),
            accepted,
            index: i,
            total,
        };
        tokio::spawn(relay(client, conn, timer.clone()));
    }
}

/// One connection: dial upstream, then pump both ways until both directions are closed.
/// What one relayed connection needs to know.
struct Conn {
    upstream: SocketAddr,
    link: Link,
    seed: u64,
    accepted: Instant,
    index: u64,
    total: u64,
}

async fn relay(client: TcpStream, conn: Conn, timer: PreciseTimer) {
    let Conn {
        upstream,
        link,
        seed,
        accepted,
        index,
        total,
    } = conn;
    let server = match crate::source_addr::connect(upstream, index, total, None).await {
        Ok(s) => s,
        // Closing the client's side tells it, as a refused connect would have.
        Err(e) => {
            tracing::debug!(error = %e, "shaper: upstream connect failed");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let mut directions = StdRng::seed_from_u64(seed);
    let up = Pacer::new(link, accepted + link.rtt, directions.random());
    let down = Pacer::new(
        link,
        accepted + link.rtt + link.one_way(),
        directions.random(),
    );
    let buffer = Pacer::buffer_bytes(link);
    tokio::join!(
        pump(client_read, server_write, up, buffer, timer.clone()),
        pump(server_read, client_write, down, buffer, timer),
    );
}

/// One direction: a reader that stamps chunks with their release time, and a writer that
/// releases them in order. The semaphore holds the direction's buffer, one permit per byte.
async fn pump(
    src: OwnedReadHalf,
    mut dst: OwnedWriteHalf,
    mut pacer: Pacer,
    buffer: usize,
    timer: PreciseTimer,
) {
    let budget = Arc::new(Semaphore::new(buffer));
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Bytes, OwnedSemaphorePermit)>();
    let reader = async move {
        loop {
            let Ok(mut permit) = budget.clone().acquire_many_owned(READ_BYTES as u32).await else {
                return;
            };
            // Wait for data before allocating, so idle connections hold no buffer.
            if src.readable().await.is_err() {
                return;
            }
            let mut buf = BytesMut::with_capacity(READ_BYTES);
            let n = match src.try_read_buf(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                // A spurious wake-up: wait again (the permit returns meanwhile).
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            };
            let arrival = Instant::now();
            let mut rest = buf.split_to(n);
            while !rest.is_empty() {
                let piece = rest.split_to(pacer.segment().min(rest.len()));
                let Some(p) = permit.split(piece.len()) else {
                    return;
                };
                let at = pacer.release(arrival, piece.len());
                if tx.send((at, piece.freeze(), p)).is_err() {
                    return;
                }
            }
            // The unused part of `permit` returns to the budget here.
        }
        // Dropping `tx` lets the writer finish: the FIN follows the last byte.
    };
    let writer = async move {
        while let Some((at, piece, permit)) = rx.recv().await {
            timer.sleep_until(at).await;
            if dst.write_all(&piece).await.is_err() {
                // The receiver is gone: dropping `rx` (and its permits) ends the reader.
                return;
            }
            drop(permit);
        }
        let _ = dst.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn link(rtt_ms: u64, jitter_ms: u64, bps: Option<u64>) -> Link {
        Link::millis(rtt_ms, jitter_ms, bps)
    }

    /// An echo server on port 0.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn the_relay_adds_the_rtt_and_keeps_the_stream_intact() {
        let shaper = Shaper::start(echo().await, link(40, 0, None), 1, 1).unwrap();
        let mut s = TcpStream::connect(shaper.addr()).await.unwrap();
        s.set_nodelay(true).unwrap();
        tokio::time::sleep(shaper.handshake()).await;
        // One small round trip: 40 ms, the link's delay once each way and not twice (80 ms).
        // The upper bound leaves half a round trip for a machine busy with other tests; a
        // tighter one (42 ms) failed under CI load at 42.9 ms.
        let t = Instant::now();
        s.write_all(b"ping").await.unwrap();
        let mut four = [0; 4];
        s.read_exact(&mut four).await.unwrap();
        let rtt = t.elapsed();
        assert_eq!(&four, b"ping");
        assert!(rtt >= Duration::from_millis(40), "{rtt:?}");
        assert!(rtt < Duration::from_millis(60), "{rtt:?}");
        // 2 MB of patterned bytes there and back: every byte, in order.
        let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
        let (mut r, mut w) = s.into_split();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            w.write_all(&sent).await.unwrap();
            w.shutdown().await.unwrap();
        });
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        assert!(back == data, "{} bytes back of {}", back.len(), data.len());
    }

    #[tokio::test]
    async fn bind_listens_where_it_is_told_and_says_when_it_cannot() {
        let l = link(20, 0, None);
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let first = Shaper::bind(any, echo().await, l, 1, 1).unwrap();
        let at = first.addr();
        assert!(at.ip().is_loopback() && at.port() != 0, "{at}");
        // The address is taken: the caller hears so at once, not from the relay's thread.
        let taken = Shaper::bind(at, echo().await, l, 1, 1).unwrap_err();
        assert_eq!(taken.kind(), io::ErrorKind::AddrInUse);
        // And what listens there relays.
        let mut s = TcpStream::connect(at).await.unwrap();
        s.write_all(b"hi").await.unwrap();
        let mut two = [0; 2];
        s.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"hi");
    }

    #[tokio::test]
    async fn a_full_buffer_stops_the_sender() {
        // A server that accepts and never reads: the relay's buffer, then the kernel's, fill.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = listener.local_addr().unwrap();
        let held = tokio::spawn(async move { listener.accept().await.map(|(s, _)| s) });
        let l = link(2, 0, Some(100_000_000));
        let shaper = Shaper::start(upstream, l, 1, 1).unwrap();
        let mut s = TcpStream::connect(shaper.addr()).await.unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0usize;
        loop {
            match tokio::time::timeout(Duration::from_millis(500), s.write_all(&chunk)).await {
                Ok(r) => {
                    r.unwrap();
                    written += chunk.len();
                }
                Err(_) => break,
            }
            assert!(written < 256 * 1024 * 1024, "the sender was never stopped");
        }
        // Bounded: the relay's buffer plus a few socket buffers, not everything written.
        assert!(written >= Pacer::buffer_bytes(l), "{written}");
        drop(held);
    }
}
