//! A streaming subscriber's place in the fan-out, and the slow-subscriber policy.
//!
//! Every streaming connection (WebSocket, SSE, TCP) owns one [`Subscription`]. It is not a queue of
//! its own: it is a *cursor* into the hub's history ring, the seq of the last event it took. Each
//! event is stored once, in the ring, and every subscriber reads it from there; publishing appends
//! to the ring and bumps one `watch` channel, whatever the audience. (A queue per subscriber costs
//! a push and a pop per delivery, plus a channel allocation per connection; a cursor costs neither.
//! Disruptor-style ring buffers and Kafka's consumer offsets are the same idea.)
//!
//! The bound is still the whole policy: a subscriber may be at most `--subscriber-queue` events
//! behind the head, exactly as if it had a queue of that size:
//!
//! - The hub never waits for a subscriber. After each publish it compares every cursor with the new
//!   head (one atomic load each); a subscriber further behind than the bound is *kicked*: removed
//!   from the fan-out, counted as a lagging disconnect, and told so through a cancellation token.
//!   Publishing costs the same whether one subscriber is stuck or none is.
//! - Memory stays bounded: the ring holds at least the bound, so a subscriber that was not kicked
//!   always finds its next event there, and a stuck one pins nothing but its cursor.
//! - The connection notices the kick even while it is blocked writing to a socket that no longer
//!   drains ([`Subscription::lagged`] can be raced against the write), so a client that never reads
//!   cannot pin a task forever.
//!
//! What the client loses is not silent: the WebSocket gets close 1008 "lagging", SSE and TCP see
//! their stream end, and a client that reconnects with its last seq within the history window gets
//! the missed events back. Production systems add a second chance (a larger spill buffer or
//! conflation of updates); a lab wants the simple rule that is easy to reason about.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rtlab_wire::Seq;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::encoded::EventRef;
use super::shared::Shared;

/// Why a subscription delivers no more events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionEnded {
    /// The subscriber fell `--subscriber-queue` events behind the head and was cut off.
    #[error("subscriber fell too far behind and was disconnected")]
    Lagged,
    /// The hub was dropped (the server is gone) and every event was taken.
    #[error("the hub is gone")]
    Closed,
}

/// One streaming subscriber's cursor into the feed; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    pub(super) id: u64,
    /// The seq of the last event taken. Written only by this subscription and only under the hub's
    /// lock, where the hub also reads it to judge lag: the atomic is for sharing, not for racing.
    pub(super) cursor: Arc<AtomicU64>,
    /// Bumped on every publish: what a waiting subscriber sleeps on.
    pub(super) head: watch::Receiver<Seq>,
    pub(super) kicked: CancellationToken,
    pub(super) shared: Arc<Shared>,
}

impl Subscription {
    /// The next event, oldest first. Returns [`SubscriptionEnded::Lagged`] as soon as the hub has
    /// kicked this subscriber, even if events are still unread: they would be followed by a gap.
    pub async fn recv(&mut self) -> Result<EventRef, SubscriptionEnded> {
        loop {
            if let Some(event) = self.try_recv()? {
                return Ok(event);
            }
            // Nothing new. `changed()` compares versions, so a publish between the read above and
            // this wait is not missed; at worst the loop reads once more and finds nothing.
            tokio::select! {
                biased;
                () = self.kicked.cancelled() => return Err(SubscriptionEnded::Lagged),
                changed = self.head.changed() => {
                    if changed.is_err() {
                        // The hub is gone: hand out what is left, then end.
                        return self.try_recv()?.ok_or(SubscriptionEnded::Closed);
                    }
                }
            }
        }
    }

    /// The next event if one is ready, without waiting (`Ok(None)` when this subscriber has taken
    /// everything published so far).
    pub fn try_recv(&mut self) -> Result<Option<EventRef>, SubscriptionEnded> {
        let state = self.shared.lock();
        // Checked under the lock: a kick happens under it too, so a kicked subscriber never reads
        // past the point where it was cut off.
        if self.kicked.is_cancelled() {
            return Err(SubscriptionEnded::Lagged);
        }
        let next = self.cursor.load(Ordering::Relaxed) + 1;
        let event = state.log.get(next).cloned();
        if event.is_some() {
            self.cursor.store(next, Ordering::Relaxed);
        }
        Ok(event)
    }

    /// Appends up to `max` ready events to `out`, oldest first, under one lock: how a connection
    /// that fell behind catches up with one write. Returns how many were appended.
    pub fn try_recv_many(
        &mut self,
        max: usize,
        out: &mut impl Extend<EventRef>,
    ) -> Result<usize, SubscriptionEnded> {
        let state = self.shared.lock();
        if self.kicked.is_cancelled() {
            return Err(SubscriptionEnded::Lagged);
        }
        let cursor = self.cursor.load(Ordering::Relaxed);
        let mut taken = 0;
        out.extend(
            state
                .log
                .range_after(cursor, max)
                .inspect(|_| taken += 1)
                .cloned(),
        );
        self.cursor.store(cursor + taken as u64, Ordering::Relaxed);
        Ok(taken)
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

    /// Events published but not yet taken.
    pub fn queued(&self) -> usize {
        let taken = self.cursor.load(Ordering::Relaxed);
        usize::try_from(self.shared.lock().last_seq.saturating_sub(taken)).unwrap_or(usize::MAX)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Leave the fan-out now rather than at the next publish: with `--rate 0` that could be
        // never, and the subscriber count in `/stats` should be right at once.
        self.shared.unsubscribe(self.id);
    }
}
