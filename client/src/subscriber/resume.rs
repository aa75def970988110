//! Resuming after a dropped connection: what one subscriber remembers across its connections.
//!
//! A subscriber whose connection drops comes back (`reconnect.rs`) and asks to *resume*: "the
//! events after the last seq I saw" (`?after=N` on ws and the polls, `Last-Event-ID: N` on
//! sse; the raw-TCP floor cannot ask, and simply starts again live). Whether that worked is
//! judged at the seam, by seq, from the first events of the new connection:
//!
//! - the first new event is `N + 1`: nothing lost;
//! - it is further on: the events in between were **lost across the reconnect** (published
//!   while the subscriber was away and not replayed: beyond the server's history, or a
//!   transport that cannot resume);
//! - events up to `N` again: **duplicates across the reconnect** (a resume that replayed
//!   too much).
//!
//! These are counted apart from, and *also* in, the run's `lost` and `duplicates`, which keep
//! their meaning (events missing from, or repeated in, a subscriber's sequence).
//!
//! Each (re)connection's answer also carries the feed's epoch (`feed_epoch.rs`). When it is
//! not the one the subscriber remembers, the feed started over and `N` means nothing in it:
//! the sequence tracking starts afresh, the restart is counted, and the subscriber subscribes
//! again live instead of after `N` (see [`Meter::answered`](super::meter::Meter::answered)).
//!
//! **Time to reconnect** is from the moment the drop was noticed to the new connection's
//! answer: the WebSocket upgrade's `101`, the SSE or poll response head, or, for the raw-TCP
//! floor that has no answer, its first event.

use std::time::{Duration, Instant};

use crate::feed_epoch::{EpochVerdict, FeedEpoch};
use crate::sequence::SeqVerdict;
use crate::tally::ResumeTally;

/// One subscriber's memory across its connections.
#[derive(Debug, Default)]
pub struct Resumption {
    epoch: FeedEpoch,
    /// When the current outage began, until the new connection answers.
    dropped_at: Option<Instant>,
    /// After a reconnect, until the first event that is not a duplicate: the seam.
    at_seam: bool,
}

impl Resumption {
    /// The connection dropped at `now`: the next answer ends an outage, and the next events
    /// are at the seam.
    pub fn dropped(&mut self, now: Instant, tally: &mut ResumeTally) {
        // A failure during an outage (a reconnect refused, or connected and lost before it
        // answered) is the same outage, not another drop.
        if self.dropped_at.is_none() {
            tally.drops += 1;
            self.dropped_at = Some(now);
        }
        self.at_seam = true;
    }

    /// A connection answered with `epoch`. Returns whether the feed restarted.
    pub fn answered(&mut self, epoch: Option<u64>, tally: &mut ResumeTally) -> EpochVerdict {
        let verdict = self.epoch.answered(epoch);
        if verdict == EpochVerdict::Restarted {
            tally.feed_restarts += 1;
            // A new feed: nothing of it was seen, so there is no seam to judge.
            self.at_seam = false;
        }
        verdict
    }

    /// The outage is over (the new connection answered): how long it lasted, once; it counts
    /// as one reconnect.
    pub fn take_outage(&mut self, tally: &mut ResumeTally) -> Option<Duration> {
        let outage = self.dropped_at.take()?.elapsed();
        tally.reconnects += 1;
        Some(outage)
    }

    /// Whether an outage is going on (dropped, not yet answered).
    pub fn in_outage(&self) -> bool {
        self.dropped_at.is_some()
    }

    /// One event received, with its sequence verdict: judged at the seam.
    pub fn observe(&mut self, verdict: SeqVerdict, tally: &mut ResumeTally) {
        if !self.at_seam {
            return;
        }
        match verdict {
            SeqVerdict::Duplicate => tally.duplicates_across += 1,
            SeqVerdict::Gap(missing) => {
                tally.lost_across += missing;
                self.at_seam = false;
            }
            SeqVerdict::InOrder | SeqVerdict::OutOfOrder => self.at_seam = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sequence::SeqTracker;

    /// Feeds `seqs` through a tracker and the resumption, as the meter does.
    fn receive(r: &mut Resumption, t: &mut SeqTracker, tally: &mut ResumeTally, seqs: &[u64]) {
        for &s in seqs {
            r.observe(t.observe(s), tally);
        }
    }

    #[test]
    fn a_clean_resume_loses_nothing_and_a_gap_at_the_seam_is_lost_across() {
        let (mut r, mut t, mut tally) = Default::default();
        receive(&mut r, &mut t, &mut tally, &[1, 2, 3]);
        r.dropped(Instant::now(), &mut tally);
        assert_eq!(r.answered(None, &mut tally), EpochVerdict::SameFeed);
        assert!(r.take_outage(&mut tally).is_some());
        receive(&mut r, &mut t, &mut tally, &[4, 5]);
        assert_eq!(tally.lost_across, 0);
        r.dropped(Instant::now(), &mut tally);
        // The raw-TCP floor comes back live: 6..=8 went by while it was away.
        receive(&mut r, &mut t, &mut tally, &[9, 10, 12]);
        assert_eq!(tally.lost_across, 3, "only the seam's gap, not 11 later");
        assert_eq!(t.lost(), 4, "the run's loss counts both, as before");
        assert_eq!((tally.drops, tally.reconnects), (2, 1));
    }

    #[test]
    fn a_replay_from_too_far_back_is_duplicates_across() {
        let (mut r, mut t, mut tally) = Default::default();
        receive(&mut r, &mut t, &mut tally, &[1, 2, 3, 4]);
        r.dropped(Instant::now(), &mut tally);
        receive(&mut r, &mut t, &mut tally, &[2, 3, 4, 5, 6, 4]);
        assert_eq!(tally.duplicates_across, 3, "the last 4 is past the seam");
        assert_eq!(t.duplicates(), 4);
    }

    #[test]
    fn a_restarted_feed_is_counted_and_leaves_no_seam() {
        let (mut r, mut t, mut tally): (Resumption, SeqTracker, ResumeTally) = Default::default();
        assert_eq!(r.answered(Some(1), &mut tally), EpochVerdict::SameFeed);
        receive(&mut r, &mut t, &mut tally, &[1, 2, 3, 4, 5]);
        r.dropped(Instant::now(), &mut tally);
        assert!(r.in_outage());
        assert_eq!(r.answered(Some(2), &mut tally), EpochVerdict::Restarted);
        // The meter restarts the tracker on a restart; the new feed starts at 1.
        t.restart();
        receive(&mut r, &mut t, &mut tally, &[1, 2]);
        assert_eq!(tally.feed_restarts, 1);
        assert_eq!((tally.lost_across, tally.duplicates_across), (0, 0));
        assert_eq!((t.lost(), t.duplicates(), t.out_of_order()), (0, 0, 0));
        assert!(r.take_outage(&mut tally).is_some());
        assert!(
            r.take_outage(&mut tally).is_none(),
            "an outage is timed once"
        );
        assert_eq!(tally.reconnects, 1);
    }

    #[test]
    fn drops_in_one_outage_are_timed_from_the_first() {
        let (mut r, mut tally): (Resumption, ResumeTally) = Default::default();
        let first = Instant::now() - Duration::from_millis(300);
        r.dropped(first, &mut tally);
        r.dropped(Instant::now(), &mut tally);
        let outage = r.take_outage(&mut tally).unwrap();
        assert!(outage >= Duration::from_millis(300), "{outage:?}");
        assert_eq!((tally.drops, tally.reconnects), (1, 1));
    }
}
