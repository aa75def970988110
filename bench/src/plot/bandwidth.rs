//! A slow link: delivered events per second against the offered rate, with each transport's
//! ceiling (the link rate ÷ the bytes per event the case measured) dashed.
//!
//! Below its ceiling a transport delivers what is offered (the diagonal); above it, the link is
//! full and delivery flattens at the ceiling. Transports whose events cost fewer bytes flatten
//! higher: on a slow link, framing is throughput.

use super::panel::{Panel, PanelRow};
use super::series::{of_kind, points, transports};
use crate::case_result::CaseResult;
use crate::findings::bandwidth::per_subscriber;
use crate::predict;
use crate::scenario::Kind;

fn offered(c: &CaseResult) -> Option<f64> {
    Some(c.params.rate as f64)
}

/// Delivered vs offered events/s per subscriber over the bandwidth scenario's link, ceilings
/// dashed. `None` without any bandwidth case.
pub fn bandwidth_chart(cases: &[CaseResult]) -> Option<PanelRow> {
    let bw = of_kind(cases, Kind::Bandwidth);
    let first = bw.first()?;
    let link = first.params.network?;
    let mut delivered = Panel::new(
        "delivered (dashed: link rate ÷ measured bytes per event)",
        "offered events/s (log)",
        "delivered events/s per subscriber (log)",
    );
    delivered.model_label = "ceiling (dashed)".into();
    for t in transports(&bw) {
        delivered.push_cases(&bw, t, offered, per_subscriber);
        delivered.models.push((
            t,
            points(&bw, t, offered, predict::link_ceiling_events_per_s),
        ));
    }
    Some(PanelRow {
        name: "bandwidth",
        title: format!(
            "A slow link: delivered vs offered — {} subscriber(s) over {link}, {} B payload",
            first.params.clients, first.params.payload_bytes
        ),
        panels: vec![delivered],
    })
}
