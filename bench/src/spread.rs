//! Spread: a figure measured several times is a median and a range, and two ranges that overlap
//! do not tell two transports apart.
//!
//! One 2-second window on a shared 2-core machine is one draw from a noisy distribution: two runs
//! of the same suite have disagreed by more than 50 % on a p99. So a case can run `repeat` times
//! (each with a fresh server, see the `repeat` module), and every headline figure becomes a
//! [`Spread`]: the **median** of the repetitions (robust to one bad window, unlike the mean) and
//! the **min–max** range (the simplest honest statement of how far they scattered; with 3–5
//! repetitions a bootstrap interval would claim more precision than the data hold).
//!
//! [`compare`] is the one place where the report decides that one transport's figure is lower or
//! higher than another's: only when the two ranges do not overlap. Otherwise the difference is
//! *within noise* and the report says so instead of ranking. With one repetition each a range is
//! a single point, so the comparison is the plain `<` it always was; the report says once that such
//! figures carry no spread.
//!
//! What a statistician would add: more repetitions and a test with a stated error rate (e.g. a
//! Mann–Whitney U test). Non-overlapping min–max ranges of 3 repetitions are a conservative,
//! easily explained rule, not a significance test.

use std::cmp::Ordering;

/// A figure over one or more repetitions: median, smallest, largest, and how many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median of the repetitions (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest repetition.
    pub min: f64,
    /// The largest repetition.
    pub max: f64,
    /// How many repetitions had the figure.
    pub n: usize,
}

impl Spread {
    /// The spread of the finite values (`None` if there are none): NaN and infinities are
    /// figures that were not measured, not measurements.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }

    /// The range widened by `by` on each side (the median unchanged): a measurement known only
    /// to ±`by`.
    pub fn widened(&self, by: f64) -> Spread {
        Spread {
            min: self.min - by.abs(),
            max: self.max + by.abs(),
            ..*self
        }
    }

    /// A single measurement: no spread.
    pub fn single(value: f64) -> Spread {
        Spread {
            median: value,
            min: value,
            max: value,
            n: 1,
        }
    }

    /// Whether this is more than one measurement.
    pub fn has_spread(&self) -> bool {
        self.n > 1
    }

    /// Whether the two min–max ranges share at least one value.
    pub fn overlaps(&self, other: &Spread) -> bool {
        self.min <= other.max && other.min <= self.max
    }

    /// `median (min–max)`, each number written by `fmt`; just the median for one repetition.
    pub fn cell(&self, fmt: impl Fn(f64) -> String) -> String {
        if self.has_spread() {
            format!("{} ({}–{})", fmt(self.median), fmt(self.min), fmt(self.max))
        } else {
            fmt(self.median)
        }
    }
}

/// How figure `a` stands against figure `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Clearly lower: `a`'s range lies below `b`'s.
    Lower,
    /// Clearly higher: `a`'s range lies above `b`'s.
    Higher,
    /// The ranges overlap (or, for single measurements, the values are equal): the data do not
    /// say which is lower.
    WithinNoise,
}

impl Comparison {
    /// As an ordering when the data decide one, `None` when within noise.
    pub fn ordering(self) -> Option<Ordering> {
        match self {
            Comparison::Lower => Some(Ordering::Less),
            Comparison::Higher => Some(Ordering::Greater),
            Comparison::WithinNoise => None,
        }
    }

    /// The sign written between two figures in a ranking: `<`, `>` or `≈`.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Lower => "<",
            Comparison::Higher => ">",
            Comparison::WithinNoise => "≈",
        }
    }
}

/// Compares two figures: lower or higher only when their ranges do not overlap.
pub fn compare(a: &Spread, b: &Spread) -> Comparison {
    if a.max < b.min {
        Comparison::Lower
    } else if a.min > b.max {
        Comparison::Higher
    } else {
        Comparison::WithinNoise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[f64]) -> Spread {
        Spread::of(v.iter().copied()).expect("values")
    }

    #[test]
    fn median_min_max_of_odd_and_even_counts() {
        let a = s(&[3.0, 1.0, 2.0]);
        assert_eq!((a.median, a.min, a.max, a.n), (2.0, 1.0, 3.0, 3));
        let b = s(&[4.0, 1.0, 2.0, 10.0]);
        assert_eq!((b.median, b.min, b.max, b.n), (3.0, 1.0, 10.0, 4));
        // Values that were not measured are left out, and nothing measured is no spread at all.
        assert_eq!(s(&[f64::NAN, 5.0]).n, 1);
        assert_eq!(Spread::of([f64::NAN]), None);
    }

    #[test]
    fn disjoint_ranges_order_overlapping_ones_are_noise() {
        let low = s(&[1.0, 2.0, 3.0]);
        let high = s(&[4.0, 5.0, 6.0]);
        let wide = s(&[2.5, 5.0, 9.0]);
        assert_eq!(compare(&low, &high), Comparison::Lower);
        assert_eq!(compare(&high, &low), Comparison::Higher);
        // Medians 2 and 5, but the ranges share 2.5–3: within noise.
        assert_eq!(compare(&low, &wide), Comparison::WithinNoise);
        assert!(low.overlaps(&wide) && !low.overlaps(&high));
        // Touching ranges share a value.
        assert_eq!(
            compare(&s(&[1.0, 2.0]), &s(&[2.0, 3.0])),
            Comparison::WithinNoise
        );
    }

    #[test]
    fn single_measurements_compare_as_before() {
        // One repetition each: no spread, so the plain order of the values decides.
        let (a, b) = (Spread::single(1.0), Spread::single(1.1));
        assert_eq!(compare(&a, &b), Comparison::Lower);
        assert_eq!(compare(&b, &a).ordering(), Some(Ordering::Greater));
        assert_eq!(compare(&a, &a), Comparison::WithinNoise);
        assert!(!a.has_spread());
    }

    #[test]
    fn cells_show_the_range_only_when_there_is_one() {
        let f = |v: f64| format!("{v:.1}");
        assert_eq!(s(&[2.0, 1.0, 4.0]).cell(f), "2.0 (1.0–4.0)");
        assert_eq!(Spread::single(2.0).cell(f), "2.0");
    }
}
