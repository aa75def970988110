//! The recording tap: a socket wrapper that keeps a copy of every byte read and written.
//!
//! Libraries hide the wire on purpose: tokio-tungstenite hands out messages, hyper hands out
//! decoded bodies. To show what *actually* crossed, the tracer slips a [`Tap`] between the library
//! and the `TcpStream`. The library still does all the protocol work (so the trace shows a real
//! client's bytes, not what the tracer thinks a client sends); the tap only copies each buffer that
//! `poll_read` filled or `poll_write` accepted into a shared [`Recording`], with its direction and
//! the time since the connection opened.
//!
//! The same idea, without the copies, is the byte counter of the load generator, and it is the
//! same code: [`Tap`] is the counter's [`IoTap`] with a [`Recording`] as its observer (the
//! counter's observer adds the lengths up; this one keeps the bytes). A production tracer would rather use a packet capture
//! (`tcpdump -i lo -w`), which also sees TCP/IP headers and retransmissions; this one sees the
//! application bytes, which is what the transports differ in.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::wire_counter::{IoTap, Observe};

/// Which way bytes went, seen from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server (written by the client).
    Sent,
    /// Server → client (read by the client).
    Received,
}

/// One buffer that crossed the socket in one read or write call.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Which way it went.
    pub direction: Direction,
    /// Time since the recording started.
    pub at: Duration,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// The shared, append-only log of a connection's bytes. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct Recording {
    start: Instant,
    chunks: Arc<Mutex<Vec<Chunk>>>,
}

impl Default for Recording {
    fn default() -> Self {
        Self::new()
    }
}

impl Recording {
    /// An empty recording whose clock starts now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            chunks: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Chunk>> {
        // A panic while holding this lock cannot leave the Vec half-written; keep going.
        self.chunks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one buffer.
    pub fn push(&self, direction: Direction, bytes: &[u8]) {
        let at = self.start.elapsed();
        self.lock().push(Chunk {
            direction,
            at,
            bytes: bytes.to_vec(),
        });
    }

    /// A copy of every chunk so far, in order.
    pub fn chunks(&self) -> Vec<Chunk> {
        self.lock().clone()
    }

    /// Every byte that went one way, concatenated: the byte stream as the peer saw it.
    pub fn stream(&self, direction: Direction) -> Vec<u8> {
        self.lock()
            .iter()
            .filter(|c| c.direction == direction)
            .flat_map(|c| c.bytes.iter().copied())
            .collect()
    }

    /// When the byte at `offset` of the `direction` stream crossed (the time of the read or write
    /// that carried it); `None` past the end.
    pub fn time_of(&self, direction: Direction, offset: usize) -> Option<Duration> {
        let mut pos = 0;
        for c in self.lock().iter().filter(|c| c.direction == direction) {
            if offset < pos + c.bytes.len() {
                return Some(c.at);
            }
            pos += c.bytes.len();
        }
        None
    }
}

impl Observe for Recording {
    // One chunk per write call, as the peer's reads are shown.
    const VECTORED: bool = false;

    fn on_read(&mut self, bytes: &[u8]) {
        self.push(Direction::Received, bytes);
    }

    fn on_write(&mut self, bytes: &[u8]) {
        self.push(Direction::Sent, bytes);
    }
}

/// A socket wrapper that records every byte into a [`Recording`] and otherwise changes nothing:
/// the load generator's [`IoTap`] with a recording for its observer.
pub type Tap<S> = IoTap<S, Recording>;

impl Recording {
    /// Wraps `inner` in a [`Tap`] whose bytes go to this recording (a clone shares the buffer).
    pub fn tap<S>(&self, inner: S) -> Tap<S> {
        IoTap::with_observer(inner, self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tap_records_both_directions_in_order() {
        let (client, mut server) = tokio::io::duplex(64);
        let rec = Recording::new();
        let mut tap = rec.tap(client);
        tap.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        server.read_exact(&mut got).await.unwrap();
        server.write_all(b"pong!").await.unwrap();
        let mut back = [0u8; 5];
        tap.read_exact(&mut back).await.unwrap();

        assert_eq!(rec.stream(Direction::Sent), b"ping");
        assert_eq!(rec.stream(Direction::Received), b"pong!");
        let chunks = rec.chunks();
        assert_eq!(chunks[0].direction, Direction::Sent);
        assert!(rec.time_of(Direction::Received, 4).is_some());
        assert!(rec.time_of(Direction::Received, 5).is_none());
    }
}
