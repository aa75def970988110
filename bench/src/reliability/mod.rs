//! The `reliability` suite (`rtlab run --suite reliability`): the contract's reliability
//! promises, measured under load rather than tested once each.
//!
//! The comparison suites ask *how fast* and *how many bytes*; this one asks *what happens when
//! something goes wrong*, and answers with figures, each against the goal the contract sets
//! (`CONTRACT.md`, "Errors and limits"):
//!
//! | case | what goes wrong | the goal |
//! |---|---|---|
//! | [`slow`] | one subscriber stops reading among many healthy ones | healthy p99 ≤ 1.1× the same run without it; it is cut (ws 1008) at its queue bound; server memory bounded |
//! | [`churn`] | subscribers connect, take one event and leave, 100 000 times | open fds and RSS after ≤ 1.1× before; no error but those counted |
//! | [`shutdown`] | SIGTERM under load | ws 1001, SSE streams ended, parked polls answered, exit 0 within 5 s, no event published before the signal missing |
//! | [`hostile`] | a slow-headers client and thousands of idle TCP connections | dropped by the server's timeouts; healthy p99 ≤ 1.1× without them |
//!
//! Every case starts a fresh `rtlab-server` process (as the comparison suites do), runs the lab's
//! own client in this process (`rtlab_client::run`, with `--stalled` and `--churn` where it
//! applies), and reads the server's memory and open files from `/proc`. A promise that fails is
//! not hidden: the report states the measured value and the verdict. [`Scale`] fixes the sizes:
//! [`Scale::full`] for the suite, [`Scale::small`] for the tests that pin each figure.

pub mod churn;
pub mod hostile;
pub mod hostile_clients;
pub mod lab;
pub mod p99_effect;
pub mod scale;
pub mod section;
pub mod shutdown;
pub mod slow;

use serde::{Deserialize, Serialize};

pub use scale::Scale;

use lab::Lab;

/// Everything the suite measured: what `reliability.json` holds and the report's section reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityReport {
    /// The sizes the suite ran at.
    pub scale: Scale,
    /// The slow-subscriber case, per transport.
    pub slow: Vec<slow::SlowResult>,
    /// The churn case, per transport.
    pub churn: Vec<churn::ChurnResult>,
    /// Shutdown under load, per transport.
    pub shutdown: Vec<shutdown::ShutdownResult>,
    /// Hostile clients, per transport.
    pub hostile: Vec<hostile::HostileResult>,
}

impl ReliabilityReport {
    /// Whether every promise held.
    pub fn all_held(&self) -> bool {
        self.slow.iter().all(|r| r.verdict().held)
            && self.churn.iter().all(|r| r.verdict().held)
            && self.shutdown.iter().all(|r| r.verdict().held)
            && self.hostile.iter().all(|r| r.verdict().held)
    }
}

/// A promise, measured: whether it held, and the sentence that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// It held.
    pub held: bool,
    /// What was measured against what was promised, on one line.
    pub why: String,
}

impl Verdict {
    /// "held" or "FAILED", as the report writes it.
    pub fn word(&self) -> &'static str {
        if self.held { "held" } else { "FAILED" }
    }
}

/// Runs the whole suite on `lab` at `scale`, printing each case's line to stderr as it ends.
pub async fn run(lab: &Lab, scale: &Scale) -> ReliabilityReport {
    let mut report = ReliabilityReport {
        scale: scale.clone(),
        ..ReliabilityReport::default()
    };
    for &t in &scale.slow_transports {
        let r = slow::run(lab, scale, t).await;
        eprintln!("rtlab: slow subscriber, {t}: {}", r.verdict().why);
        report.slow.push(r);
    }
    for &t in &scale.churn_transports {
        let r = churn::run(lab, scale, t).await;
        eprintln!("rtlab: churn, {t}: {}", r.verdict().why);
        report.churn.push(r);
    }
    for &rate in &scale.shutdown_rates {
        for &t in &scale.shutdown_transports {
            let r = shutdown::run(lab, scale, t, rate).await;
            eprintln!(
                "rtlab: shutdown at {rate} events/s, {t}: {}",
                r.verdict().why
            );
            report.shutdown.push(r);
        }
    }
    for &t in &scale.hostile_transports {
        let r = hostile::run(lab, scale, t).await;
        eprintln!("rtlab: hostile clients, {t}: {}", r.verdict().why);
        report.hostile.push(r);
    }
    report
}

/// `a / b`, or `None` when `b` is zero.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rtlab_client::report::StalledReport;
    use rtlab_wire::Transport;

    use super::*;

    fn slow_at(p99_ratio: f64, cut: u64) -> slow::SlowResult {
        slow::SlowResult {
            transport: Some(Transport::Ws),
            p99: Some(p99_effect::P99Effect {
                baselines_us: vec![1_000.0; 3],
                with_fault_us: vec![1_000.0 * p99_ratio; 2],
                ..p99_effect::P99Effect::default()
            }),
            // Two runs with the stalled subscriber: cut in the first, `cut` in the second.
            stalled: [1, cut]
                .into_iter()
                .map(|cut| StalledReport {
                    asked: 1,
                    stalled: 1,
                    cut,
                    close_codes: BTreeMap::from([("1008 lagging".into(), cut)]),
                    ..StalledReport::default()
                })
                .collect(),
            window_s: 15.0,
            cut_into_window_s: vec![4.0; usize::from(cut == 1) + 1],
            ..slow::SlowResult::default()
        }
    }

    #[test]
    fn each_verdict_holds_at_its_goal_and_fails_past_it() {
        assert!(slow_at(1.1, 1).verdict().held);
        let over = slow_at(1.11, 1).verdict();
        assert!(!over.held && over.why.contains("×1.11"), "{}", over.why);
        let once = slow_at(1.0, 0).verdict();
        assert!(
            !once.held && once.why.contains("NOT cut in 1 of 2 runs"),
            "{}",
            once.why
        );
        // A cut before the window opened: the runs with the fault measured no stall.
        let early = slow::SlowResult {
            cut_into_window_s: vec![4.0, -0.5],
            ..slow_at(1.0, 1)
        };
        let v = early.verdict();
        assert!(
            !v.held && v.why.contains("NOT all inside the 15 s window"),
            "{}",
            v.why
        );
        let v = slow_at(1.0, 1).verdict();
        assert!(
            v.why.contains("4.0, 4.0 s into the 15 s window"),
            "{}",
            v.why
        );

        let churn = |fds: f64, rss: f64| churn::ChurnResult {
            cycles_asked: 10,
            cycles_done: 10,
            fds_ratio: Some(fds),
            rss_ratio: Some(rss),
            ..churn::ChurnResult::default()
        };
        assert!(churn(1.0, 1.1).verdict().held);
        assert!(!churn(1.2, 1.0).verdict().held);
        assert!(!churn(1.0, 1.5).verdict().held);

        let down = shutdown::ShutdownResult {
            transport: Some(Transport::Ws),
            connected: 3,
            exit_code: Some(0),
            time_to_exit_ms: Some(400.0),
            close_codes: BTreeMap::from([("1001".into(), 3)]),
            ..shutdown::ShutdownResult::default()
        };
        assert!(down.verdict().held, "{}", down.verdict().why);
        let late = shutdown::ShutdownResult {
            time_to_exit_ms: Some(5_100.0),
            ..down.clone()
        };
        assert!(!late.verdict().held);
        let behind = shutdown::ShutdownResult {
            subscribers_behind: 1,
            events_behind: 2,
            ..down.clone()
        };
        assert!(!behind.verdict().held);
        // A poller behind the last seq did not ask for the rest: reported, not failed.
        let poller_behind = shutdown::ShutdownResult {
            transport: Some(Transport::ShortPoll),
            close_codes: BTreeMap::new(),
            ..behind.clone()
        };
        let v = poller_behind.verdict();
        assert!(v.held && v.why.contains("not promised"), "{}", v.why);
        // But a gap is loss, for a poller too.
        let poller_gap = shutdown::ShutdownResult {
            subscribers_with_gaps: 1,
            ..poller_behind
        };
        assert!(!poller_gap.verdict().held);
        let reset = shutdown::ShutdownResult {
            close_codes: BTreeMap::from([("1001".into(), 2), ("disconnected".into(), 1)]),
            ..down
        };
        assert!(!reset.verdict().held);

        let hostile = hostile::HostileResult {
            idle_opened: 5,
            idle_dropped: 5,
            slow_headers_dropped_after_s: Some(10.0),
            p99: Some(p99_effect::P99Effect {
                baselines_us: vec![1_000.0; 3],
                with_fault_us: vec![1_050.0; 2],
                baselines_server_busy: vec![0.41, 0.44, 0.43],
                with_fault_server_busy: vec![0.451, 0.449],
            }),
            ..hostile::HostileResult::default()
        };
        assert!(hostile.verdict().held);
        let kept = hostile::HostileResult {
            idle_dropped: 4,
            ..hostile.clone()
        };
        assert!(!kept.verdict().held);

        let report = ReliabilityReport {
            slow: vec![slow_at(1.0, 1)],
            hostile: vec![kept],
            ..ReliabilityReport::default()
        };
        assert!(!report.all_held());
        let md = section::markdown(&report);
        assert!(md.contains("at least one promise FAILED"), "{md}");
        assert!(
            md.contains("FAILED: 4 of 5 idle connections dropped"),
            "{md}"
        );
        // How busy the server was, lowest to highest, without and then with the fault.
        assert!(md.contains("| 41–44 % / 45 % |"), "{md}");
        assert!(
            md.contains("| ? / ? |"),
            "the slow case measured none: {md}"
        );
    }
}
