//! Is the feed complete? Per-subscriber sequence tracking.
//!
//! Every event carries `seq`, numbered from 1 without gaps by the server's hub, so one
//! subscriber can judge its own delivery from the numbers alone, with no help from the server:
//!
//! - a jump forward (`…41, 43`) means **lost** events (here one: 42);
//! - a number that fills an earlier hole (`…41, 43, 42`) arrived **out of order**: it was counted
//!   lost when 43 came, and is taken back off the lost count now;
//! - a number already seen is a **duplicate** (a resumption that replayed too much, for example).
//!
//! The first event a subscriber sees sets its starting point (it cannot have lost what was
//! published before it subscribed). Holes are kept as ranges, so a subscriber that misses a
//! million events costs one range, and the usual, gap-free stream allocates nothing at all.

use std::collections::BTreeMap;

use rtlab_wire::Seq;

/// What happened to one received `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// The next expected event, or the first one.
    InOrder,
    /// Ahead of the expected one: this many events were skipped.
    Gap(u64),
    /// Filled an earlier hole.
    OutOfOrder,
    /// Seen before.
    Duplicate,
}

/// Sequence bookkeeping of one subscriber.
#[derive(Debug, Default, Clone)]
pub struct SeqTracker {
    /// Highest seq seen so far (0: none yet).
    highest: Seq,
    /// Holes below `highest`: start → end (exclusive) of runs of missing seqs.
    holes: BTreeMap<Seq, Seq>,
    /// Events currently missing (grows on gaps, shrinks when a late event fills a hole).
    lost: u64,
    duplicates: u64,
    out_of_order: u64,
}

impl SeqTracker {
    /// A tracker that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker that expects `after + 1` next, as a resuming or polling client does.
    pub fn starting_after(after: Seq) -> Self {
        Self {
            highest: after,
            ..Self::default()
        }
    }

    /// Highest seq seen (or the starting point), 0 if none.
    pub fn highest(&self) -> Seq {
        self.highest
    }

    /// Events missing now (gaps not filled later).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Events received more than once.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Events that arrived after a later one.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// The feed started over (another epoch, `feed_epoch.rs`): forgets where it was and its
    /// holes, so that the new feed's first event is a fresh start, neither a jump back nor a
    /// gap; the counts so far are kept (they were real, in the old feed).
    pub fn restart(&mut self) {
        self.highest = 0;
        self.holes.clear();
    }

    /// Records one received seq.
    pub fn observe(&mut self, seq: Seq) -> SeqVerdict {
        if self.highest == 0 {
            self.highest = seq;
            return SeqVerdict::InOrder;
        }
        if seq == self.highest + 1 {
            self.highest = seq;
            return SeqVerdict::InOrder;
        }
        if seq > self.highest {
            let missing = seq - self.highest - 1;
            self.holes.insert(self.highest + 1, seq);
            self.highest = seq;
            self.lost += missing;
            return SeqVerdict::Gap(missing);
        }
        // seq <= highest: either it fills a hole or we saw it already.
        let hole = self
            .holes
            .range(..=seq)
            .next_back()
            .map(|(&start, &end)| (start, end));
        match hole {
            Some((start, end)) if seq < end => {
                self.holes.remove(&start);
                if start < seq {
                    self.holes.insert(start, seq);
                }
                if seq + 1 < end {
                    self.holes.insert(seq + 1, end);
                }
                self.lost -= 1;
                self.out_of_order += 1;
                SeqVerdict::OutOfOrder
            }
            _ => {
                self.duplicates += 1;
                SeqVerdict::Duplicate
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(seqs: &[Seq]) -> SeqTracker {
        let mut t = SeqTracker::new();
        for &s in seqs {
            t.observe(s);
        }
        t
    }

    #[test]
    fn consecutive_is_clean_from_any_start() {
        let t = feed(&[41, 42, 43, 44]);
        assert_eq!((t.lost(), t.duplicates(), t.out_of_order()), (0, 0, 0));
        assert_eq!(t.highest(), 44);
    }

    #[test]
    fn a_jump_is_loss() {
        let mut t = feed(&[1, 2]);
        assert_eq!(t.observe(5), SeqVerdict::Gap(2));
        assert_eq!(t.lost(), 2);
    }

    #[test]
    fn a_late_event_fills_its_hole_and_is_out_of_order() {
        let mut t = feed(&[1, 2, 6]);
        assert_eq!(t.lost(), 3);
        assert_eq!(t.observe(4), SeqVerdict::OutOfOrder);
        assert_eq!(t.observe(3), SeqVerdict::OutOfOrder);
        assert_eq!(t.observe(5), SeqVerdict::OutOfOrder);
        assert_eq!((t.lost(), t.out_of_order(), t.duplicates()), (0, 3, 0));
        assert!(t.holes.is_empty());
    }

    #[test]
    fn repeats_are_duplicates_not_reordering() {
        let mut t = feed(&[1, 2, 3]);
        assert_eq!(t.observe(2), SeqVerdict::Duplicate);
        assert_eq!(t.observe(3), SeqVerdict::Duplicate);
        let mut u = feed(&[1, 4]);
        u.observe(2);
        assert_eq!(u.observe(2), SeqVerdict::Duplicate);
        assert_eq!((u.lost(), u.out_of_order(), u.duplicates()), (1, 1, 1));
    }

    #[test]
    fn starting_after_counts_loss_from_the_first_event() {
        let mut t = SeqTracker::starting_after(10);
        assert_eq!(t.observe(12), SeqVerdict::Gap(1));
        assert_eq!(t.lost(), 1);
    }

    #[test]
    fn a_restarted_feed_starts_over_and_keeps_the_old_counts() {
        let mut t = feed(&[1, 2, 4, 4]);
        t.restart();
        assert_eq!(t.highest(), 0);
        // The new feed's numbers are neither duplicates of the old ones nor a gap.
        assert_eq!(t.observe(1), SeqVerdict::InOrder);
        assert_eq!(t.observe(2), SeqVerdict::InOrder);
        assert_eq!(t.observe(3), SeqVerdict::InOrder);
        assert_eq!((t.lost(), t.duplicates(), t.out_of_order()), (1, 1, 0));
        // The old hole (3) is gone with the old feed: the new 3 did not fill it.
        assert!(t.holes.is_empty());
    }

    #[test]
    fn big_gaps_are_cheap() {
        let t = feed(&[1, 1_000_001]);
        assert_eq!(t.lost(), 999_999);
        assert_eq!(t.holes.len(), 1);
    }
}
