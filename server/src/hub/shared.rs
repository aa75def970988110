//! The hub's locked state, shared by the hub (which publishes into it) and every
//! `Subscription` (which reads the ring through it).
//!
//! It is its own module so that both sides depend on it and neither on the other: the hub
//! creates subscriptions, and a subscription only needs the lock, the ring and its own slot.
//! One mutex guards the seq counter, the history ring and the subscriber list together, which
//! is what makes "subscribe, then read the backlog" one atomic step (see the hub's `//!`).

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rtlab_wire::{Seq, Transport};
use tokio_util::sync::CancellationToken;

use super::event_log::EventLog;

/// What subscriptions hold on to: the locked state. (The `watch` sender stays in the hub, so
/// dropping the last `Hub` closes the channel and subscriptions learn the feed is gone.)
#[derive(Debug)]
pub(super) struct Shared {
    state: Mutex<State>,
}

/// Everything one publish changes at once.
#[derive(Debug)]
pub(super) struct State {
    pub(super) last_seq: Seq,
    pub(super) log: EventLog,
    pub(super) next_id: u64,
    /// A plain vector: the publish path walks all of it, and removals are rare.
    pub(super) subscribers: Vec<Slot>,
}

/// The hub's view of one streaming subscriber: where its cursor is, and how to cut it off.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) id: u64,
    pub(super) cursor: Arc<AtomicU64>,
    pub(super) kicked: CancellationToken,
    pub(super) transport: Transport,
}

impl Shared {
    pub(super) fn new(state: State) -> Self {
        Self {
            state: Mutex::new(state),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that matters
        // more than stopping the feed would; keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn unsubscribe(&self, id: u64) {
        let mut state = self.lock();
        if let Some(i) = state.subscribers.iter().position(|slot| slot.id == id) {
            state.subscribers.swap_remove(i);
        }
    }
}
