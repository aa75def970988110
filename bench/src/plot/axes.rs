//! Axis ranges and category labels: where a chart's axes start and end.
//!
//! Data that span decades (clients 1 … 10 000, payload 16 B … 64 KiB, latency µs … s) get a log
//! axis from the decade below the smallest value to the decade above the largest, so every
//! chart of one quantity has round bounds; linear axes start at zero, so that bar heights and
//! line heights compare honestly.

use std::ops::Range;

/// The label of a category axis position: the name at an integer position, nothing between.
pub fn category<S: AsRef<str>>(names: &[S], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    names
        .get(i as usize)
        .map(|n| n.as_ref().to_owned())
        .unwrap_or_default()
}

/// Decade bounds for a log axis covering `values` (positive ones only).
pub fn log_bounds(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| *v > 0.0 && v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 1.0..10.0;
    }
    let lo = 10f64.powf(lo.log10().floor());
    let mut hi = 10f64.powf(hi.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    lo..hi
}

/// `0 .. max × 1.15` for a linear axis.
pub fn lin_bounds(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let hi = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    0.0..if hi > 0.0 { hi * 1.15 } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(log_bounds([3.0, 4500.0]), 1.0..10_000.0);
        assert_eq!(log_bounds([]), 1.0..10.0);
        assert_eq!(log_bounds([100.0]), 100.0..1000.0);
    }
}
