//! The hub: one feed, one history, one fan-out, shared by every transport.
//!
//! Publishing an event ([`Hub::publish`]) does four things under one lock, so that every
//! subscriber sees events in seq order with no gap and no duplicate:
//!
//! 1. assigns the next seq, and `ts` (the ticker's scheduled time, or now for a client's event);
//! 2. encodes the event once ([`EncodedEvent`]: JSON, SSE block, TCP line and WebSocket frame);
//! 3. appends it to the bounded history ring ([`EventLog`]), which polls, resumption *and* every
//!    streaming subscriber read: a [`Subscription`] is a cursor into this ring, not a queue;
//! 4. cuts off every streaming subscriber now more than `--subscriber-queue` events behind; the
//!    publisher never waits for anyone;
//!
//! and then bumps a `watch` channel holding the head seq. That one channel wakes everything that
//! waits for the feed: streaming subscribers and parked long polls alike, without a sleep loop.
//! So publishing costs one encoding, one ring slot and one atomic load per subscriber, whatever
//! the transports, and a delivery costs the subscriber one locked read of the ring.
//!
//! In cluster mode (`--broker`) the seq and ts are assigned by the broker's stream, not here:
//! every node appends the stream's events with [`Hub::append`], which does steps 2 to 4 with the
//! given seq and ts, so every node's hub holds the same events under the same seqs.
//!
//! Resumption is seamless because subscribing and reading the history happen under the same lock
//! ([`Hub::subscribe_after`]): the backlog ends exactly where the subscription's cursor begins.
//! Transports still skip seqs they have already sent, the classic "subscribe first, then read
//! history, then skip duplicates" guard, so the seam stays safe even if this lock is ever split.
//!
//! The hub knows nothing about actix or sockets: the Criterion benchmark drives it directly.
//! A production broker would encode outside the lock (a sequencer hands out seqs, encoding runs
//! in parallel, a reorder buffer restores order) and shard the subscriber set; one mutex is
//! simple and, at the lab's rates, far from the bottleneck.

mod encoded;
mod event_log;
mod shared;
mod subscription;
pub mod ticker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rtlab_wire::{Event, Seq, Transport, now_unix_nanos};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::counters::Counters;

use shared::{Shared, Slot, State};

pub use encoded::{EncodedEvent, EventRef};
pub use event_log::EventLog;
pub use subscription::{Subscription, SubscriptionEnded};

/// Sizes of the hub's two bounded buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubConfig {
    /// Events kept for resumption and polling (`--history`).
    pub history: usize,
    /// Per-subscriber queue, in events (`--subscriber-queue`).
    pub subscriber_queue: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            history: rtlab_wire::defaults::HISTORY,
            subscriber_queue: crate::config::DEFAULT_SUBSCRIBER_QUEUE,
        }
    }
}

/// Who published an event (counted separately in `/stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The server's own ticker.
    Ticker,
    /// A client: `POST /publish` or a WebSocket text frame.
    Client,
}

/// A cheap, cloneable handle to the one feed.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    head: watch::Sender<Seq>,
    counters: Arc<Counters>,
    config: HubConfig,
}

impl Hub {
    /// An empty hub (head seq 0) with its own fresh counters.
    pub fn new(config: HubConfig) -> Self {
        Self::with_counters(config, Arc::new(Counters::new()))
    }

    /// An empty hub that counts into `counters`.
    pub fn with_counters(config: HubConfig, counters: Arc<Counters>) -> Self {
        let config = HubConfig {
            history: config.history.max(1),
            subscriber_queue: config.subscriber_queue.max(1),
        };
        // The ring is also every subscriber's queue, so it keeps at least a queue's worth.
        let log = EventLog::with_window(config.subscriber_queue, config.history);
        Self {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared::new(State {
                    last_seq: 0,
                    log,
                    next_id: 0,
                    subscribers: Vec::new(),
                })),
                head: watch::channel(0).0,
                counters,
                config,
            }),
        }
    }

    /// Publishes `data` as the next event, stamped now: a client's event, or a test's.
    /// See [`Hub::publish_at`].
    pub fn publish(&self, data: String, origin: Origin) -> EventRef {
        self.publish_at(data, origin, None)
    }

    /// Publishes `data` as the next event: assigns seq and ts (`scheduled`, when the ticker says
    /// when the event was due, else the wall clock now), encodes it once, appends it to the ring,
    /// cuts off subscribers too far behind, wakes every waiter. Never waits on a subscriber.
    pub fn publish_at(&self, data: String, origin: Origin, scheduled: Option<u64>) -> EventRef {
        let inner = &*self.inner;
        let state = inner.shared.lock();
        let seq = state.last_seq + 1;
        let event = Event {
            seq,
            // Read under the lock so that a client's ts never goes backwards along seq (barring
            // clock steps); a scheduled ts is the schedule's, late or not: that lag is the point.
            ts: scheduled.unwrap_or_else(now_unix_nanos),
            data,
        };
        let event: EventRef = Arc::new(EncodedEvent::new(&event));
        self.append_locked(state, Arc::clone(&event), origin);
        event
    }

    /// Appends an event whose seq and ts were assigned elsewhere: cluster mode, where the broker's
    /// stream sequence is the seq ([`crate::broker`]). Everything else is [`Hub::publish_at`]'s:
    /// encoded once, appended to the ring, laggards cut off, waiters woken. `None`, and nothing
    /// changes, for a seq at or below the head (a redelivery).
    ///
    /// A seq *beyond* head + 1 (the node's first event, taken from a stream whose oldest events
    /// have already been discarded; or a gap the stream made while this node was away) cannot sit
    /// in the ring after the events before it, which must stay consecutive: the ring starts again
    /// at this seq, and every subscriber's cursor moves to just before it. A subscriber that had
    /// read everything loses nothing; one that had not sees the gap in the seqs, which is the
    /// truth: those events are gone from the feed.
    pub fn append(&self, seq: Seq, ts: u64, data: String, origin: Origin) -> Option<EventRef> {
        let inner = &*self.inner;
        let mut state = inner.shared.lock();
        if seq <= state.last_seq {
            return None;
        }
        if seq > state.last_seq + 1 {
            let window = (inner.config.subscriber_queue, inner.config.history);
            state.log = EventLog::with_window(window.0, window.1);
            for slot in &state.subscribers {
                slot.cursor.fetch_max(seq - 1, Ordering::Relaxed);
            }
        }
        let event: EventRef = Arc::new(EncodedEvent::new(&Event { seq, ts, data }));
        self.append_locked(state, Arc::clone(&event), origin);
        Some(event)
    }

    /// The part of a publish after the event exists: ring, cut-off, wake-up, counters.
    fn append_locked(
        &self,
        mut state: std::sync::MutexGuard<'_, State>,
        event: EventRef,
        origin: Origin,
    ) {
        let inner = &*self.inner;
        let seq = event.seq();
        state.last_seq = seq;
        state.log.push(event);
        let bound = inner.config.subscriber_queue as u64;
        state.subscribers.retain(|slot| {
            let behind = seq - slot.cursor.load(Ordering::Relaxed);
            if behind <= bound {
                return true;
            }
            slot.kicked.cancel();
            inner.counters.lagging(slot.transport);
            false
        });
        drop(state);
        inner.head.send_replace(seq);
        inner.counters.published(origin == Origin::Client);
    }

    /// Subscribes a streaming connection of `transport` to live events (those published from now on).
    pub fn subscribe(&self, transport: Transport) -> Subscription {
        self.subscribe_after(transport, None).1
    }

    /// Subscribes to live events and, atomically with it, reads the history after `after`: the
    /// returned backlog (oldest first) ends exactly where the subscription's first event begins.
    /// `None` means live only. The backlog is not capped by the queue: it is already in memory.
    pub fn subscribe_after(
        &self,
        transport: Transport,
        after: Option<Seq>,
    ) -> (Vec<EventRef>, Subscription) {
        let kicked = CancellationToken::new();
        // Subscribed to the head before the lock: whatever is published after it wakes us.
        let head = self.inner.head.subscribe();
        let mut state = self.inner.shared.lock();
        let backlog = match after {
            Some(after) => state.log.after(after, usize::MAX).cloned().collect(),
            None => Vec::new(),
        };
        let id = state.next_id;
        state.next_id += 1;
        let cursor = Arc::new(AtomicU64::new(state.last_seq));
        state.subscribers.push(Slot {
            id,
            cursor: Arc::clone(&cursor),
            kicked: kicked.clone(),
            transport,
        });
        drop(state);
        let sub = Subscription {
            id,
            cursor,
            head,
            kicked,
            shared: Arc::clone(&self.inner.shared),
        };
        (backlog, sub)
    }

    /// Up to `max` events with seq > `after`, oldest first, from the history (polling).
    pub fn events_after(&self, after: Seq, max: usize) -> Vec<EventRef> {
        self.inner
            .shared
            .lock()
            .log
            .after(after, max)
            .cloned()
            .collect()
    }

    /// The newest event, if any.
    pub fn latest(&self) -> Option<EventRef> {
        self.inner.shared.lock().log.latest().cloned()
    }

    /// The seq of the newest event (0 before the first).
    pub fn head(&self) -> Seq {
        *self.inner.head.borrow()
    }

    /// A receiver of the head seq: `changed()` resolves when an event is published. Take it
    /// *before* reading the history, so a publish in between is not missed.
    pub fn watch_head(&self) -> watch::Receiver<Seq> {
        self.inner.head.subscribe()
    }

    /// Streaming subscribers currently in the fan-out.
    pub fn subscriber_count(&self) -> usize {
        self.inner.shared.lock().subscribers.len()
    }

    /// The counters this hub (and the server around it) count into.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.inner.counters
    }

    /// The buffer sizes this hub was built with.
    pub fn config(&self) -> HubConfig {
        self.inner.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(queue: usize) -> Hub {
        Hub::new(HubConfig {
            history: 100,
            subscriber_queue: queue,
        })
    }

    #[tokio::test]
    async fn seqs_start_at_one_and_fan_out_in_order() {
        let hub = hub(10);
        let mut a = hub.subscribe(Transport::Ws);
        let mut b = hub.subscribe(Transport::Tcp);
        for i in 0..3 {
            hub.publish(format!("e{i}"), Origin::Ticker);
        }
        for sub in [&mut a, &mut b] {
            for seq in 1..=3 {
                assert_eq!(sub.recv().await.unwrap().seq(), seq);
            }
        }
        assert_eq!(hub.head(), 3);
        assert_eq!(
            &a.try_recv().unwrap().map(|e| e.seq()),
            &None,
            "nothing more queued"
        );
    }

    #[tokio::test]
    async fn a_full_queue_kicks_only_that_subscriber() {
        let hub = hub(2);
        let mut slow = hub.subscribe(Transport::Sse);
        let mut fast = hub.subscribe(Transport::Ws);
        for i in 1..=5u64 {
            hub.publish(String::new(), Origin::Ticker);
            assert_eq!(fast.recv().await.unwrap().seq(), i);
        }
        assert!(slow.is_lagged());
        assert_eq!(slow.recv().await.unwrap_err(), SubscriptionEnded::Lagged);
        assert_eq!(hub.subscriber_count(), 1);
        let snap = hub.counters().snapshot(hub.head());
        assert_eq!(snap.transports[&Transport::Sse].lagging_disconnects, 1);
        assert_eq!(snap.transports[&Transport::Ws].lagging_disconnects, 0);
    }

    #[tokio::test]
    async fn resume_has_no_gap_and_no_duplicate_at_the_seam() {
        let hub = hub(10);
        for _ in 0..4 {
            hub.publish(String::new(), Origin::Ticker);
        }
        let (backlog, mut sub) = hub.subscribe_after(Transport::Sse, Some(2));
        hub.publish(String::new(), Origin::Client);
        let backlog: Vec<_> = backlog.iter().map(|e| e.seq()).collect();
        assert_eq!(backlog, [3, 4]);
        assert_eq!(sub.recv().await.unwrap().seq(), 5);
        assert_eq!(hub.counters().snapshot(5).events_published_by_clients, 1);
    }

    #[tokio::test]
    async fn dropping_a_subscription_unsubscribes() {
        let hub = hub(1);
        let sub = hub.subscribe(Transport::Tcp);
        assert_eq!(hub.subscriber_count(), 1);
        drop(sub);
        assert_eq!(hub.subscriber_count(), 0);
        // And publishing afterwards counts no lagging.
        hub.publish(String::new(), Origin::Ticker);
        hub.publish(String::new(), Origin::Ticker);
        assert_eq!(hub.counters().snapshot(0).lagging_disconnects, 0);
    }

    #[tokio::test]
    async fn append_keeps_given_seqs_drops_redeliveries_and_restarts_the_ring_at_a_gap() {
        let hub = hub(10);
        let mut live = hub.subscribe(Transport::Sse);
        // A node joining a stream whose first kept event is 41.
        assert_eq!(
            hub.append(41, 7, "a".into(), Origin::Ticker).unwrap().seq(),
            41
        );
        assert!(hub.append(41, 7, "a".into(), Origin::Ticker).is_none());
        assert!(hub.append(12, 7, "old".into(), Origin::Ticker).is_none());
        hub.append(42, 8, "b".into(), Origin::Client);
        assert_eq!(live.recv().await.unwrap().seq(), 41);
        assert_eq!(live.recv().await.unwrap().seq(), 42);
        assert_eq!(hub.head(), 42);
        let seqs: Vec<_> = hub.events_after(0, 10).iter().map(|e| e.seq()).collect();
        assert_eq!(seqs, [41, 42]);
        assert_eq!(hub.latest().unwrap().ts(), 8);
        // A gap: the ring starts again, the subscriber continues after it.
        hub.append(50, 9, "c".into(), Origin::Ticker);
        assert_eq!(live.recv().await.unwrap().seq(), 50);
        let seqs: Vec<_> = hub.events_after(41, 10).iter().map(|e| e.seq()).collect();
        assert_eq!(seqs, [50]);
        let snap = hub.counters().snapshot(hub.head());
        assert_eq!(
            (snap.events_published, snap.events_published_by_clients),
            (3, 1)
        );
    }

    #[tokio::test]
    async fn watch_head_wakes_on_publish() {
        let hub = hub(1);
        let mut head = hub.watch_head();
        let h = hub.clone();
        tokio::spawn(async move { h.publish("x".into(), Origin::Client) });
        head.changed().await.unwrap();
        assert_eq!(*head.borrow(), 1);
        assert_eq!(hub.events_after(0, 10).len(), 1);
        assert_eq!(hub.latest().unwrap().seq(), 1);
    }
}
