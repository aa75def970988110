//! The history: a bounded ring of the last `--history` events, indexed by seq.
//!
//! Resumption (`/ws?after=N`, SSE `Last-Event-ID`) and both polling transports answer "every event
//! after N" from here. Because seqs are consecutive, finding N needs no search: the event with
//! seq `s` sits at index `s - first_seq`, so a lookup is a subtraction and the answer is a
//! contiguous run of the ring. When the ring is full the oldest event falls off the front; a client
//! asking for something older simply gets everything still kept, and sees the gap in the seqs.
//!
//! The same ring is every streaming subscriber's queue (see [`super::Subscription`]): a subscriber
//! is a cursor into it. So the ring keeps at least `--subscriber-queue` events even when
//! `--history` is smaller; what polls and resumption may see is still only the last `--history`
//! ([`EventLog::after`]), while a subscriber reads its next events with [`EventLog::range_after`].
//!
//! A production system would keep a longer history on disk (Kafka, Redis streams) and page through
//! it; a lab only needs enough to bridge a reconnect.

use std::collections::VecDeque;

use rtlab_wire::Seq;

use super::encoded::EventRef;

/// The last `capacity` events, oldest first, with consecutive seqs, of which the last `window`
/// are visible to polls and resumption.
#[derive(Debug)]
pub struct EventLog {
    ring: VecDeque<EventRef>,
    capacity: usize,
    window: usize,
}

impl EventLog {
    /// An empty log keeping at most `capacity` events (at least 1), all of them visible.
    pub fn new(capacity: usize) -> Self {
        Self::with_window(capacity, capacity)
    }

    /// An empty log keeping at most `capacity` events (at least `window`, at least 1), of which
    /// the newest `window` are visible to [`EventLog::after`].
    pub fn with_window(capacity: usize, window: usize) -> Self {
        let window = window.max(1);
        let capacity = capacity.max(window);
        Self {
            // Do not preallocate a huge history up front; grow as events arrive.
            ring: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            window,
        }
    }

    /// Appends the next event, dropping the oldest when full. Seqs must be consecutive.
    pub fn push(&mut self, event: EventRef) {
        debug_assert!(
            self.ring
                .back()
                .is_none_or(|last| last.seq() + 1 == event.seq()),
            "event log seqs must be consecutive"
        );
        if self.ring.len() == self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(event);
    }

    /// Number of events visible to polls and resumption.
    pub fn len(&self) -> usize {
        self.ring.len().min(self.window)
    }

    /// Whether no event is kept yet.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The oldest seq visible to polls and resumption.
    pub fn first_seq(&self) -> Option<Seq> {
        let hidden = self.ring.len().saturating_sub(self.window);
        self.ring.get(hidden).map(|e| e.seq())
    }

    /// The newest event.
    pub fn latest(&self) -> Option<&EventRef> {
        self.ring.back()
    }

    /// The event with this seq, if the ring still holds it (visible or not).
    pub fn get(&self, seq: Seq) -> Option<&EventRef> {
        let first = self.ring.front()?.seq();
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.ring.get(index)
    }

    /// Up to `max` visible events with seq > `after`, oldest first (polls and resumption).
    /// Everything older than the window is gone: the answer starts at the oldest visible.
    pub fn after(&self, after: Seq, max: usize) -> impl Iterator<Item = &EventRef> {
        let hidden = self.ring.len().saturating_sub(self.window);
        let first = self.first_seq();
        let start = match first {
            Some(first) if after >= first => {
                usize::try_from(after - first + 1).unwrap_or(usize::MAX)
            }
            _ => 0,
        };
        let start = hidden.saturating_add(start).min(self.ring.len());
        self.ring.range(start..).take(max)
    }

    /// Up to `max` events with seq > `after` from the whole ring (a subscriber's next events),
    /// oldest first; empty if `after + 1` has already fallen off.
    pub fn range_after(&self, after: Seq, max: usize) -> impl Iterator<Item = &EventRef> {
        let start = match self.ring.front() {
            Some(front) if after + 1 >= front.seq() => {
                usize::try_from(after + 1 - front.seq()).unwrap_or(usize::MAX)
            }
            _ => usize::MAX,
        };
        self.ring.range(start.min(self.ring.len())..).take(max)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rtlab_wire::Event;

    use super::*;
    use crate::hub::EncodedEvent;

    fn ev(seq: Seq) -> EventRef {
        Arc::new(EncodedEvent::new(&Event {
            seq,
            ts: 0,
            data: String::new(),
        }))
    }

    fn seqs<'a>(it: impl Iterator<Item = &'a EventRef>) -> Vec<Seq> {
        it.map(|e| e.seq()).collect()
    }

    #[test]
    fn after_indexes_by_seq() {
        let mut log = EventLog::new(10);
        assert!(log.is_empty());
        assert_eq!(seqs(log.after(0, 100)), Vec::<Seq>::new());
        for s in 1..=5 {
            log.push(ev(s));
        }
        assert_eq!(seqs(log.after(0, 100)), [1, 2, 3, 4, 5]);
        assert_eq!(seqs(log.after(3, 100)), [4, 5]);
        assert_eq!(seqs(log.after(5, 100)), Vec::<Seq>::new());
        assert_eq!(seqs(log.after(99, 100)), Vec::<Seq>::new());
        assert_eq!(seqs(log.after(u64::MAX, 100)), Vec::<Seq>::new());
        assert_eq!(seqs(log.after(1, 2)), [2, 3]);
        assert_eq!(log.latest().map(|e| e.seq()), Some(5));
    }

    #[test]
    fn ring_drops_the_oldest_and_keeps_indexing() {
        let mut log = EventLog::new(3);
        for s in 1..=7 {
            log.push(ev(s));
        }
        assert_eq!(log.len(), 3);
        assert_eq!(log.first_seq(), Some(5));
        // Asking for events that fell off answers from the oldest kept.
        assert_eq!(seqs(log.after(0, 100)), [5, 6, 7]);
        assert_eq!(seqs(log.after(4, 100)), [5, 6, 7]);
        assert_eq!(seqs(log.after(5, 100)), [6, 7]);
        assert_eq!(seqs(log.after(6, 1)), [7]);
    }

    #[test]
    fn a_ring_larger_than_its_window_shows_only_the_window_to_polls() {
        let mut log = EventLog::with_window(5, 2);
        for s in 1..=7 {
            log.push(ev(s));
        }
        // Kept: 3..=7; visible: 6, 7.
        assert_eq!(log.len(), 2);
        assert_eq!(log.first_seq(), Some(6));
        assert_eq!(seqs(log.after(0, 100)), [6, 7]);
        assert_eq!(seqs(log.after(6, 100)), [7]);
        // A subscriber's cursor reads the whole ring.
        assert_eq!(log.get(3).map(|e| e.seq()), Some(3));
        assert!(log.get(2).is_none());
        assert!(log.get(8).is_none());
        assert_eq!(seqs(log.range_after(2, 100)), [3, 4, 5, 6, 7]);
        assert_eq!(seqs(log.range_after(4, 2)), [5, 6]);
        assert_eq!(seqs(log.range_after(7, 100)), Vec::<Seq>::new());
        // Fallen off: nothing, rather than a silent jump over the gap.
        assert_eq!(seqs(log.range_after(1, 100)), Vec::<Seq>::new());
    }

    #[test]
    fn zero_capacity_still_keeps_the_latest() {
        let mut log = EventLog::new(0);
        log.push(ev(1));
        log.push(ev(2));
        assert_eq!(seqs(log.after(0, 10)), [2]);
    }
}
