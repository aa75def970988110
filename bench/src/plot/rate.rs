//! Rate sweep: where each transport stops keeping up.
//!
//! As the publish rate grows, a transport keeps up while it delivers every event (delivered share
//! 1, counted by seq, the dashed line) with a flat p99. Past its ceiling one of two things
//! happens: the p99 blows up (events queue) or the delivered share drops (events are lost: a slow
//! subscriber is cut off, or polls fall behind the history window). The third panel shows the
//! polls' requests per event against their model: a long poll needs one request per event until
//! events come faster than a round trip, then batches; a short poll needs `1 / (rate ×
//! interval)`.

use plotters::prelude::*;
use rtlab_wire::Transport;

use super::panel::{Panel, PanelRow};
use super::poll::push_requests_per_event;
use super::series::{of_kind, points, transports};
use crate::case_result::CaseResult;
use crate::scenario::Kind;

fn rate(c: &CaseResult) -> Option<f64> {
    Some(c.params.rate as f64)
}

/// Delivery ratio, p99 and requests per event against the event rate.
/// From the rate-sweep cases; `None` without any.
pub fn saturation_chart(cases: &[CaseResult]) -> Option<PanelRow> {
    let rs = of_kind(cases, Kind::Rate);
    let first = rs.first()?;
    let mut ratio = Panel::new(
        "delivered share, by seq",
        "events published per second (log)",
        "share of the window's events delivered",
    );
    ratio.y_log = false;
    // A share counted by seq never exceeds 1.
    ratio.y_range = Some(0.0..1.1);
    ratio.legend = SeriesLabelPosition::LowerLeft;
    ratio.model_label = "keeping up (1.0)".into();
    let mut p99 = Panel::new(
        "p99 latency",
        "events published per second (log)",
        "p99 latency (ms, log)",
    );
    let mut req = Panel::new(
        "poll requests per event",
        "events published per second (log)",
        "requests per event per client (log)",
    );
    req.legend = SeriesLabelPosition::LowerLeft;
    for t in transports(&rs) {
        ratio.push_cases(&rs, t, rate, CaseResult::delivered_share);
        ratio.models.push((t, points(&rs, t, rate, |_| Some(1.0))));
        p99.push_cases(&rs, t, rate, |c| c.ok().map(|r| r.latency_us.p99 / 1e3));
        if matches!(t, Transport::LongPoll | Transport::ShortPoll) {
            push_requests_per_event(&mut req, &rs, t, rate);
        }
    }
    Some(PanelRow {
        name: "rate-saturation",
        title: format!(
            "Rate sweep: where each transport stops keeping up — {} clients, {} B payload",
            first.params.clients, first.params.payload_bytes
        ),
        panels: vec![ratio, p99, req],
    })
}
