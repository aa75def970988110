//! Capacity findings: each transport's ceiling beside the raw-TCP floor (the `saturation`
//! scenario), and what an idle connection costs the server (the `memory` scenario).
//!
//! The figures come from `crate::capacity`; these sentences add the caveats that keep them honest:
//! a ceiling reached where the client's core was the limit is called so, and a peak within the
//! floor's min–max range is within noise, not a ratio.

use rtlab_wire::Transport;

use crate::capacity::{Ceiling, ceilings};
use crate::case_result::{CLIENT_BOUND_CPU, CaseResult, CaseStatus};
use crate::format::num;
use crate::scenario::Kind;
use crate::spread::{Comparison, compare};

/// The saturation scenario in sentences, every figure from the cases.
pub fn saturation_sentences(cases: &[CaseResult]) -> Vec<String> {
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
pub fn memory_sentences(cases: &[CaseResult]) -> Vec<String> {
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
    use crate::capacity::offered;
    use crate::testdata;

    #[test]
    fn sentences_change_with_the_data() {
        let mut cases = testdata::of_kind(Kind::Saturation);
        let before = saturation_sentences(&cases).join("\n");
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
        let after = saturation_sentences(&cases).join("\n");
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
        let floor_bound = saturation_sentences(&cases).join("\n");
        assert!(
            floor_bound.contains("so no ceiling is compared with it"),
            "{floor_bound}"
        );
        assert!(!floor_bound.contains("Ceilings against"), "{floor_bound}");
    }

    /// `c` run once per value, each repetition delivering that many events/s.
    fn repeated(c: &CaseResult, events_per_s: &[f64]) -> CaseResult {
        testdata::repeated(c, events_per_s, |r, v| {
            if let Some(rep) = r.client.as_mut() {
                rep.events_per_s = v;
            }
        })
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
            let mut cases = testdata::of_kind(Kind::Saturation);
            let (pw, pt) = (peak(&cases, Transport::Ws), peak(&cases, Transport::Tcp));
            for c in &mut cases {
                if c.id == pw {
                    *c = repeated(c, &ws);
                } else if c.id == pt {
                    *c = repeated(c, &tcp);
                }
            }
            saturation_sentences(&cases).join("\n")
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
        let mut cases = testdata::of_kind(Kind::Memory);
        let text = memory_sentences(&cases).join("\n");
        assert!(text.contains("per idle connection"), "{text}");
        assert!(text.contains("× the cheapest"), "{text}");
        assert!(!text.contains("loose"), "{text}");
        let m = cases[0].connection_memory.as_mut().unwrap();
        m.r_squared = 0.5;
        let text = memory_sentences(&cases).join("\n");
        assert!(text.contains("the fit is loose (R² 0.50)"), "{text}");
    }
}
