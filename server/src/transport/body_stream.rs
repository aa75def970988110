//! A streaming response body written by one connection's own loop: the SSE stream and the
//! WebSocket feed each own their state (backlog, subscription, timers) and say, one call at a
//! time, what to write next; actix pulls those chunks as the socket takes them.
//!
//! Pulling rather than pushing is what gives backpressure for free: the next event is taken
//! from the hub only once the previous chunk has been handed to the socket.

use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use futures_util::Stream;

/// A connection's loop, asked for one chunk of its response body at a time.
pub trait ChunkSource: Sized + 'static {
    /// The next bytes to write, or `None` to end the response.
    fn next_chunk(&mut self) -> impl Future<Output = Option<Bytes>>;
}

/// The response body that `source` writes, chunk by chunk, until it says `None`.
pub fn body_stream<S: ChunkSource>(
    source: S,
) -> impl Stream<Item = Result<Bytes, Infallible>> + 'static {
    futures_util::stream::unfold(source, |mut source| async move {
        let chunk = source.next_chunk().await?;
        Some((Ok(chunk), source))
    })
}
