//! Latency histograms: the only module that touches HdrHistogram.
//!
//! Why HdrHistogram: latency distributions of real-time systems have long tails, and the tail is
//! the story (a p99 of 40 ms under a p50 of 0.3 ms). HdrHistogram records every value into
//! logarithmic buckets with a fixed relative precision (here 3 significant digits: ±0.1 %) over a
//! fixed range (here 1 µs to 60 s), in constant memory and constant time per value, and
//! histograms *add*: shards of one run, runs of several processes, runs of several machines merge
//! exactly. That is why the report also carries the histogram itself (V2 serialization, base64).
//!
//! [`LatencyHistograms`] is the run's histograms with `push`/`merge`; [`HistogramShard`] is one
//! behind a lock that many subscribers' sample buffers (`recorder.rs`) flush into;
//! [`EncodedHistograms`] is the same in V2 base64, as a shard process hands them to its parent. (The name says
//! what they hold: the server's `/stats` document and its atomic counters are other things.)

use std::sync::Mutex;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use serde::{Deserialize, Serialize};

use crate::report::LatencySummary;
use crate::sample::Sample;

/// Lowest recordable value: 1 µs.
pub const LOWEST_US: u64 = 1;
/// Highest recordable value: 60 s, in µs. Larger values are clamped to it.
pub const HIGHEST_US: u64 = 60_000_000;
/// Significant decimal digits kept (relative precision 10⁻³).
pub const SIGFIG: u8 = 3;

/// A histogram with the lab's bounds.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that HdrHistogram accepts; a failure is a programming error.
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGFIG).expect("valid histogram bounds")
}

/// The distributions of one run (or one shard of it).
#[derive(Debug, Clone)]
pub struct LatencyHistograms {
    /// Event latency, µs.
    pub latency: Histogram<u64>,
    /// TCP connect time (the dial alone), µs.
    pub tcp_connect: Histogram<u64>,
    /// TLS handshake time (after the dial), µs; empty without TLS.
    pub tls_handshake: Histogram<u64>,
    /// Connect + set-up time, µs.
    pub connect: Histogram<u64>,
    /// Connect start → first event, µs.
    pub first_event: Histogram<u64>,
    /// Publish → receive, from the scheduled send time, µs.
    pub round_trip: Histogram<u64>,
    /// Time to reconnect after a dropped connection, µs (`subscriber/resume.rs`).
    pub reconnect: Histogram<u64>,
}

impl Default for LatencyHistograms {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistograms {
    /// Empty distributions.
    pub fn new() -> Self {
        Self {
            latency: new_histogram(),
            tcp_connect: new_histogram(),
            tls_handshake: new_histogram(),
            connect: new_histogram(),
            first_event: new_histogram(),
            round_trip: new_histogram(),
            reconnect: new_histogram(),
        }
    }

    /// Records one sample (values outside 1 µs..60 s are clamped into it).
    pub fn push(&mut self, sample: Sample) {
        let (h, v) = match sample {
            Sample::Latency(v) => (&mut self.latency, v),
            Sample::TcpConnect(v) => (&mut self.tcp_connect, v),
            Sample::TlsHandshake(v) => (&mut self.tls_handshake, v),
            Sample::Connect(v) => (&mut self.connect, v),
            Sample::FirstEvent(v) => (&mut self.first_event, v),
            Sample::RoundTrip(v) => (&mut self.round_trip, v),
            Sample::Reconnect(v) => (&mut self.reconnect, v),
        };
        h.saturating_record(v.clamp(LOWEST_US, HIGHEST_US));
    }

    /// Adds another run's or shard's distributions to these.
    pub fn merge(&mut self, other: &LatencyHistograms) {
        // Same bounds on both sides, so adding cannot fail; saturate rather than panic anyway.
        let _ = self.latency.add(&other.latency);
        let _ = self.tcp_connect.add(&other.tcp_connect);
        let _ = self.tls_handshake.add(&other.tls_handshake);
        let _ = self.connect.add(&other.connect);
        let _ = self.first_event.add(&other.first_event);
        let _ = self.round_trip.add(&other.round_trip);
        let _ = self.reconnect.add(&other.reconnect);
    }
}

/// A [`LatencyHistograms`] shared by several subscribers.
#[derive(Debug, Default)]
pub struct HistogramShard {
    inner: Mutex<LatencyHistograms>,
}

impl HistogramShard {
    /// Records a batch of samples under one lock.
    pub fn push_all(&self, samples: &[Sample]) {
        let mut histograms = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for &s in samples {
            histograms.push(s);
        }
    }

    /// Adds this shard's distributions to `total`.
    pub fn merge_into(&self, total: &mut LatencyHistograms) {
        let histograms = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        total.merge(&histograms);
    }
}

/// p50/p90/p99/p99.9/max/mean of a histogram, µs.
pub fn summarize(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: h.len(),
        p50: h.value_at_quantile(0.50) as f64,
        p90: h.value_at_quantile(0.90) as f64,
        p99: h.value_at_quantile(0.99) as f64,
        p999: h.value_at_quantile(0.999) as f64,
        max: h.max() as f64,
        mean: h.mean(),
    }
}

/// HdrHistogram V2 serialization of `h`, base64 (the form HdrHistogram's own tools exchange).
pub fn to_base64(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    // Serializing into a Vec only fails for histograms too large to encode, which ours are not.
    match V2Serializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(&buf),
        Err(_) => String::new(),
    }
}

/// Why a serialized histogram could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum HistogramDecodeError {
    /// Not base64.
    #[error("histogram is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not an HdrHistogram V2 serialization.
    #[error("histogram is not an HdrHistogram V2 serialization: {0:?}")]
    Hdr(hdrhistogram::serialization::DeserializeError),
}

/// Reads back a histogram written by [`to_base64`] (e.g. `RunReport::latency_histogram_b64`), so
/// runs from several processes can be merged with `Histogram::add`.
pub fn from_base64(b64: &str) -> Result<Histogram<u64>, HistogramDecodeError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim())?;
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(HistogramDecodeError::Hdr)
}

/// The distributions of [`LatencyHistograms`], each as [`to_base64`] writes it: how they
/// cross a process boundary without losing a count (a shard's answer, see [`crate::shards`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedHistograms {
    /// Event latency.
    pub latency: String,
    /// TCP connect time.
    pub tcp_connect: String,
    /// TLS handshake time (empty string in answers that predate it).
    #[serde(default)]
    pub tls_handshake: String,
    /// Connect + set-up time.
    pub connect: String,
    /// Connect start → first event.
    pub first_event: String,
    /// Publish round trip.
    pub round_trip: String,
    /// Time to reconnect (empty string in answers that predate it).
    #[serde(default)]
    pub reconnect: String,
}

impl EncodedHistograms {
    /// Encodes `h`.
    pub fn encode(h: &LatencyHistograms) -> Self {
        Self {
            latency: to_base64(&h.latency),
            tcp_connect: to_base64(&h.tcp_connect),
            tls_handshake: to_base64(&h.tls_handshake),
            connect: to_base64(&h.connect),
            first_event: to_base64(&h.first_event),
            round_trip: to_base64(&h.round_trip),
            reconnect: to_base64(&h.reconnect),
        }
    }

    /// Decodes them back, adding each into the lab's bounds (so that a merge cannot fail on a
    /// histogram whose range the serialization shrank).
    pub fn decode(&self) -> Result<LatencyHistograms, HistogramDecodeError> {
        let mut h = LatencyHistograms::new();
        let optional = |b64: &str| {
            if b64.is_empty() {
                Ok(new_histogram())
            } else {
                from_base64(b64)
            }
        };
        let decoded = LatencyHistograms {
            latency: from_base64(&self.latency)?,
            tcp_connect: from_base64(&self.tcp_connect)?,
            tls_handshake: optional(&self.tls_handshake)?,
            connect: from_base64(&self.connect)?,
            first_event: from_base64(&self.first_event)?,
            round_trip: from_base64(&self.round_trip)?,
            reconnect: optional(&self.reconnect)?,
        };
        h.merge(&decoded);
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_merge_and_summarize() {
        let mut a = LatencyHistograms::new();
        let mut b = LatencyHistograms::new();
        for v in 1..=100 {
            a.push(Sample::Latency(v));
        }
        for v in 101..=200 {
            b.push(Sample::Latency(v));
        }
        a.merge(&b);
        let s = summarize(&a.latency);
        assert_eq!(s.count, 200);
        assert_eq!(s.p50, 100.0);
        assert_eq!(s.max, 200.0);
        assert!((s.mean - 100.5).abs() < 0.01);
    }

    #[test]
    fn each_kind_lands_in_its_own_histogram_and_merges() {
        let mut a = LatencyHistograms::new();
        a.push(Sample::TcpConnect(40_000));
        a.push(Sample::Connect(80_000));
        let mut b = LatencyHistograms::new();
        b.push(Sample::TcpConnect(41_000));
        a.merge(&b);
        assert_eq!(a.tcp_connect.len(), 2);
        assert_eq!(a.connect.len(), 1);
        assert_eq!(
            a.latency.len() + a.first_event.len() + a.round_trip.len(),
            0
        );
        // ±0.1 %: HdrHistogram's buckets at three significant digits.
        let p50 = summarize(&a.tcp_connect).p50;
        assert!((40_000.0..=40_040.0).contains(&p50), "{p50}");
    }

    #[test]
    fn out_of_range_values_are_clamped_not_lost() {
        let mut s = LatencyHistograms::new();
        s.push(Sample::Latency(0));
        s.push(Sample::Latency(u64::MAX));
        assert_eq!(s.latency.len(), 2);
        assert!(s.latency.max() >= HIGHEST_US);
    }

    #[test]
    fn base64_round_trip() {
        let mut s = LatencyHistograms::new();
        for v in [3, 30, 300, 3000, 30_000] {
            s.push(Sample::Latency(v));
        }
        let back = from_base64(&to_base64(&s.latency)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), s.latency.max());
        assert!(from_base64("!!").is_err());
        s.push(Sample::Reconnect(120_000));
        let all = EncodedHistograms::encode(&s).decode().unwrap();
        assert_eq!(all.latency, s.latency);
        assert_eq!(all.reconnect.len(), 1);
        let mut old = EncodedHistograms::encode(&s);
        old.reconnect.clear();
        assert_eq!(
            old.decode().unwrap().reconnect.len(),
            0,
            "older shards had none"
        );
        assert_eq!((all.connect.len(), all.round_trip.len()), (0, 0));
    }
}
