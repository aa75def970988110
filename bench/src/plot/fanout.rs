//! Fan-out: one feed to 1 … 10 000 clients.
//!
//! [`throughput_chart`]: delivered events/s against clients, with the ideal `clients × rate` dashed (a
//! transport on the dashed line delivers everything; one that bends below it has hit a limit),
//! and p99 latency against clients (where queueing starts to show).
//!
//! [`cost_chart`]: what the server pays: CPU milliseconds per 1 000 delivered events (flat = the cost
//! is per event; rising = something per connection or per request grows), and resident memory
//! per connection (buffers, tasks and queues each subscriber holds).
//!
//! Where cases ran more than once, each point is the median and a bar spans the repetitions
//! ([`super::bars`]).

use plotters::prelude::*;
use rtlab_wire::Transport;

use super::bars;
use super::panel::{Panel, PanelRow};
use super::series::{of_kind, points, transports};
use crate::case_result::CaseResult;
use crate::repeat::{self, Figure, headline};
use crate::scenario::Kind;

fn clients(c: &CaseResult) -> Option<f64> {
    Some(c.params.clients as f64)
}

/// `figure` (times `scale`) of `t`'s cases against clients into `panel`: the medians as its line,
/// and min–max bars where cases ran more than once.
fn push_repeated(panel: &mut Panel, fan: &[&CaseResult], t: Transport, figure: Figure, scale: f64) {
    panel.push_cases(fan, t, clients, |c| {
        Some(headline(c, figure)?.median * scale)
    });
    panel
        .bars
        .push((t, bars::bars(fan, t, clients, figure, scale)));
}

/// `; median, bars min–max of N runs` when some case ran more than once, for the titles.
pub fn repeated_note(cases: &[&CaseResult]) -> String {
    match cases.iter().map(|c| repeat::count(c)).max() {
        Some(n) if n > 1 => format!("; median, bars min–max of {n} runs"),
        _ => String::new(),
    }
}

/// Delivered events/s and p99 against clients.
/// From the fan-out cases; `None` without any.
pub fn throughput_chart(cases: &[CaseResult]) -> Option<PanelRow> {
    let fan = of_kind(cases, Kind::Fanout);
    let first = fan.first()?;
    let mut delivered = Panel::new(
        "delivered events/s (dashed: clients × rate)",
        "clients (log)",
        "events delivered per second (log)",
    );
    let mut p99 = Panel::new("p99 latency", "clients (log)", "p99 latency (ms, log)");
    for t in transports(&fan) {
        push_repeated(&mut delivered, &fan, t, Figure::EventsPerS, 1.0);
        delivered.models.push((
            t,
            points(&fan, t, clients, |c| {
                Some(c.params.clients as f64 * c.params.rate as f64)
            }),
        ));
        push_repeated(&mut p99, &fan, t, Figure::P99, 1e-3);
    }
    delivered.model_label = "ideal: clients × rate".into();
    Some(PanelRow {
        name: "fanout-throughput",
        title: format!(
            "Fan-out: throughput and tail latency vs clients — {} events/s, {} B payload{}",
            first.params.rate,
            first.params.payload_bytes,
            repeated_note(&fan)
        ),
        panels: vec![delivered, p99],
    })
}

/// Server CPU per 1 000 events and memory per connection against clients.
/// From the fan-out cases; `None` without any.
pub fn cost_chart(cases: &[CaseResult]) -> Option<PanelRow> {
    let fan = of_kind(cases, Kind::Fanout);
    let first = fan.first()?;
    let mut cpu = Panel::new(
        "server CPU per 1 000 delivered events",
        "clients (log)",
        "CPU ms per 1 000 events (log)",
    );
    let mut mem = Panel::new(
        "server memory per connection",
        "clients (log)",
        "RSS growth per connection (KiB, log)",
    );
    mem.legend = SeriesLabelPosition::UpperRight;
    cpu.legend = SeriesLabelPosition::UpperRight;
    for t in transports(&fan) {
        push_repeated(&mut cpu, &fan, t, Figure::CpuPer1000, 1.0);
        mem.push_measured(
            t,
            points(&fan, t, clients, |c| {
                c.server
                    .as_ref()?
                    .memory_per_connection_bytes
                    .map(|b| b / 1024.0)
            }),
        );
    }
    Some(PanelRow {
        name: "fanout-server-cost",
        title: format!(
            "Fan-out: what the server pays vs clients — {} events/s{}{}",
            first.params.rate,
            repeated_note(&fan),
            if first.server.as_ref().is_some_and(|s| s.pinned) {
                ", server pinned to one core"
            } else {
                ""
            }
        ),
        panels: vec![cpu, mem],
    })
}
