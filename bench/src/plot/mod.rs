//! The charts: each trade-off drawn so that it reads without the report.
//!
//! Every chart has a title that states the setting, axes with units, a legend, and log scales
//! wherever the data spans decades (clients 1 … 10 000, payload 16 B … 64 KiB, latency µs … s).
//! Measured values are solid lines with markers, one colour per transport across all charts; the
//! analytic model (`crate::model`) is a **dashed** line of the same colour, so the eye can see
//! at once where reality departs from theory.
//!
//! Each chart is drawn twice from the same code, through plotters' bitmap back end (PNG, for the
//! report and README) and its SVG back end (crisp at any size). Charts are drawn only from the
//! stored results, never from live measurements, so `rtlab plot DIR` can redraw any old run.
//!
//! The charts, one file each:
//!
//! | file | chart |
//! |---|---|
//! | [`latency`] | latency percentile curves, HdrHistogram style |
//! | [`bytes`] | bytes per event stacked by kind; overhead and efficiency against payload |
//! | [`fanout`] | throughput, p99 and server cost against clients |
//! | [`rate`] | delivery, p99 and requests per event against the event rate |
//! | [`poll`] | short-poll latency and wasted requests against the interval |
//! | [`roundtrip`] | publish → receive round trip and upstream bytes |
//! | [`capacity`] | delivered vs offered beside the raw-TCP floor; RSS vs idle connections |
//! | [`network`] | latency vs the link's round trip; time to first event stacked by round trip |
//! | [`bandwidth`] | delivered vs offered on a slow link, each transport's ceiling dashed |
//! | [`security`] | bytes per event above TLS and what TLS adds, in the clear, TLS, TLS with HTTP/2 |
//! | [`cluster`] | the cluster suite: latency per proxy route; latency and CPU against nodes |
//!
//! What they are built from:
//!
//! | file | part |
//! |---|---|
//! | [`chart`] | the [`Chart`] trait, saving PNG + SVG, errors |
//! | [`style`] | transport colours, the font, titles |
//! | [`font`] | the embedded font, registered once |
//! | [`axes`] | log and linear axis bounds, category labels |
//! | [`series`] | which cases and points a chart plots |
//! | [`lines`] | measured lines solid, model lines dashed, the legend |
//! | [`bars`] | min–max bars of repeated cases around their median |
//! | [`panel`] | one x–y panel (log or linear axes, measured solid, model dashed), shared by most |
//! | [`stacked`] | one panel of stacked bars per transport (bytes by kind, first event by round trip) |

pub mod axes;
pub mod bandwidth;
pub mod bars;
pub mod bytes;
pub mod capacity;
pub mod chart;
pub mod cluster;
pub mod fanout;
pub mod font;
pub mod latency;
pub mod lines;
pub mod network;
pub mod panel;
pub mod poll;
pub mod rate;
pub mod roundtrip;
pub mod security;
pub mod series;
pub mod stacked;
pub mod style;

use std::path::Path;

pub use chart::{Chart, Drawn, PlotError};

use crate::case_result::CaseResult;

/// Draws every chart the cases have data for into `dir` (PNG and SVG).
pub fn draw_all(dir: &Path, cases: &[CaseResult]) -> Result<Vec<Drawn>, PlotError> {
    if !font::ensure_registered() {
        return Err(PlotError::Font);
    }
    let mut out = Vec::new();
    if let Some(f) = latency::Percentiles::from_cases(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = bytes::Stacked::from_cases(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = bytes::Efficiency::from_cases(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = fanout::throughput_chart(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = fanout::cost_chart(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = rate::saturation_chart(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = poll::interval_chart(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = roundtrip::RoundTrip::from_cases(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = capacity::capacity_chart(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = network::latency_chart(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = network::FirstEvent::from_cases(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = bandwidth::bandwidth_chart(cases) {
        out.push(chart::save(dir, &f)?);
    }
    if let Some(f) = security::BytesOverTls::from_cases(cases) {
        out.push(chart::save(dir, &f)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
