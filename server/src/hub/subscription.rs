//! A streaming subscriber's end of the fan-out, and the slow-subscriber policy.
//!
//! Every streaming connection (WebSocket, SSE, TCP) owns one [`Subscription`]: a bounded queue of
//! `--subscriber-queue` events that the hub fills and the connection drains as fast as its socket
//! allows. The bound is the whole policy:
//!
//! - The hub never waits for a subscriber. It offers each event with `try_send`; if a queue is
//!   full, that subscriber is *kicked*: removed from the fan-out, counted as a lagging disconnect,
//!   and told so through a cancellation token. Publishing costs the same whether one subscriber is
//!   stuck or none is, and nobody else slows down.
//! - Memory stays bounded: at most `queue × subscribers` handles to shared events, however slow
//!   the slowest reader is.
//! - The connection notices the kick even while it is blocked writing to a socket that no longer
//!   drains ([`Subscription::lagged`] can be raced against the write), so a client that never reads
//!   cannot pin a task forever.
//!
//! What the client loses is not silent: the WebSocket gets close 1008 "lagging", SSE and TCP see
//! their stream end, and a client that reconnects with its last seq within the history window gets
//! the missed events back. Production systems add a second chance (a larger spill buffer or
//! conflation of updates); a lab wants the simple rule that is easy to reason about.

use std::sync::Weak;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{EventRef, Inner};

/// Why a subscription delivers no more events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionEnded {
    /// The queue filled up: the subscriber fell `--subscriber-queue` events behind and was cut off.
    #[error("subscriber fell too far behind and was disconnected")]
    Lagged,
    /// The hub was dropped (the server is gone).
    #[error("the hub is gone")]
    Closed,
}

/// One streaming subscriber's bounded queue of events; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    pub(super) id: u64,
    pub(super) rx: mpsc::Receiver<EventRef>,
    pub(super) kicked: CancellationToken,
    pub(super) hub: Weak<Inner>,
}

impl Subscription {
    /// The next event, oldest first. Returns [`SubscriptionEnded::Lagged`] as soon as the hub has
    /// kicked this subscriber, even if events are still queued: they would be followed by a gap.
    pub async fn recv(&mut self) -> Result<EventRef, SubscriptionEnded> {
        tokio::select! {
            biased;
            () = self.kicked.cancelled() => Err(SubscriptionEnded::Lagged),
            ev = self.rx.recv() => ev.ok_or_else(|| self.ended()),
        }
    }

    /// The next event if one is queued, without waiting (`Ok(None)` when the queue is empty).
    pub fn try_recv(&mut self) -> Result<Option<EventRef>, SubscriptionEnded> {
        if self.kicked.is_cancelled() {
            return Err(SubscriptionEnded::Lagged);
        }
        match self.rx.try_recv() {
            Ok(ev) => Ok(Some(ev)),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(self.ended()),
        }
    }

    /// Resolves when the hub kicks this subscriber for lagging. Race it against a socket write
    /// that may never finish.
    pub async fn lagged(&self) {
        self.kicked.cancelled().await;
    }

    /// Whether the hub has kicked this subscriber.
    pub fn is_lagged(&self) -> bool {
        self.kicked.is_cancelled()
    }

    /// Events waiting in the queue.
    pub fn queued(&self) -> usize {
        self.rx.len()
    }

    fn ended(&self) -> SubscriptionEnded {
        if self.kicked.is_cancelled() {
            SubscriptionEnded::Lagged
        } else {
            SubscriptionEnded::Closed
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Leave the fan-out now rather than when the next publish finds the queue closed: with
        // `--rate 0` that could be never.
        if let Some(hub) = self.hub.upgrade() {
            hub.unsubscribe(self.id);
        }
    }
}
