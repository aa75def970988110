//! The report's "at a glance" table: one row per transport with its headline figures.
//!
//! A newcomer reads this table before any chart, so each transport gets one row from the same
//! scenario (the latency scenario when it ran, else the first kind that has the transport), and
//! every figure shows its min–max range when the case was repeated.

use rtlab_wire::Transport;

use crate::case_result::CaseResult;
use crate::repeat::{self, Figure};
use crate::scenario::Kind;
use crate::table::{client_cpu_cell, headline_cell, md_table};

/// The "at a glance" table: one row per transport, from the latency scenario (or the first kind
/// that has the transport).
pub fn glance_table(cases: &[CaseResult]) -> String {
    let rows: Vec<Vec<String>> = Transport::ALL
        .into_iter()
        .filter_map(|t| {
            let c = cases
                .iter()
                .filter(|c| c.transport == t && c.ok().is_some())
                .min_by_key(|c| (c.kind != Kind::Latency) as u8)?;
            let r = c.ok()?;
            Some(vec![
                format!("**{t}**"),
                format!("`{}`", c.id),
                repeat::count(c).to_string(),
                headline_cell(c, Figure::P50),
                headline_cell(c, Figure::P99),
                headline_cell(c, Figure::EventsPerS),
                headline_cell(c, Figure::BytesPerEvent),
                headline_cell(c, Figure::CpuPer1000),
                client_cpu_cell(c),
                r.lost.to_string(),
            ])
        })
        .collect();
    md_table(
        &[
            "transport",
            "case",
            "runs",
            "p50",
            "p99",
            "events/s received",
            "bytes/event",
            "server CPU ms / 1 000 events",
            "client CPU",
            "lost",
        ],
        &rows,
    )
}
