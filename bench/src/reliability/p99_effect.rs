//! A fault's effect on the healthy subscribers' p99, judged against the run-to-run noise.
//!
//! "The healthy p99 stays within 1.1× of the same run without the fault" compares two runs, and
//! two runs of the *same* thing on a noisy 2-core machine already differ: a p99 is the tail of
//! one window, and one scheduler hiccup moves it. A single baseline cannot tell a fault's effect
//! from that noise. So each case runs the baseline twice, before and after the run with the
//! fault (A–B–A, which also shows a drift between them):
//!
//! - the **effect** is the faulted run's p99 over the mean of the two baselines;
//! - the **noise** is the larger baseline over the smaller: how much the same run moved.
//!
//! The goal is judged on the effect alone (the contract says 1.1×); the noise is printed beside
//! it, and when the effect is within the noise the sentence says so, because then the run could
//! not have shown a 1.1× promise either way.

use serde::{Deserialize, Serialize};

/// Healthy p99s, µs: two baselines around one run with the fault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct P99Effect {
    /// The baseline run before the faulted one.
    pub baseline_before_us: f64,
    /// The run with the fault.
    pub with_fault_us: f64,
    /// The baseline run after the faulted one.
    pub baseline_after_us: f64,
}

impl P99Effect {
    /// The baselines' mean, µs.
    pub fn baseline_us(&self) -> f64 {
        (self.baseline_before_us + self.baseline_after_us) / 2.0
    }

    /// The fault's effect: its p99 over the baselines' mean (`None` without a baseline).
    pub fn ratio(&self) -> Option<f64> {
        let base = self.baseline_us();
        (base > 0.0).then(|| self.with_fault_us / base)
    }

    /// The run-to-run noise: the larger baseline over the smaller (`None` without both).
    pub fn noise(&self) -> Option<f64> {
        let (lo, hi) = if self.baseline_before_us <= self.baseline_after_us {
            (self.baseline_before_us, self.baseline_after_us)
        } else {
            (self.baseline_after_us, self.baseline_before_us)
        };
        (lo > 0.0).then(|| hi / lo)
    }

    /// Whether the effect is within `goal`.
    pub fn held(&self, goal: f64) -> bool {
        self.ratio().is_some_and(|r| r <= goal)
    }

    /// One clause for a verdict: the effect, the goal, the noise, and whether the effect is
    /// larger than the noise.
    pub fn clause(&self, goal: f64) -> String {
        let Some(ratio) = self.ratio() else {
            return "no healthy p99 to compare".into();
        };
        let noise = self.noise().unwrap_or(1.0);
        let beyond = if ratio > noise || ratio < 1.0 / noise {
            "beyond"
        } else {
            "within"
        };
        format!(
            "healthy p99 ×{ratio:.2} (goal ≤ {goal}), {beyond} the baselines' own spread ×{noise:.2}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effect(before: f64, with: f64, after: f64) -> P99Effect {
        P99Effect {
            baseline_before_us: before,
            with_fault_us: with,
            baseline_after_us: after,
        }
    }

    #[test]
    fn the_effect_is_over_the_mean_and_the_noise_is_the_baselines_spread() {
        let e = effect(100.0, 150.0, 200.0);
        assert_eq!(e.ratio(), Some(1.0));
        assert_eq!(e.noise(), Some(2.0));
        assert!(e.held(1.1));
        assert!(
            e.clause(1.1)
                .contains("within the baselines' own spread ×2.00")
        );
    }

    #[test]
    fn an_effect_larger_than_the_noise_says_beyond_and_fails_the_goal() {
        let e = effect(100.0, 130.0, 102.0);
        assert!(!e.held(1.1));
        let clause = e.clause(1.1);
        assert!(clause.starts_with("healthy p99 ×1.29"), "{clause}");
        assert!(clause.contains("beyond"), "{clause}");
    }

    #[test]
    fn no_baseline_means_no_verdict_on_the_p99() {
        let e = effect(0.0, 130.0, 0.0);
        assert_eq!(e.ratio(), None);
        assert!(!e.held(1.1));
        assert_eq!(e.clause(1.1), "no healthy p99 to compare");
    }
}
