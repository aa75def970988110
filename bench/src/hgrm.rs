//! Latency distributions: decoding the client's histogram and writing HdrHistogram `.hgrm` files.
//!
//! A mean or a single p99 hides the shape of a latency distribution. The HdrHistogram way is to
//! plot **latency against percentile** with the x axis stretched by `1 / (1 − p)`: 50 % sits at 2,
//! 90 % at 10, 99 % at 100, 99.9 % at 1 000. On a log axis each "nine" gets the same width, so the
//! tail, where transports really differ (a long poll's reconnect, a short poll's interval, a
//! queue that backs up), is as visible as the median.
//!
//! The client stores its histogram in HdrHistogram's V2 serialization, base64-encoded, so that the
//! lab can redraw and merge it later. This module decodes it (with the client's own
//! [`from_base64`]) and walks its percentiles for the charts; the `.hgrm` files themselves (the
//! classic text HdrHistogram's plotter and tools read, values in milliseconds) are written by the
//! client's own `rtlab_client::write_hgrm`, so a lab run and a `rtlab-client --hgrm` agree.

use hdrhistogram::Histogram;
use rtlab_client::histograms::from_base64;

/// Decodes the client's base64 V2 histogram (values in µs). `None` if empty or malformed.
pub fn decode(b64: &str) -> Option<Histogram<u64>> {
    from_base64(b64).ok()
}

/// One point of a percentile curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentilePoint {
    /// Quantile, 0 ≤ q < 1 (the 100 % point is left out: its `1/(1−q)` is infinite).
    pub quantile: f64,
    /// `1 / (1 − q)`: the x coordinate of the HdrHistogram plot.
    pub x: f64,
    /// Latency at that quantile, in µs.
    pub value_us: f64,
    /// Values recorded up to this point.
    pub total_count: u64,
}

/// Walks the distribution, five steps per halving of the remaining tail (as HdrHistogram does).
pub fn percentile_points(h: &Histogram<u64>) -> Vec<PercentilePoint> {
    let mut out: Vec<PercentilePoint> = Vec::new();
    let mut total = 0;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        if q >= 1.0 {
            continue;
        }
        out.push(PercentilePoint {
            quantile: q,
            x: 1.0 / (1.0 - q),
            value_us: h.highest_equivalent(v.value_iterated_to()) as f64,
            total_count: total,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtlab_client::histograms::to_base64;

    fn sample() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap();
        }
        h
    }

    #[test]
    fn round_trips_through_base64_v2() {
        let h = sample();
        let b64 = to_base64(&h);
        let back = decode(&b64).unwrap();
        assert_eq!(back.len(), 1000);
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert!(decode("").is_none());
        assert!(decode("not base64!").is_none());
    }

    #[test]
    fn percentile_points_climb_towards_the_tail() {
        let pts = percentile_points(&sample());
        assert!(pts.len() > 20);
        assert!(
            pts.windows(2)
                .all(|w| w[0].x <= w[1].x && w[0].value_us <= w[1].value_us)
        );
        let p50 = pts.iter().find(|p| p.quantile >= 0.5).unwrap();
        assert!((p50.value_us - 5000.0).abs() < 20.0, "{p50:?}");
    }
}
