//! Counting bytes at the socket.
//!
//! Every number this lab reports about cost on the wire comes from here. A WebSocket text frame
//! of 64 bytes costs 66 bytes downstream (a 2-byte header, RFC 6455 §5.2) but 70 upstream (clients
//! must mask, adding a 4-byte key); an SSE event pays `id:`/`data:` lines *and* the chunked
//! encoding of its HTTP/1.1 body; a poll pays two HTTP heads per answer. No library above the
//! socket reports these bytes: hyper strips chunk sizes and heads, tungstenite strips frame
//! headers. So the bytes are counted where nothing is hidden yet: a wrapper around the
//! `TcpStream` that implements `AsyncRead + AsyncWrite` and adds what each read and write
//! returned to a [`ByteTally`]. hyper and tungstenite then run on top of it unchanged.
//!
//! The wrapper is one [`IoTap`] with an observer that sees each buffer read or written: here a
//! [`Counter`] that adds them up ([`WireCounter`]); in the tracer (`trace::recorder`) a recording
//! that also keeps the bytes. One piece of IO plumbing, two uses.
//!
//! The tally only counts totals. Splitting them into *set-up* (handshake, first response head)
//! and *steady state* (the measured window) is done by the subscriber, which takes
//! [`ByteTally::snapshot`]s at the moments those phases change, and does so when its parser holds
//! no half-read event, so that bytes and events fall on the same side of each boundary (see
//! `subscriber/mod.rs`). TCP's own handshake (SYN/ACK) is below the socket and never counted;
//! neither are IP and TCP headers: the lab compares what the *protocols* put in the byte stream.
//!
//! For WebSocket the wrapper can also follow frame boundaries in both directions
//! ([`WireCounter::with_frames`], [`FrameCursor`]): so that the subscriber knows how many bytes of
//! a half-read frame tungstenite holds when it crosses a phase boundary, and so that keep-alive
//! (ping, pong and close frames) is counted as it crosses the socket
//! ([`WireCounter::control_bytes`]) rather than computed from the frames' sizes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::transport::ws_frames::FrameCursor;

/// Running byte totals of one subscriber's connections, shared between the IO wrapper (which
/// adds) and the subscriber (which takes snapshots). Atomics, because hyper may drive the
/// connection from another task.
#[derive(Debug, Default)]
pub struct ByteTally {
    down: AtomicU64,
    up: AtomicU64,
}

/// Byte totals at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bytes2 {
    /// Bytes received from the server.
    pub down: u64,
    /// Bytes sent to the server.
    pub up: u64,
}

impl Bytes2 {
    /// `self - earlier`, saturating (a snapshot never goes backwards, but be safe).
    pub fn since(self, earlier: Bytes2) -> Bytes2 {
        Bytes2 {
            down: self.down.saturating_sub(earlier.down),
            up: self.up.saturating_sub(earlier.up),
        }
    }
}

impl ByteTally {
    /// A new tally at zero, ready to share.
    pub fn new_shared() -> Arc<ByteTally> {
        Arc::new(ByteTally::default())
    }

    /// The totals now.
    pub fn snapshot(&self) -> Bytes2 {
        Bytes2 {
            down: self.down.load(Ordering::Acquire),
            up: self.up.load(Ordering::Acquire),
        }
    }

    pub(crate) fn add_down(&self, n: usize) {
        self.down.fetch_add(n as u64, Ordering::AcqRel);
    }

    pub(crate) fn add_up(&self, n: usize) {
        self.up.fetch_add(n as u64, Ordering::AcqRel);
    }
}

/// What an [`IoTap`] does with the bytes that cross it: the byte counter adds them up
/// ([`Counter`]), the tracer's recorder keeps a copy (`trace::recorder::Recording`).
pub trait Observe {
    /// Whether the tap may pass vectored writes through (the observer then sees each accepted
    /// piece separately; a recorder that shows one write per call wants them whole).
    const VECTORED: bool;
    /// `bytes` were just read from the stream.
    fn on_read(&mut self, bytes: &[u8]);
    /// `bytes` were just written to the stream (accepted by it).
    fn on_write(&mut self, bytes: &[u8]);
}

/// An `AsyncRead + AsyncWrite` wrapper around a stream (a `TcpStream` in practice) that shows
/// every byte read and written to an [`Observe`]r and otherwise changes nothing.
#[derive(Debug)]
pub struct IoTap<S, O> {
    inner: S,
    observer: O,
}

impl<S, O> IoTap<S, O> {
    /// Wraps `inner`, showing its bytes to `observer`.
    pub fn with_observer(inner: S, observer: O) -> Self {
        Self { inner, observer }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.observer
    }
}

/// The byte counter: adds what crosses to a [`ByteTally`], and optionally follows WebSocket
/// frame boundaries in what is read ([`FrameCursor`]).
#[derive(Debug)]
pub struct Counter {
    tally: Arc<ByteTally>,
    /// Frame boundaries read, then written (WebSocket only).
    frames: Option<[FrameCursor; 2]>,
}

impl Observe for Counter {
    const VECTORED: bool = true;

    fn on_read(&mut self, bytes: &[u8]) {
        self.tally.add_down(bytes.len());
        if let Some([read, _]) = self.frames.as_mut() {
            read.feed(bytes);
        }
    }

    fn on_write(&mut self, bytes: &[u8]) {
        self.tally.add_up(bytes.len());
        if let Some([_, written]) = self.frames.as_mut() {
            written.feed(bytes);
        }
    }
}

/// A byte-counting `AsyncRead + AsyncWrite` wrapper around a stream.
pub type WireCounter<S> = IoTap<S, Counter>;

impl<S> IoTap<S, Counter> {
    /// Wraps `inner`, adding every byte read and written to `tally`.
    pub fn new(inner: S, tally: Arc<ByteTally>) -> Self {
        Self::with_observer(
            inner,
            Counter {
                tally,
                frames: None,
            },
        )
    }

    /// The shared tally.
    pub fn tally(&self) -> &Arc<ByteTally> {
        &self.observer.tally
    }

    /// Also follows WebSocket frame boundaries in the bytes read and written from now on (which
    /// start with the upgrade's response and request heads).
    pub fn with_frames(mut self) -> Self {
        self.observer.frames = Some([FrameCursor::new(), FrameCursor::new()]);
        self
    }

    /// Bytes of a half-read WebSocket frame (0 without [`with_frames`](Self::with_frames)).
    pub fn partial_frame(&self) -> usize {
        self.observer
            .frames
            .as_ref()
            .map_or(0, |[read, _]| read.partial())
    }

    /// Bytes of WebSocket control frames (pings, pongs, closes) read and written so far, as
    /// counted at the socket (zero without [`with_frames`](Self::with_frames)).
    pub fn control_bytes(&self) -> Bytes2 {
        self.observer
            .frames
            .as_ref()
            .map_or(Bytes2::default(), |[read, written]| Bytes2 {
                down: read.control_bytes(),
                up: written.control_bytes(),
            })
    }
}

impl<S: AsyncRead + Unpin, O: Observe + Unpin> AsyncRead for IoTap<S, O> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                this.observer.on_read(new);
            }
        }
        result
    }
}

impl<S: AsyncWrite + Unpin, O: Observe + Unpin> AsyncWrite for IoTap<S, O> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result
            && let Some(written) = buf.get(..n)
            && !written.is_empty()
        {
            this.observer.on_write(written);
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if !O::VECTORED {
            // As tokio's default: the first non-empty buffer, as one plain write.
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            return self.poll_write(cx, first);
        }
        // hyper writes head and body with one vectored write when the stream supports it; only
        // the bytes the kernel accepted (the returned count) crossed the socket.
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result {
            let mut left = n;
            for b in bufs {
                if left == 0 {
                    break;
                }
                let take = left.min(b.len());
                if take > 0 {
                    this.observer.on_write(&b[..take]);
                }
                left -= take;
            }
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        O::VECTORED && self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn counts_every_byte_read_and_written() {
        let (a, mut b) = tokio::io::duplex(64);
        let tally = ByteTally::new_shared();
        let mut counted = WireCounter::new(a, tally.clone());

        counted.write_all(b"hello").await.unwrap();
        let mut got = [0u8; 5];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");

        b.write_all(b"0123456789").await.unwrap();
        let mut back = [0u8; 10];
        counted.read_exact(&mut back).await.unwrap();

        assert_eq!(tally.snapshot(), Bytes2 { down: 10, up: 5 });
    }

    #[tokio::test]
    async fn vectored_writes_count_what_was_accepted() {
        let (a, mut b) = tokio::io::duplex(1024);
        let tally = ByteTally::new_shared();
        let mut counted = WireCounter::new(a, tally.clone());
        let bufs = [io::IoSlice::new(b"head\r\n"), io::IoSlice::new(b"body")];
        let n = counted.write_vectored(&bufs).await.unwrap();
        counted.flush().await.unwrap();
        drop(counted);
        let mut all = Vec::new();
        b.read_to_end(&mut all).await.unwrap();
        assert_eq!(n, all.len());
        assert_eq!(tally.snapshot().up, all.len() as u64);
    }

    #[test]
    fn since_subtracts_snapshots() {
        let a = Bytes2 { down: 10, up: 4 };
        let b = Bytes2 { down: 25, up: 4 };
        assert_eq!(b.since(a), Bytes2 { down: 15, up: 0 });
        assert_eq!(a.since(b), Bytes2 { down: 0, up: 0 });
    }
}
