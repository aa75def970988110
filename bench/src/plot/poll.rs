//! Short polling: the interval trades latency for wasted requests.
//!
//! An event waits for the next poll, so a short poll's mean latency is about half its interval
//! plus the one-way delay (dashed); polling faster than events arrive buys latency with requests
//! that come back empty (`1 − rate × interval` of them, dashed). The two panels together are the
//! whole case against short polling: there is no interval that is both prompt and cheap.

use plotters::prelude::*;
use rtlab_wire::Transport;

use super::panel::{Panel, PanelRow};
use super::series::{of_kind, points};
use crate::case_result::CaseResult;
use crate::format;
use crate::predict;
use crate::scenario::Kind;

fn interval(c: &CaseResult) -> Option<f64> {
    Some(c.params.poll_interval_ms)
}

/// Short-poll latency and empty-poll share against the interval.
/// From the poll-interval cases; `None` without any.
pub fn interval_chart(cases: &[CaseResult]) -> Option<PanelRow> {
    let pi: Vec<&CaseResult> = of_kind(cases, Kind::PollInterval)
        .into_iter()
        .filter(|c| c.transport == Transport::ShortPoll)
        .collect();
    let first = pi.first()?;
    let t = Transport::ShortPoll;
    // The one-way delay is the run's calibration, the same in every case of the run.
    let title = match first.calibration.as_ref() {
        Some(c) => format!(
            "latency (dashed: T/2 + {:.2} ms calibrated one-way delay)",
            c.one_way_delay_us / 1e3
        ),
        None => "latency (no calibration: no model)".to_owned(),
    };
    let mut lat = Panel::new(title, "poll interval T (log)", "latency (ms, log)");
    lat.x_fmt = format::millis;
    lat.series.push((
        t,
        "mean".into(),
        points(&pi, t, interval, |c| {
            c.ok().map(|r| r.latency_us.mean / 1e3)
        }),
    ));
    lat.series.push((
        t,
        "p99".into(),
        points(&pi, t, interval, |c| c.ok().map(|r| r.latency_us.p99 / 1e3)),
    ));
    lat.models.push((
        t,
        points(&pi, t, interval, |c| {
            predict::short_poll_mean_latency_us(c).map(|v| v / 1e3)
        }),
    ));
    let mut waste = Panel::new(
        "empty polls (dashed: 1 − rate·T)",
        "poll interval T (log)",
        "empty polls (%)",
    );
    waste.x_fmt = format::millis;
    waste.y_log = false;
    waste.y_range = Some(0.0..105.0);
    waste.legend = SeriesLabelPosition::UpperRight;
    waste.series.push((
        t,
        "empty".into(),
        points(&pi, t, interval, |c| {
            c.ok()?.empty_poll_share.map(|s| s * 100.0)
        }),
    ));
    waste.models.push((
        t,
        points(&pi, t, interval, |c| {
            predict::empty_share(c).map(|s| s * 100.0)
        }),
    ));
    let mut req = Panel::new(
        "requests per event (dashed: 1/(rate·T))",
        "poll interval T (log)",
        "requests per event per client (log)",
    );
    req.x_fmt = format::millis;
    req.legend = SeriesLabelPosition::UpperRight;
    push_requests_per_event(&mut req, &pi, t, interval);
    Some(PanelRow {
        name: "short-poll-interval",
        title: format!(
            "Short polling: latency vs wasted requests — {} clients, {} events/s",
            first.params.clients, first.params.rate
        ),
        panels: vec![lat, waste, req],
    })
}

/// A poll transport's requests per event against `x` into `panel`: measured, and the model
/// (`crate::predict`) dashed. The rate sweep draws the same panel over the event rate.
pub fn push_requests_per_event(
    panel: &mut Panel,
    cases: &[&CaseResult],
    t: Transport,
    x: fn(&CaseResult) -> Option<f64>,
) {
    panel.push_measured(t, points(cases, t, x, |c| c.ok()?.requests_per_event));
    panel
        .models
        .push((t, points(cases, t, x, predict::requests_per_event)));
}
