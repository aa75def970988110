//! Which events' latencies go into the histogram: one population, decided by seq.
//!
//! **One latency population.** The latency histogram holds exactly one sample per event of the
//! window's range `(S0, S1]` per subscriber that received it, whenever it arrived: the same
//! events `events_in_range` counts, so the two are equal. Timing "every event that arrived in the
//! window" as well would mix in a second population, the events published *before* the window
//! that arrived late inside it, and over-sample exactly the slow events (at 10 000 subscribers
//! one such run held 254 671 samples for 199 479 events). Arrival time decides only the window's
//! *bytes* and `events_received` (a rate: events arriving per second of window). Only without
//! `/stats` (no `S0`, so no range) is the population the distinct events that arrived in the
//! window.
//!
//! **Deciding late.** `S0` is read a few ms into the window and `S1` a few ms after it
//! (`control.rs`), so an event may arrive before its range is known. [`LatencyPopulation`]
//! keeps such events aside (seq, latency, and when it arrived) and decides at the subscriber's
//! end, in [`settle`](LatencyPopulation::settle); a `/stats` that never answers `S0` is given up
//! on there, for every subscriber at once, so that all of them fall back alike.

use std::sync::Arc;

use rtlab_wire::Seq;

use crate::recorder::Recorder;
use crate::sample::Sample;
use crate::tally::Tally;
use crate::window_seq::{InRange, SeqBound, WindowSeqs};

/// Most received seqs kept aside while `S0` or `S1` is still unknown (a few ms' worth normally).
const MAX_PENDING: usize = 1 << 16;

/// One received event whose range is not known yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    seq: Seq,
    /// Received (by the clock) before the window's end.
    before_end: bool,
    latency_us: u64,
    /// Arrived in the window phase (for the fallback population).
    in_window: bool,
}

/// One subscriber's share of the latency population.
#[derive(Debug)]
pub struct LatencyPopulation {
    window_seqs: Arc<WindowSeqs>,
    pending: Vec<Pending>,
}

impl LatencyPopulation {
    /// Decides by the run's `S0` and `S1`.
    pub fn new(window_seqs: Arc<WindowSeqs>) -> Self {
        Self {
            window_seqs,
            pending: Vec::new(),
        }
    }

    /// A fresh (not duplicate) event `seq`, received after the window's start: counts and
    /// times it if it is one of the window's, keeps it aside if that cannot be told yet.
    pub fn observe(
        &mut self,
        seq: Seq,
        before_end: bool,
        latency_us: u64,
        in_window: bool,
        tally: &mut Tally,
        recorder: &mut Recorder,
    ) {
        match self.window_seqs.classify(seq, before_end) {
            // Published in the window: counted and timed once, whenever it arrives.
            InRange::Yes => in_range(latency_us, tally, recorder),
            InRange::No => self.out_of_range(in_window, latency_us, recorder),
            InRange::Undecided if self.pending.len() < MAX_PENDING => {
                self.pending.push(Pending {
                    seq,
                    before_end,
                    latency_us,
                    in_window,
                });
            }
            // Too many undecided (S0 or S1 very late): neither counted nor timed, so the
            // histogram still matches `in_range`.
            InRange::Undecided => {}
        }
    }

    /// Decides the events kept aside, at the subscriber's end; `drain_over` says whether it
    /// has waited out the window and a whole (minimum) drain.
    pub fn settle(&mut self, drain_over: bool, tally: &mut Tally, recorder: &mut Recorder) {
        // Waited out the window and a full drain without `S0`: `/stats` is not answering. Give
        // up on it for the whole run, so that these events fall in the fallback population here
        // and in every other subscriber alike (a subscriber lost earlier just drops them).
        if !self.pending.is_empty() && self.window_seqs.start() == SeqBound::Unknown && drain_over {
            self.window_seqs.give_up_start();
        }
        for p in std::mem::take(&mut self.pending) {
            match self.window_seqs.classify(p.seq, p.before_end) {
                InRange::Yes => in_range(p.latency_us, tally, recorder),
                InRange::No | InRange::Undecided => {
                    self.out_of_range(p.in_window, p.latency_us, recorder);
                }
            }
        }
    }

    /// An event outside the window's range, or one whose range cannot be known: timed only in the
    /// fallback without `/stats` (no `S0`), where the population is the window's arrivals.
    fn out_of_range(&self, arrived_in_window: bool, latency_us: u64, recorder: &mut Recorder) {
        if arrived_in_window && self.window_seqs.start() == SeqBound::Unavailable {
            recorder.push(Sample::Latency(latency_us));
        }
    }
}

/// An event of the window's range `(S0, S1]`, received for the first time.
fn in_range(latency_us: u64, tally: &mut Tally, recorder: &mut Recorder) {
    tally.in_range += 1;
    recorder.push(Sample::Latency(latency_us));
}
