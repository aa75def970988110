//! Which events belong to the measured window, decided by `seq`, not by arrival time.
//!
//! **Why not "events received in the window ÷ events published in the window".** An event
//! published in the last millisecond of the window reaches its subscribers after the window has
//! ended, and one published just before the window started arrives inside it. Counting by arrival
//! time against the server's published count therefore mixes two different sets of events: at a
//! few subscribers the error is small, but when latency grows (10 000 subscribers, a batch of
//! polls) the ratio drifts to 1.2, 2.5 or 0.55 and says nothing about delivery.
//!
//! **What is counted instead.** The server's head seq is read at the window's start (`S0`) and
//! end (`S1`); exactly the events with seq in `(S0, S1]` were published in the window, and each
//! connected subscriber should receive all `S1 − S0` of them. So every subscriber counts the
//! distinct events it received with seq in that range, *whenever* they arrive: after the window
//! it keeps draining until it has seen `S1` or a bounded drain time has passed (see the
//! subscriber's meter, `subscriber/meter.rs`). What has not arrived by then is `undelivered`
//! (lost or late), and `delivery_ratio = in range / ((S1 − S0) × connected)` is exact: it
//! cannot exceed 1.
//!
//! `S0` and `S1` come from `/stats` (`head_seq`), read at the two instants (`control.rs`) and
//! shared here with every subscriber. Until `S0` is known (a few ms into the window) a subscriber
//! keeps the seqs it receives aside and decides at the end. An event received before the end of
//! the window was published before it, so it is in range without waiting for `S1`.
//!
//! **Without `/stats`.** A server that has no `/stats` (another project's feed, which this client
//! measures as long as its events carry `seq` and `ts`), a `tcp` run with no `--control-url`, or a
//! `/stats` that failed: both bounds are then *unavailable*, nothing is "in range", and the report
//! falls back to what the subscribers saw. The seq range received in the window (lowest to
//! highest seq, all subscribers) stands in for the events published, and `delivery_ratio` becomes
//! `events received in the window ÷ (that range × connected)`, the arrival-time ratio above.
//! What is lost: the exact bounds (so `undelivered` is null, events published in the window that
//! reached nobody by its end are invisible, because the range ends at the highest seq anyone
//! received, and latency at the edges skews the ratio), the drain (the window's last events,
//! still in flight at its end, are neither counted nor timed), and the server's own counters
//! (`server_lagging_disconnects` is null, and it is the only sign of a lagging SSE or TCP
//! subscriber, whose stream simply ends). Loss, duplicates and reordering *inside* the stream
//! stay exact: they come from `seq` alone ([`crate::sequence`]). The report names the mode it
//! ran in, `window_mode` (`exact-by-seq` or `seq-range`), and in the fallback
//! `window_fallback_reason`.

use std::sync::atomic::{AtomicU64, Ordering};

use rtlab_wire::Seq;

/// Stored while a bound has not been read yet.
const UNKNOWN: u64 = u64::MAX;
/// Stored when a bound could not be read (no `/stats`, or it failed).
const UNAVAILABLE: u64 = u64::MAX - 1;

/// One end of the window, in seqs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqBound {
    /// Not read yet.
    Unknown,
    /// Could not be read.
    Unavailable,
    /// The server's head seq at that instant.
    Known(Seq),
}

/// Whether one received event was published in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InRange {
    /// Yes: count it.
    Yes,
    /// No.
    No,
    /// Cannot tell yet (a bound is still unknown): decide at the end.
    Undecided,
}

/// `S0` and `S1`, shared by the reader of `/stats` and every subscriber.
#[derive(Debug)]
pub struct WindowSeqs {
    start: AtomicU64,
    end: AtomicU64,
}

impl Default for WindowSeqs {
    fn default() -> Self {
        Self {
            start: AtomicU64::new(UNKNOWN),
            end: AtomicU64::new(UNKNOWN),
        }
    }
}

fn encode(seq: Option<Seq>) -> u64 {
    // A head seq of u64::MAX - 1 would take 584 years at a billion events per second.
    seq.map_or(UNAVAILABLE, |s| s.min(UNAVAILABLE - 1))
}

fn store(slot: &AtomicU64, seq: Option<Seq>) {
    slot.store(encode(seq), Ordering::Release);
}

fn load(slot: &AtomicU64) -> SeqBound {
    match slot.load(Ordering::Acquire) {
        UNKNOWN => SeqBound::Unknown,
        UNAVAILABLE => SeqBound::Unavailable,
        s => SeqBound::Known(s),
    }
}

impl WindowSeqs {
    /// Records `S0` (`None`: it could not be read), unless a subscriber already gave up on it
    /// ([`give_up_start`](Self::give_up_start)): then a late answer is ignored.
    pub fn set_start(&self, seq: Option<Seq>) {
        let _ =
            self.start
                .compare_exchange(UNKNOWN, encode(seq), Ordering::AcqRel, Ordering::Acquire);
    }

    /// A subscriber has waited out the window and its drain and `S0` is still unknown (`/stats`
    /// is not answering): `S0` becomes unavailable for every subscriber at once, so that all of
    /// them classify their events the same way, by the fallback, and the report says so.
    pub fn give_up_start(&self) {
        let _ =
            self.start
                .compare_exchange(UNKNOWN, UNAVAILABLE, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Records `S1` (`None`: it could not be read).
    pub fn set_end(&self, seq: Option<Seq>) {
        store(&self.end, seq);
    }

    /// `S0`.
    pub fn start(&self) -> SeqBound {
        load(&self.start)
    }

    /// `S1`.
    pub fn end(&self) -> SeqBound {
        load(&self.end)
    }

    /// Both bounds, once both are known.
    pub fn range(&self) -> Option<(Seq, Seq)> {
        match (self.start(), self.end()) {
            (SeqBound::Known(a), SeqBound::Known(b)) => Some((a, b.max(a))),
            _ => None,
        }
    }

    /// Whether the event `seq`, received (by the clock) before the window's end or not, was
    /// published in the window.
    pub fn classify(&self, seq: Seq, received_before_end: bool) -> InRange {
        match self.start() {
            SeqBound::Unknown => return InRange::Undecided,
            SeqBound::Unavailable => return InRange::No,
            SeqBound::Known(s0) if seq <= s0 => return InRange::No,
            SeqBound::Known(_) => {}
        }
        if received_before_end {
            return InRange::Yes;
        }
        match self.end() {
            SeqBound::Known(s1) if seq <= s1 => InRange::Yes,
            SeqBound::Known(_) | SeqBound::Unavailable => InRange::No,
            SeqBound::Unknown => InRange::Undecided,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_in_range_by_seq_not_by_arrival() {
        let w = WindowSeqs::default();
        assert_eq!(w.classify(5, true), InRange::Undecided);
        w.set_start(Some(10));
        assert_eq!(w.classify(10, true), InRange::No);
        assert_eq!(w.classify(11, true), InRange::Yes);
        // After the end, only S1 can tell.
        assert_eq!(w.classify(25, false), InRange::Undecided);
        w.set_end(Some(20));
        assert_eq!(w.classify(20, false), InRange::Yes);
        assert_eq!(w.classify(21, false), InRange::No);
        assert_eq!(w.range(), Some((10, 20)));
    }

    #[test]
    fn a_start_given_up_on_stays_unavailable() {
        let w = WindowSeqs::default();
        w.give_up_start();
        w.set_start(Some(10));
        assert_eq!(w.start(), SeqBound::Unavailable);
        w.set_end(Some(20));
        assert_eq!(w.range(), None);
        // Once known, giving up changes nothing.
        let w = WindowSeqs::default();
        w.set_start(Some(10));
        w.give_up_start();
        assert_eq!(w.start(), SeqBound::Known(10));
    }

    #[test]
    fn unavailable_bounds_count_nothing() {
        let w = WindowSeqs::default();
        w.set_start(None);
        w.set_end(None);
        assert_eq!(w.start(), SeqBound::Unavailable);
        assert_eq!(w.classify(11, true), InRange::No);
        assert_eq!(w.range(), None);
    }
}
