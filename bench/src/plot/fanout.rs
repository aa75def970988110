//! Fan-out: one feed to 1 … 10 000 clients.
//!
//! [`Throughput`]: delivered events/s against clients, with the ideal `clients × rate` dashed (a
//! transport on the dashed line delivers everything; one that bends below it has hit a limit),
//! and p99 latency against clients (where queueing starts to show).
//!
//! [`Cost`]: what the server pays: CPU milliseconds per 1 000 delivered events (flat = the cost
//! is per event; rising = something per connection or per request grows), and resident memory
//! per connection (buffers, tasks and queues each subscriber holds).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::panel::{Panel, draw_row};
use super::{Figure, of_kind, points, titled, transports};
use crate::results::CaseResult;
use crate::suite::Kind;

fn clients(c: &CaseResult) -> Option<f64> {
    Some(c.params.clients as f64)
}

/// Delivered events/s and p99 against clients.
#[derive(Debug)]
pub struct Throughput {
    title: String,
    panels: Vec<Panel>,
}

impl Throughput {
    /// From the fan-out cases; `None` without any.
    pub fn from_cases(cases: &[CaseResult]) -> Option<Self> {
        let fan = of_kind(cases, Kind::Fanout);
        let first = fan.first()?;
        let mut delivered = Panel::new(
            "delivered events/s (dashed: clients × rate)",
            "clients (log)",
            "events delivered per second (log)",
        );
        let mut p99 = Panel::new("p99 latency", "clients (log)", "p99 latency (ms, log)");
        for t in transports(&fan) {
            delivered.series.push((
                t,
                String::new(),
                points(&fan, t, clients, |c| c.ok().map(|r| r.events_per_s)),
            ));
            delivered.models.push((
                t,
                points(&fan, t, clients, |c| {
                    Some(c.params.clients as f64 * c.params.rate as f64)
                }),
            ));
            p99.series.push((
                t,
                String::new(),
                points(&fan, t, clients, |c| c.ok().map(|r| r.latency_us.p99 / 1e3)),
            ));
        }
        delivered.model_label = "ideal: clients × rate".into();
        Some(Throughput {
            title: format!(
                "Fan-out: throughput and tail latency vs clients — {} events/s, {} B payload",
                first.params.rate, first.params.payload_bytes
            ),
            panels: vec![delivered, p99],
        })
    }
}

impl Figure for Throughput {
    fn name(&self) -> &'static str {
        "fanout-throughput"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw_row(&titled(root, &self.title)?, &self.panels)
    }
}

/// Server CPU per 1 000 events and memory per connection against clients.
#[derive(Debug)]
pub struct Cost {
    title: String,
    panels: Vec<Panel>,
}

impl Cost {
    /// From the fan-out cases; `None` without any.
    pub fn from_cases(cases: &[CaseResult]) -> Option<Self> {
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
            cpu.series.push((
                t,
                String::new(),
                points(&fan, t, clients, |c| {
                    c.server.as_ref()?.cpu_ms_per_1000_events
                }),
            ));
            mem.series.push((
                t,
                String::new(),
                points(&fan, t, clients, |c| {
                    c.server
                        .as_ref()?
                        .memory_per_connection_bytes
                        .map(|b| b / 1024.0)
                }),
            ));
        }
        Some(Cost {
            title: format!(
                "Fan-out: what the server pays vs clients — {} events/s{}",
                first.params.rate,
                if first.server.as_ref().is_some_and(|s| s.pinned) {
                    ", server pinned to one core"
                } else {
                    ""
                }
            ),
            panels: vec![cpu, mem],
        })
    }
}

impl Figure for Cost {
    fn name(&self) -> &'static str {
        "fanout-server-cost"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw_row(&titled(root, &self.title)?, &self.panels)
    }
}
