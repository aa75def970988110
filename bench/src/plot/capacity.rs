//! Capacity: each transport's delivered events/s against the offered load, beside the raw-TCP
//! floor, and the server's memory against idle connections.
//!
//! Left, the `saturation` scenario: while a transport sustains the load its line follows the
//! dashed diagonal (delivered = offered); where it bends away, the server (or the client: see the
//! report) ran out of core. The dashed horizontal line is the raw-TCP floor's peak in the same run,
//! the reference every web transport is measured against. Middle, the p99 at each step: what the
//! load costs in latency before the ceiling. Right, the `memory` scenario: the server's RSS as idle
//! connections are added; each line's slope, in the legend, is what one more connection costs.

use rtlab_wire::Transport;

use super::panel::{Panel, PanelRow};
use super::series::transports;
use crate::capacity::{ceilings, offered};
use crate::case_result::CaseResult;
use crate::format;
use crate::scenario::Kind;

/// Delivered vs offered and p99 vs offered (saturation), RSS vs connections (memory).
/// From the saturation and memory cases; `None` without either.
pub fn capacity_chart(cases: &[CaseResult]) -> Option<PanelRow> {
    let sat: Vec<&CaseResult> = cases
        .iter()
        .filter(|c| c.kind == Kind::Saturation && c.ok().is_some())
        .collect();
    let mem: Vec<&CaseResult> = cases
        .iter()
        .filter(|c| c.kind == Kind::Memory && c.connection_memory.is_some())
        .collect();
    if sat.is_empty() && mem.is_empty() {
        return None;
    }
    let mut delivered = Panel::new(
        "events/s delivered against offered",
        "offered deliveries per second (subscribers × rate, log)",
        "events per second arrived (log)",
    );
    delivered.model_label = "delivered = offered; the raw-TCP floor's peak".into();
    for t in transports(&sat) {
        delivered.push_cases(
            &sat,
            t,
            |c| Some(offered(c)),
            |c| Some(c.ok()?.events_per_s),
        );
    }
    let offered_range: Vec<f64> = sat.iter().map(|c| offered(c)).collect();
    let (lo, hi) = offered_range
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if hi > 0.0 {
        delivered
            .models
            .push((Transport::Tcp, vec![(lo, lo), (hi, hi)]));
        if let Some(floor) = ceilings(cases)
            .iter()
            .find(|c| c.transport == Transport::Tcp && c.peak_per_s > 0.0)
        {
            delivered.models.push((
                Transport::Tcp,
                vec![(lo, floor.peak_per_s), (hi, floor.peak_per_s)],
            ));
        }
    }
    let mut p99 = Panel::new(
        "p99 latency at each step",
        "offered deliveries per second (subscribers × rate, log)",
        "p99 latency (ms, log)",
    );
    for t in transports(&sat) {
        p99.push_cases(
            &sat,
            t,
            |c| Some(offered(c)),
            |c| Some(c.ok()?.latency_us.p99 / 1e3),
        );
    }
    let mut rss = Panel::new(
        "server memory against idle connections",
        "idle connections open",
        "server RSS (MiB)",
    );
    rss.x_log = false;
    rss.y_log = false;
    for t in transports(&mem) {
        let Some(m) = mem
            .iter()
            .find(|c| c.transport == t)
            .and_then(|c| c.connection_memory.as_ref())
        else {
            continue;
        };
        rss.series.push((
            t,
            format!("{} / connection", format::bytes(m.bytes_per_connection)),
            m.points
                .iter()
                .map(|p| (p.connections as f64, p.rss_bytes as f64 / 1024.0 / 1024.0))
                .collect(),
        ));
    }
    let clients = sat.first().map_or(0, |c| c.params.clients);
    Some(PanelRow {
        name: "capacity",
        title: format!(
            "Capacity: each transport's ceiling beside the raw-TCP floor ({clients} subscribers), and memory per connection"
        ),
        panels: vec![delivered, p99, rss],
    })
}
