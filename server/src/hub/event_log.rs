//! The history: a bounded ring of the last `--history` events, indexed by seq.
//!
//! Resumption (`/ws?after=N`, SSE `Last-Event-ID`) and both polling transports answer "every event
//! after N" from here. Because seqs are consecutive, finding N needs no search: the event with
//! seq `s` sits at index `s - first_seq`, so a lookup is a subtraction and the answer is a
//! contiguous run of the ring. When the ring is full the oldest event falls off the front; a client
//! asking for something older simply gets everything still kept, and sees the gap in the seqs.
//!
//! A production system would keep a longer history on disk (Kafka, Redis streams) and page through
//! it; a lab only needs enough to bridge a reconnect.

use std::collections::VecDeque;

use rtlab_wire::Seq;

use super::EventRef;

/// The last `capacity` events, oldest first, with consecutive seqs.
#[derive(Debug)]
pub struct EventLog {
    ring: VecDeque<EventRef>,
    capacity: usize,
}

impl EventLog {
    /// An empty log keeping at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            // Do not preallocate a huge history up front; grow as events arrive.
            ring: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
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

    /// Number of events kept.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no event is kept yet.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The oldest seq still kept.
    pub fn first_seq(&self) -> Option<Seq> {
        self.ring.front().map(|e| e.seq())
    }

    /// The newest event.
    pub fn latest(&self) -> Option<&EventRef> {
        self.ring.back()
    }

    /// Up to `max` events with seq > `after`, oldest first.
    pub fn after(&self, after: Seq, max: usize) -> impl Iterator<Item = &EventRef> {
        let start = match self.first_seq() {
            // Everything older than the ring is gone: start at the oldest kept.
            Some(first) if after >= first => {
                usize::try_from(after - first + 1).unwrap_or(usize::MAX)
            }
            _ => 0,
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
    fn zero_capacity_still_keeps_the_latest() {
        let mut log = EventLog::new(0);
        log.push(ev(1));
        log.push(ev(2));
        assert_eq!(seqs(log.after(0, 10)), [2]);
    }
}
