//! Fan-out findings: at the most clients, what each transport delivered (by seq) and what it cost
//! the server, and which transport is clearly the cheapest.

use super::rank::{left_out, ranked};
use crate::case_result::CaseResult;
use crate::format::{self, num};
use crate::repeat::{Figure, headline};
use crate::spread::{Comparison, compare};
use crate::table::{figure_text, headline_cell};

/// The sentences about the fan-out scenario's successful cases.
pub(super) fn sentences(cs: &[&CaseResult]) -> Vec<String> {
    let Some(max_clients) = cs.iter().map(|c| c.params.clients).max() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in cs.iter().filter(|c| c.params.clients == max_clients) {
        if c.ok().is_none() {
            continue;
        }
        let nominal = c.params.clients as f64 * c.params.rate as f64;
        let s = c.server.as_ref();
        out.push(format!(
            "At {} clients, **{}** delivered {} of the events published in the window to its subscribers (counted by seq); {} events/s arrived in the window (clients × rate: {}), p99 {}; the server spent {} ms of CPU per 1 000 events and {} per connection.",
            num(max_clients as f64),
            c.transport,
            format::share(c.delivered_share()),
            headline_cell(c, Figure::EventsPerS),
            num(nominal),
            headline_cell(c, Figure::P99),
            headline(c, Figure::CpuPer1000).map_or("n/a".into(), |s| s.cell(|v| format!("{v:.2}"))),
            s.and_then(|s| s.memory_per_connection_bytes).map_or("n/a".into(), format::bytes),
        ));
    }
    let at_max: Vec<&CaseResult> = cs
        .iter()
        .copied()
        .filter(|c| c.params.clients == max_clients)
        .collect();
    let by_cpu = ranked(&at_max, Figure::CpuPer1000);
    if let Some((t, best)) = by_cpu.first() {
        let ties: Vec<String> = by_cpu[1..]
            .iter()
            .filter(|(_, s)| compare(best, s) != Comparison::Lower)
            .map(|(t, _)| t.to_string())
            .collect();
        if ties.is_empty() {
            out.push(format!(
                "The cheapest transport for the server at {} clients is {t} ({} ms CPU per 1 000 events){}.",
                num(max_clients as f64),
                best.cell(|v| figure_text(Figure::CpuPer1000, v)),
                left_out(&at_max)
            ));
        } else {
            out.push(format!(
                "No transport is clearly the cheapest for the server at {} clients: {t} has the lowest median ({} ms CPU per 1 000 events), but its range overlaps {}'s: within noise{}.",
                num(max_clients as f64),
                best.cell(|v| figure_text(Figure::CpuPer1000, v)),
                ties.join(", "),
                left_out(&at_max)
            ));
        }
    }
    out
}
