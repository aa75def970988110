//! Capacity: how much one server core carries per transport, and what an idle connection costs.
//!
//! Two scenarios answer it, and this file turns their cases into figures and sentences:
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
use crate::format::num;
use crate::keep_up::sustained;
use crate::repeat::{Figure, headline};
use crate::scenario::Kind;
use crate::spread::{Comparison, Spread, compare};

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

/// The saturation scenario in sentences, every figure from the cases.
pub fn saturation_findings(cases: &[CaseResult]) -> Vec<String> {
    let all = ceilings(cases);
    let mut out = Vec::new();
    for c in &all {
        let mut s = format!("**{}**: ", c.transport);
        match (c.kept_up_to, c.stopped_at) {
            (Some(up), None) => {
                s += &format!("sustained every step, up to {} deliveries/s", num(up))
            }
            (Some(up), Some(stop)) => {
                s += &format!("sustained {} deliveries/s and not {}", num(up), num(stop))
            }
            (None, Some(stop)) => s += &format!("did not sustain even {} deliveries/s", num(stop)),
            (None, None) => s += "no step ran",
        }
        if c.stopped_client_bound() {
            s += &format!(
                " (the client's core was {:.0} % busy there: the limit may be the load generator's)",
                c.stopped_client_cpu.unwrap_or(0.0) * 100.0
            );
        }
        s += &format!(
            "; peak {} events/s arrived in a window{}.",
            num(c.peak_per_s),
            if c.peak_client_bound {
                ", client-bound"
            } else {
                ""
            }
        );
        out.push(s);
    }
    let Some(floor) = all
        .iter()
        .find(|c| c.transport == Transport::Tcp && c.peak_per_s > 0.0)
    else {
        return out;
    };
    out.extend(ceiling_comparison(&all, floor));
    let ratios: Vec<String> = all
        .iter()
        .filter(|c| c.transport != Transport::Tcp)
        .map(|c| {
            // A ratio is only a difference when the two peaks' ranges over their repetitions
            // do not overlap.
            let noise = match (&c.peak_spread, &floor.peak_spread) {
                (Some(a), Some(b)) if compare(a, b) == Comparison::WithinNoise => {
                    " (within noise of the floor)"
                }
                _ => "",
            };
            format!(
                "{} {:.2}×{noise}",
                c.transport,
                c.peak_per_s / floor.peak_per_s
            )
        })
        .collect();
    if !ratios.is_empty() {
        out.push(format!(
            "Peak events/s against the raw-TCP floor's {} in this run: {}.",
            num(floor.peak_per_s),
            ratios.join(", ")
        ));
    }
    let bound: Vec<String> = all
        .iter()
        .filter(|c| c.peak_client_bound)
        .map(|c| c.transport.to_string())
        .collect();
    if !bound.is_empty() {
        out.push(format!(
            "At their peak the client's core was over {:.0} % busy for {}: those ratios compare \
             the load generator's limits as much as the server's.",
            CLIENT_BOUND_CPU * 100.0,
            bound.join(", ")
        ));
    }
    out
}

/// Each web transport's ceiling as a multiple of the floor's, unless the floor's own limit was
/// the client's: a ratio against the load generator's limit would say nothing about the server.
fn ceiling_comparison(all: &[Ceiling], floor: &Ceiling) -> Option<String> {
    if floor.stopped_client_bound() {
        return Some(format!(
            "The raw-TCP floor stopped at {} deliveries/s with the client's core {:.0} % busy: \
             that is the load generator's limit, so no ceiling is compared with it.",
            num(floor.stopped_at.unwrap_or(0.0)),
            floor.stopped_client_cpu.unwrap_or(0.0) * 100.0
        ));
    }
    let floor_ceiling = floor.kept_up_to?;
    let ratios: Vec<String> = all
        .iter()
        .filter(|c| c.transport != Transport::Tcp)
        .filter_map(|c| {
            let note = if c.stopped_at.is_none() {
                " (sustained every step: at least that)"
            } else if c.stopped_client_bound() {
                " (stopped where the client was the limit)"
            } else {
                ""
            };
            Some(format!(
                "{} {:.2}×{note}",
                c.transport,
                c.kept_up_to? / floor_ceiling
            ))
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    let floor_text = if floor.stopped_at.is_none() {
        format!(
            "the raw-TCP floor, which sustained every step up to {} deliveries/s (its own \
             ceiling is higher still)",
            num(floor_ceiling)
        )
    } else {
        format!("the raw-TCP floor's {} deliveries/s", num(floor_ceiling))
    };
    Some(format!(
        "Ceilings against {floor_text}: {}.",
        ratios.join(", ")
    ))
}

/// The memory scenario in sentences: bytes per idle connection per transport, lowest first.
pub fn memory_findings(cases: &[CaseResult]) -> Vec<String> {
    let mut measured: Vec<(Transport, &crate::connection_memory::ConnectionMemory)> = cases
        .iter()
        .filter(|c| c.kind == Kind::Memory && c.status == CaseStatus::Ok)
        .filter_map(|c| Some((c.transport, c.connection_memory.as_ref()?)))
        .collect();
    measured.sort_by(|a, b| {
        a.1.bytes_per_connection
            .total_cmp(&b.1.bytes_per_connection)
    });
    let mut out: Vec<String> = measured
        .iter()
        .map(|(t, m)| {
            let lo = m.points.first().map_or(0, |p| p.connections);
            let hi = m.points.last().map_or(0, |p| p.connections);
            let fit = if m.r_squared < 0.9 {
                format!(
                    "; the fit is loose (R² {:.2}): the per-connection cost is not a straight line here",
                    m.r_squared
                )
            } else {
                format!(" (R² {:.3})", m.r_squared)
            };
            format!(
                "**{t}**: {:.1} KiB per idle connection, the slope of the server's RSS from {} to {} \
                 connections{fit}.",
                m.bytes_per_connection / 1024.0,
                num(lo as f64),
                num(hi as f64),
            )
        })
        .collect();
    if let (Some(low), Some(high)) = (measured.first(), measured.last())
        && measured.len() > 1
        && low.1.bytes_per_connection > 0.0
    {
        out.push(format!(
            "The costliest idle connection ({}) takes {:.1}× the cheapest ({}).",
            high.0,
            high.1.bytes_per_connection / low.1.bytes_per_connection,
            low.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::testdata;

    fn saturation() -> Vec<CaseResult> {
        testdata::cases()
            .into_iter()
            .filter(|c| c.kind == Kind::Saturation)
            .collect()
    }

    #[test]
    fn ceilings_follow_the_first_step_that_did_not_keep_up() {
        let all = ceilings(&saturation());
        let ws = all.iter().find(|c| c.transport == Transport::Ws).unwrap();
        assert_eq!(ws.kept_up_to, Some(800_000.0));
        assert_eq!(ws.stopped_at, Some(1_600_000.0));
        let tcp = all.iter().find(|c| c.transport == Transport::Tcp).unwrap();
        assert_eq!(tcp.stopped_at, None);
        assert_eq!(tcp.kept_up_to, Some(1_600_000.0));
    }

    #[test]
    fn sentences_change_with_the_data() {
        let mut cases = saturation();
        let before = saturation_findings(&cases).join("\n");
        assert!(before.contains("**ws**: sustained 800"), "{before}");
        assert!(before.contains("**tcp**: sustained every step"), "{before}");
        assert!(before.contains("ws 0.50×"), "{before}");
        assert!(
            before.contains("its own ceiling is higher still"),
            "{before}"
        );
        assert!(before.contains("raw-TCP floor"), "{before}");
        assert!(!before.contains("load generator's"), "{before}");
        // The ws step that failed was client-bound: the sentence must say the limit may be the
        // client's, and name ws among the client-bound peaks.
        for c in &mut cases {
            if c.transport == Transport::Ws && offered(c) >= 1_600_000.0 {
                c.client_cpu_utilisation = Some(0.97);
            }
        }
        let after = saturation_findings(&cases).join("\n");
        assert_ne!(before, after);
        assert!(after.contains("97 % busy there"), "{after}");
        assert!(after.contains("for ws"), "{after}");
        assert!(
            after.contains("ws 0.50× (stopped where the client was the limit)"),
            "{after}"
        );
        // A floor that stopped where the client was busy is no yardstick: no ratio against it.
        for c in &mut cases {
            if c.transport == Transport::Tcp && offered(c) >= 1_600_000.0 {
                c.client_cpu_utilisation = Some(0.99);
                c.client.as_mut().unwrap().events_per_s = 1_000_000.0;
            }
        }
        let floor_bound = saturation_findings(&cases).join("\n");
        assert!(
            floor_bound.contains("so no ceiling is compared with it"),
            "{floor_bound}"
        );
        assert!(!floor_bound.contains("Ceilings against"), "{floor_bound}");
    }

    /// `c` run once per value, each repetition delivering that many events/s.
    fn repeated(c: &CaseResult, events_per_s: &[f64]) -> CaseResult {
        let runs = events_per_s
            .iter()
            .map(|&v| {
                let mut r = c.clone();
                if let Some(rep) = r.client.as_mut() {
                    rep.events_per_s = v;
                }
                r
            })
            .collect();
        crate::repeat::fold(runs).unwrap()
    }

    #[test]
    fn a_peak_within_the_floors_range_is_called_noise() {
        let peak = |cases: &[CaseResult], t: Transport| {
            cases
                .iter()
                .filter(|c| c.transport == t)
                .max_by(|a, b| offered(a).total_cmp(&offered(b)))
                .unwrap()
                .id
                .clone()
        };
        let spread_as = |ws: [f64; 3], tcp: [f64; 3]| {
            let mut cases = saturation();
            let (pw, pt) = (peak(&cases, Transport::Ws), peak(&cases, Transport::Tcp));
            for c in &mut cases {
                if c.id == pw {
                    *c = repeated(c, &ws);
                } else if c.id == pt {
                    *c = repeated(c, &tcp);
                }
            }
            saturation_findings(&cases).join("\n")
        };
        // Disjoint ranges: a ratio and nothing else.
        let apart = spread_as(
            [1_400_000.0, 1_500_000.0, 1_450_000.0],
            [1_580_000.0, 1_600_000.0, 1_590_000.0],
        );
        assert!(apart.contains("ws 0.89×, "), "{apart}");
        // ws's range reaches into the floor's: the ratio is stated as noise.
        let overlap = spread_as(
            [1_400_000.0, 1_500_000.0, 1_595_000.0],
            [1_580_000.0, 1_600_000.0, 1_590_000.0],
        );
        assert!(
            overlap.contains("ws 0.89× (within noise of the floor)"),
            "{overlap}"
        );
    }

    #[test]
    fn memory_sentences_rank_by_slope_and_flag_a_loose_fit() {
        let mut cases: Vec<CaseResult> = testdata::cases()
            .into_iter()
            .filter(|c| c.kind == Kind::Memory)
            .collect();
        let text = memory_findings(&cases).join("\n");
        assert!(text.contains("per idle connection"), "{text}");
        assert!(text.contains("× the cheapest"), "{text}");
        assert!(!text.contains("loose"), "{text}");
        let m = cases[0].connection_memory.as_mut().unwrap();
        m.r_squared = 0.5;
        let text = memory_findings(&cases).join("\n");
        assert!(text.contains("the fit is loose (R² 0.50)"), "{text}");
    }
}
