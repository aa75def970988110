//! A fault's effect on the healthy subscribers' p99, judged against the run-to-run noise.
//!
//! "The healthy p99 stays within 1.1× of the same run without the fault" compares two runs, and
//! two runs of the *same* thing on a noisy 2-core machine already differ: a p99 is the tail of
//! one window, and one scheduler hiccup moves it. A single baseline cannot tell a fault's effect
//! from that noise, and neither can a single faulted run. So each case interleaves them,
//! baseline first and last: B F B F B for two faulted runs ([`interleaved`]; the order also
//! spreads a slow drift of the machine over both kinds alike):
//!
//! - the **effect** is the faulted runs' median p99 over the baselines' median;
//! - the **noise** is the largest baseline over the smallest: how much the same run moved;
//! - the effect is **beyond** the noise when it is larger than that spread (or smaller than its
//!   inverse), and the verdict's sentence says which, because an effect within the noise could
//!   not have shown a 1.1× promise either way.
//!
//! The goal is judged on the effect alone (the contract says 1.1×); every run's p99 is kept, so
//! the report can show them all, with how busy the server's core was in each run: a server
//! already near a full core in the baselines turns any extra work into queueing, and its
//! baselines spread widely (×1.3–2 at 95 % busy, 2026-11-28).

use std::future::Future;

use serde::{Deserialize, Serialize};

/// Healthy p99s, µs, of interleaved runs without and with the fault.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct P99Effect {
    /// The runs without the fault, in run order (one more than the faulted ones).
    pub baselines_us: Vec<f64>,
    /// The runs with the fault, in run order.
    pub with_fault_us: Vec<f64>,
    /// The share of one core the server kept busy in each run without the fault, where
    /// measured.
    #[serde(default)]
    pub baselines_server_busy: Vec<f64>,
    /// And in each run with it.
    #[serde(default)]
    pub with_fault_server_busy: Vec<f64>,
}

/// What one run of the healthy subscribers gives the comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthyRun {
    /// Their p99, µs.
    pub p99_us: f64,
    /// The share of one core the server kept busy meanwhile (`ProcSeries::core_share`).
    pub server_busy: Option<f64>,
}

/// The median of `v` (the mean of the middle two for an even count), `None` if empty.
fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

/// The largest of `v` over its smallest (`None` if empty or the smallest is not positive).
fn spread(v: &[f64]) -> Option<f64> {
    let lo = v.iter().copied().reduce(f64::min)?;
    let hi = v.iter().copied().reduce(f64::max)?;
    (lo > 0.0).then(|| hi / lo)
}

impl P99Effect {
    /// The baselines' median, µs.
    pub fn baseline_us(&self) -> Option<f64> {
        median(&self.baselines_us)
    }

    /// The faulted runs' median, µs.
    pub fn with_fault_median_us(&self) -> Option<f64> {
        median(&self.with_fault_us)
    }

    /// The fault's effect: the faulted median over the baselines' (`None` without both).
    pub fn ratio(&self) -> Option<f64> {
        let base = self.baseline_us().filter(|b| *b > 0.0)?;
        Some(self.with_fault_median_us()? / base)
    }

    /// The run-to-run noise: the largest baseline over the smallest (`None` without two).
    pub fn noise(&self) -> Option<f64> {
        (self.baselines_us.len() >= 2)
            .then(|| spread(&self.baselines_us))
            .flatten()
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
            "healthy p99 ×{ratio:.2} (goal ≤ {goal}; median of {} runs over {} without), {beyond} \
             the baselines' own spread ×{noise:.2}",
            self.with_fault_us.len(),
            self.baselines_us.len()
        )
    }
}

/// Runs `faulted_runs` runs with the fault between `faulted_runs + 1` without it (B F B … F B),
/// each `run(fault)` giving the healthy p99 and the server's load ([`HealthyRun`]) and what else the case keeps of it. The
/// effect, and the extras of the baselines and of the faulted runs, each in run order; the first
/// run that fails ends it, named ("baseline 2: …", "with the fault 1: …").
pub async fn interleaved<T, F, Fut>(
    faulted_runs: u32,
    mut run: F,
) -> Result<(P99Effect, Vec<T>, Vec<T>), String>
where
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = Result<(HealthyRun, T), String>>,
{
    let faulted_runs = faulted_runs.max(1);
    let mut effect = P99Effect::default();
    let (mut baselines, mut faulted) = (Vec::new(), Vec::new());
    for i in 0..=2 * faulted_runs {
        let fault = i % 2 == 1;
        let n = i / 2 + 1;
        let (healthy, extra) = run(fault).await.map_err(|e| {
            if fault {
                format!("with the fault {n}: {e}")
            } else {
                format!("baseline {n}: {e}")
            }
        })?;
        if fault {
            effect.with_fault_us.push(healthy.p99_us);
            effect.with_fault_server_busy.extend(healthy.server_busy);
            faulted.push(extra);
        } else {
            effect.baselines_us.push(healthy.p99_us);
            effect.baselines_server_busy.extend(healthy.server_busy);
            baselines.push(extra);
        }
    }
    Ok((effect, baselines, faulted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effect(baselines: &[f64], with: &[f64]) -> P99Effect {
        P99Effect {
            baselines_us: baselines.to_vec(),
            with_fault_us: with.to_vec(),
            ..P99Effect::default()
        }
    }

    #[test]
    fn the_effect_is_median_over_median_and_the_noise_is_the_baselines_spread() {
        let e = effect(&[100.0, 200.0, 150.0], &[140.0, 160.0]);
        assert_eq!(e.baseline_us(), Some(150.0));
        assert_eq!(e.ratio(), Some(1.0));
        assert_eq!(e.noise(), Some(2.0));
        assert!(e.held(1.1));
        let clause = e.clause(1.1);
        assert!(
            clause.contains("median of 2 runs over 3 without"),
            "{clause}"
        );
        assert!(
            clause.contains("within the baselines' own spread ×2.00"),
            "{clause}"
        );
    }

    #[test]
    fn an_effect_larger_than_the_noise_says_beyond_and_fails_the_goal() {
        let e = effect(&[100.0, 102.0, 101.0], &[130.0, 131.0]);
        assert!(!e.held(1.1));
        let clause = e.clause(1.1);
        assert!(clause.starts_with("healthy p99 ×1.29"), "{clause}");
        assert!(clause.contains("beyond"), "{clause}");
    }

    #[test]
    fn no_baseline_means_no_verdict_on_the_p99() {
        let e = effect(&[0.0, 0.0], &[130.0]);
        assert_eq!(e.ratio(), None);
        assert!(!e.held(1.1));
        assert_eq!(e.clause(1.1), "no healthy p99 to compare");
        assert_eq!(effect(&[100.0], &[100.0]).noise(), None);
    }

    #[tokio::test]
    async fn runs_interleave_baseline_first_and_last_and_a_failure_is_named() {
        let mut order = Vec::new();
        let (e, base, with) = interleaved(2, |fault| {
            order.push(fault);
            let n = order.len();
            let healthy = HealthyRun {
                p99_us: n as f64,
                server_busy: (n != 3).then_some(n as f64 / 10.0),
            };
            async move { Ok::<_, String>((healthy, n)) }
        })
        .await
        .unwrap();
        assert_eq!(order, [false, true, false, true, false]);
        assert_eq!(e.baselines_us, [1.0, 3.0, 5.0]);
        assert_eq!(e.with_fault_us, [2.0, 4.0]);
        // The loads go with their runs; a run without one leaves it out.
        assert_eq!(e.baselines_server_busy, [0.1, 0.5]);
        assert_eq!(e.with_fault_server_busy, [0.2, 0.4]);
        assert_eq!((base, with), (vec![1, 3, 5], vec![2, 4]));

        let mut calls = 0;
        let err = interleaved(2, |_| {
            calls += 1;
            let n = calls;
            async move {
                if n == 3 {
                    Err("server gone".to_string())
                } else {
                    let healthy = HealthyRun {
                        p99_us: 1.0,
                        server_busy: None,
                    };
                    Ok((healthy, ()))
                }
            }
        })
        .await
        .unwrap_err();
        assert_eq!(err, "baseline 2: server gone");
    }
}
