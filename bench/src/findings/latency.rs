//! Latency findings: each transport's percentiles, a ranking by p99, and why short polling's
//! median is its poll interval.

use rtlab_wire::Transport;

use super::rank::{left_out, ranked, ranking};
use crate::case_result::CaseResult;
use crate::format;
use crate::repeat::{self, Figure};
use crate::spread::{Comparison, Spread, compare};
use crate::table::headline_cell;

/// The sentences about the latency scenario's successful cases.
pub(super) fn sentences(cs: &[&CaseResult]) -> Vec<String> {
    let mut out: Vec<String> = cs
        .iter()
        .filter_map(|c| {
            let r = c.ok()?;
            Some(format!(
                "**{}**: p50 {}, p99 {}, p99.9 {}, max {}{}; {} of the window's events delivered (by seq), {} events/s received, {} lost.",
                c.transport,
                headline_cell(c, Figure::P50),
                headline_cell(c, Figure::P99),
                format::micros(r.latency_us.p999),
                format::micros(r.latency_us.max),
                // p99.9, max, delivery and loss are the stored run's (the first that succeeded):
                // only the headline figures are kept per repetition.
                if repeat::count(c) > 1 {
                    " (these two, the share and the loss: first run)"
                } else {
                    ""
                },
                format::share(c.delivered_share()),
                headline_cell(c, Figure::EventsPerS),
                r.lost
            ))
        })
        .collect();
    let by_p99: Vec<(Transport, Spread)> = ranked(cs, Figure::P99);
    if let (Some(best), Some(worst)) = (by_p99.first(), by_p99.last())
        && best.1.median > 0.0
        && by_p99.len() > 1
    {
        let verdict = match compare(&best.1, &worst.1) {
            Comparison::Lower => format!(
                "The slowest tail ({}, {}) is {:.1}× the fastest ({}, {}).",
                worst.0,
                format::micros(worst.1.median),
                worst.1.median / best.1.median,
                best.0,
                format::micros(best.1.median)
            ),
            _ => format!(
                "The fastest ({}) and slowest ({}) p99s overlap over their repetitions: the differences in tail latency between these transports are within noise.",
                best.0, worst.0
            ),
        };
        out.push(format!(
            "Ranked by p99{}: {}{}. {verdict}",
            if by_p99.iter().any(|(_, s)| s.has_spread()) {
                " (median, `≈` where the ranges overlap, within noise)"
            } else {
                ""
            },
            ranking(&by_p99, Figure::P99),
            left_out(cs),
        ));
    }
    if let Some(sp) = cs.iter().find(|c| c.transport == Transport::ShortPoll) {
        out.push(format!(
            "Short polling's median, {}, is set by its {} ms poll interval, not by the network: an event waits for the next poll.",
            headline_cell(sp, Figure::P50),
            sp.params.poll_interval_ms
        ));
    }
    out
}
