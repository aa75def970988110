//! A subscriber's sample buffer, and the live counters the progress line reads.
//!
//! A subscriber puts its [`Sample`]s into a small reused buffer, the [`Recorder`]; when the
//! buffer is full it is handed in one lock to a [`HistogramShard`], the only place that records
//! into HdrHistograms. A few shards (a couple per worker thread) are shared by all subscribers
//! and merged once at the end by the collector, so 10 000 subscribers cost a handful of
//! histograms, not 10 000, and the receive path allocates nothing for its measurements.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::histograms::HistogramShard;
use crate::sample::Sample;

/// Samples buffered before a flush.
const BUFFER: usize = 256;
/// A buffer is flushed at least this often, so the progress bar moves at low rates.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Counters every subscriber adds to, read by the progress bar while the run goes on.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Subscribers connected now.
    pub connected: AtomicU64,
    /// Subscribers that ever finished set-up.
    pub ever_connected: AtomicU64,
    /// Events received so far, warm-up included (updated at each flush, so it lags a little).
    pub events: AtomicU64,
}

/// A subscriber's sample buffer.
#[derive(Debug)]
pub struct Recorder {
    buf: Vec<Sample>,
    shard: Arc<HistogramShard>,
    live: Arc<LiveCounters>,
    events_since_flush: u64,
    last_flush: Instant,
}

impl Recorder {
    /// A recorder that flushes into `shard`.
    pub fn new(shard: Arc<HistogramShard>, live: Arc<LiveCounters>) -> Self {
        Self {
            buf: Vec::with_capacity(BUFFER),
            shard,
            live,
            events_since_flush: 0,
            last_flush: Instant::now(),
        }
    }

    /// The live counters this recorder reports into.
    pub fn live(&self) -> &Arc<LiveCounters> {
        &self.live
    }

    /// Buffers one sample.
    pub fn push(&mut self, sample: Sample) {
        self.buf.push(sample);
        if self.buf.len() >= BUFFER {
            self.flush();
        }
    }

    /// Counts one received event (warm-up included) for the progress line; flushes when the
    /// last flush is 200 ms old, so the line moves even at low rates.
    pub fn note_event(&mut self) {
        self.events_since_flush += 1;
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Hands the buffered samples to the shard.
    pub fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.shard.push_all(&self.buf);
            self.buf.clear();
        }
        self.live
            .events
            .fetch_add(self.events_since_flush, Ordering::Relaxed);
        self.events_since_flush = 0;
        self.last_flush = Instant::now();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histograms::LatencyHistograms;

    #[test]
    fn samples_reach_the_shard_on_flush_and_drop() {
        let shard = Arc::new(HistogramShard::default());
        let live = Arc::new(LiveCounters::default());
        let mut r = Recorder::new(shard.clone(), live.clone());
        for i in 0..300 {
            r.push(Sample::Latency(100 + i));
            r.note_event();
        }
        r.push(Sample::Connect(50));
        drop(r);
        let mut total = LatencyHistograms::new();
        shard.merge_into(&mut total);
        assert_eq!(total.latency.len(), 300);
        assert_eq!(total.connect.len(), 1);
        assert_eq!(live.events.load(Ordering::Relaxed), 300);
    }
}
