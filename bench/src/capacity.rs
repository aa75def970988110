//! Capacity: how much one server core carries per transport, and what an idle connection costs.
//!
//! Two scenarios answer it; this file turns their cases into figures (the sentences
//! are the `capacity` family of the findings):
//!
//! - **`saturation`**: many subscribers (1 000 in the default suite) of a 64 B feed, the rate
//!   stepped up. A transport's *ceiling* is the highest offered load (subscribers × events/s) it
//!   [sustained](crate::keep_up::sustained()) below the first step where it did not: events arrived
//!   as fast as offered and reached every subscriber. Its *peak* is the most events per second that
//!   arrived in any step's window. Both stand next to the raw-TCP floor measured in the same run,
//!   as a ratio: a fact about one run on one machine, not a constant of the protocols.
//! - **`memory`**: the server's memory per idle connection, the slope of its RSS against the number
//!   of connections ([`crate::connection_memory`]).
//!
//! **Who was the limit.** The client runs on its own core. When that core was more than
//! [`CLIENT_BOUND_CPU`] busy at the step where a transport stopped keeping up, the ceiling may be
//! the load generator's rather than the server's; the sentences say so instead of crediting or
//! blaming the transport.

use rtlab_wire::Transport;

use crate::case_result::{CLIENT_BOUND_CPU, CaseResult, CaseStatus};
use crate::keep_up::sustained;
use crate::repeat::{Figure, headline};
use crate::scenario::Kind;
use crate::spread::Spread;

/// One transport's result in the saturation scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Ceiling {
    /// The transport.
    pub transport: Transport,
    /// The highest offered deliveries/s it sustained, below its first failure (`None`: not even
    /// the lowest step).
    pub kept_up_to: Option<f64>,
    /// The lowest offered deliveries/s it did not sustain (`None`: it sustained every step).
    pub stopped_at: Option<f64>,
    /// The client's core use at `stopped_at`, if sampled.
    pub stopped_client_cpu: Option<f64>,
    /// The most events per second that arrived in one step's window.
    pub peak_per_s: f64,
    /// Whether the step of the peak was client-bound.
    pub peak_client_bound: bool,
    /// Events/s of the peak step over its repetitions (a single value when it ran once).
    pub peak_spread: Option<Spread>,
}

impl Ceiling {
    /// Whether the step where it stopped keeping up was client-bound.
    pub fn stopped_client_bound(&self) -> bool {
        self.stopped_client_cpu
            .is_some_and(|u| u > CLIENT_BOUND_CPU)
    }
}

/// Offered deliveries per second of a case as it was asked: subscribers × ticker rate.
pub fn offered(c: &CaseResult) -> f64 {
    c.params.clients as f64 * c.params.rate as f64
}

/// Each transport's ceiling and peak, in the standard transport order. Failed steps count as not
/// keeping up (at saturation a transport may lose every subscriber, which is an answer too);
/// interrupted ones are left out.
pub fn ceilings(cases: &[CaseResult]) -> Vec<Ceiling> {
    Transport::ALL
        .into_iter()
        .filter_map(|t| {
            let mut steps: Vec<&CaseResult> = cases
                .iter()
                .filter(|c| {
                    c.kind == Kind::Saturation
                        && c.transport == t
                        && c.status != CaseStatus::Interrupted
                })
                .collect();
            if steps.is_empty() {
                return None;
            }
            steps.sort_by(|a, b| offered(a).total_cmp(&offered(b)));
            let mut ceiling = Ceiling {
                transport: t,
                kept_up_to: None,
                stopped_at: None,
                stopped_client_cpu: None,
                peak_per_s: 0.0,
                peak_client_bound: false,
                peak_spread: None,
            };
            for c in &steps {
                if ceiling.stopped_at.is_none() {
                    if sustained(c) {
                        ceiling.kept_up_to = Some(offered(c));
                    } else {
                        ceiling.stopped_at = Some(offered(c));
                        ceiling.stopped_client_cpu = c.client_cpu_utilisation;
                    }
                }
                if let Some(r) = c.ok()
                    && r.events_per_s > ceiling.peak_per_s
                {
                    ceiling.peak_per_s = r.events_per_s;
                    ceiling.peak_client_bound = c.client_bound();
                    ceiling.peak_spread = headline(c, Figure::EventsPerS);
                }
            }
            Some(ceiling)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    #[test]
    fn ceilings_follow_the_first_step_that_did_not_keep_up() {
        let all = ceilings(&testdata::of_kind(Kind::Saturation));
        let ws = all.iter().find(|c| c.transport == Transport::Ws).unwrap();
        assert_eq!(ws.kept_up_to, Some(800_000.0));
        assert_eq!(ws.stopped_at, Some(1_600_000.0));
        let tcp = all.iter().find(|c| c.transport == Transport::Tcp).unwrap();
        assert_eq!(tcp.stopped_at, None);
        assert_eq!(tcp.kept_up_to, Some(1_600_000.0));
    }
}
