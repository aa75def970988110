//! Real links: latency against the round-trip time, and the round trips before the first event.
//!
//! [`latency_chart`] puts each transport's mean and maximum latency over every link of the
//! network scenario against the link's round-trip time, with the models dashed
//! ([`predict::mean_latency_us`]: one transit for a push, one to two for a long poll, the
//! interval's wait plus one for a short poll; and a long poll's worst case, three transits, RFC
//! 6202 §2.2). On loopback (RTT 0) the lines start together; they part by whole transits as the
//! link grows.
//!
//! [`FirstEvent`] stacks each transport's time to first event (p50) by what it waited for: the
//! TCP handshake, the HTTP set-up (WebSocket upgrade, SSE response head) and the wait for the
//! first event itself, one panel per shaped link, so a reader can count the round trips.

use plotters::coord::Shift;
use plotters::prelude::*;
use rtlab_wire::Transport;

use super::chart::Chart;
use super::panel::{Panel, PanelRow};
use super::series::{of_kind, transports};
use super::stacked::{StackedPanel, draw_stacked};
use super::style::titled;
use crate::case_result::CaseResult;
use crate::findings::network::{first_event_split, links, over};
use crate::format;
use crate::link::LinkParams;
use crate::predict;
use crate::scenario::Kind;

/// The link's nominal round-trip time in ms (0 for loopback): the x of every point.
fn rtt_ms(c: &CaseResult) -> Option<f64> {
    Some(c.params.network.map_or(0.0, |l| l.rtt_ms))
}

/// Mean and maximum latency against the link's round-trip time, models dashed.
/// From the network cases; `None` without any.
pub fn latency_chart(cases: &[CaseResult]) -> Option<PanelRow> {
    let net = of_kind(cases, Kind::Network);
    let first = net.first()?;
    let mut mean = Panel::new(
        "mean latency (dashed: model, transits + calibrated one-way delay)",
        "link round-trip time",
        "latency (ms, log)",
    );
    let mut max = Panel::new(
        "max latency (dashed: long poll's worst, 3 transits)",
        "link round-trip time",
        "latency (ms, log)",
    );
    for p in [&mut mean, &mut max] {
        p.x_log = false;
        p.x_fmt = format::millis;
    }
    for t in transports(&net) {
        mean.push_cases(&net, t, rtt_ms, |c| Some(c.ok()?.latency_us.mean / 1e3));
        mean.models.push((
            t,
            super::series::points(&net, t, rtt_ms, |c| {
                predict::mean_latency_us(c).map(|v| v / 1e3)
            }),
        ));
        max.push_cases(&net, t, rtt_ms, |c| Some(c.ok()?.latency_us.max / 1e3));
        max.models.push((
            t,
            super::series::points(&net, t, rtt_ms, |c| {
                predict::long_poll_max_latency_us(c).map(|v| v / 1e3)
            }),
        ));
    }
    Some(PanelRow {
        name: "network-latency",
        title: format!(
            "Latency vs the link's round trip — {} clients × {} events/s, short poll every {} ms",
            first.params.clients, first.params.rate, first.params.poll_interval_ms
        ),
        panels: vec![mean, max],
    })
}

/// Segment colours: TCP handshake, HTTP set-up, wait for the first event.
const SEGMENTS: [(&str, RGBColor); 3] = [
    ("TCP connect", RGBColor(120, 170, 220)),
    (
        "HTTP set-up (upgrade, response head)",
        RGBColor(240, 150, 40),
    ),
    ("until the first event", RGBColor(150, 110, 190)),
];

/// One transport's bar: its three parts, in ms.
type Bar = (Transport, [f64; 3]);

/// One shaped link's panel: its label, its RTT in ms, and the bars.
type LinkPanel = (String, f64, Vec<Bar>);

/// Time to first event per transport, stacked by what it waited for; one panel per shaped link.
#[derive(Debug)]
pub struct FirstEvent {
    title: String,
    panels: Vec<LinkPanel>,
}

impl FirstEvent {
    /// From the network cases over shaped links; `None` without any.
    pub fn from_cases(cases: &[CaseResult]) -> Option<Self> {
        let net = of_kind(cases, Kind::Network);
        let shaped: Vec<LinkParams> = links(&net).into_iter().filter(|l| l.is_shaped()).collect();
        let panels: Vec<_> = shaped
            .iter()
            .map(|link| {
                let on = over(&net, link);
                let bars = transports(&on)
                    .into_iter()
                    .filter_map(|t| {
                        let c = on.iter().find(|c| c.transport == t)?;
                        Some((t, first_event_split(c)?.map(|us| us / 1e3)))
                    })
                    .collect();
                (link.label(), link.rtt_ms, bars)
            })
            .collect();
        if panels.is_empty() {
            return None;
        }
        Some(FirstEvent {
            title: "Time to first event (p50), by what it waited for — dashed lines: 1, 2, 3 round trips".into(),
            panels,
        })
    }
}

impl Chart for FirstEvent {
    fn name(&self) -> &'static str {
        "first-event"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = titled(root, &self.title)?;
        let cells = area.split_evenly((1, self.panels.len().max(1)));
        for (i, ((label, rtt, bars), cell)) in self.panels.iter().zip(cells.iter()).enumerate() {
            let bars: Vec<(Transport, Vec<f64>)> =
                bars.iter().map(|(t, parts)| (*t, parts.to_vec())).collect();
            draw_stacked(
                cell,
                &StackedPanel {
                    caption: format!("{label} (RTT {rtt} ms)"),
                    y_desc: if i == 0 { "ms to the first event" } else { "" },
                    bars: &bars,
                    segments: &SEGMENTS,
                    legend: i == 0,
                    // Round-trip marks, so the bars can be read in round trips.
                    marks: vec![*rtt, 2.0 * rtt, 3.0 * rtt],
                    shared_tallest: None,
                },
            )?;
        }
        Ok(())
    }
}
