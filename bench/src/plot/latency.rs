//! Latency percentile curves, HdrHistogram style.
//!
//! The x axis is `1 / (1 − p)` on a log scale, labelled with the percentile: 50 % at 2, 90 % at
//! 10, 99 % at 100, 99.9 % at 1 000. Each "nine" gets the same width, so the tail (the one event
//! in a thousand that waited for a reconnect, a poll interval or a full queue) is as visible as
//! the median. A flat curve is a transport with a predictable delay; a curve that turns up at the
//! right is one whose worst case is far from its typical case.
//!
//! A curve is one run's histogram (histograms of repetitions are not merged); when the case ran
//! more than once, bars at 50 % and 99 % span the smallest to the largest p50 and p99 of the
//! repetitions ([`super::bars`]), so a gap between two curves can be read against the noise.

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;
use rtlab_wire::Transport;

use super::axes::log_bounds;
use super::bars::{self, Bar};
use super::chart::{Chart, draw_error};
use super::lines::{legend, measured};
use super::series::{of_kind, transports};
use super::style::{color, font, titled};
use crate::case_result::CaseResult;
use crate::format;
use crate::hgrm;
use crate::repeat::{self, Figure};
use crate::scenario::Kind;

/// The latency scenario's percentile curves, one per transport.
#[derive(Debug)]
pub struct Percentiles {
    title: String,
    curves: Vec<(Transport, Vec<(f64, f64)>)>,
    /// Min–max of p50 (at x = 2) and p99 (at x = 100) over the repetitions, in ms.
    bars: Vec<(Transport, Vec<Bar>)>,
}

impl Percentiles {
    /// From the latency-kind cases; `None` without any.
    pub fn from_cases(cases: &[CaseResult]) -> Option<Self> {
        let lat = of_kind(cases, Kind::Latency);
        let first = lat.first()?;
        let curves: Vec<_> = transports(&lat)
            .into_iter()
            .filter_map(|t| {
                let c = lat.iter().find(|c| c.transport == t)?;
                let pts = curve(c);
                (!pts.is_empty()).then_some((t, pts))
            })
            .collect();
        if curves.is_empty() {
            return None;
        }
        // Bars of different transports at one percentile are spread a little sideways (a few
        // per cent of x on the log axis), so that overlapping ranges stay readable.
        let n = curves.len() as f64;
        let bars = curves
            .iter()
            .enumerate()
            .map(|(i, (t, _))| {
                let shift = 1.06f64.powf(i as f64 - (n - 1.0) / 2.0);
                let at = |x: f64| move |_: &CaseResult| Some(x * shift);
                let mut b = bars::bars(&lat, *t, at(2.0), Figure::P50, 1e-3);
                b.extend(bars::bars(&lat, *t, at(100.0), Figure::P99, 1e-3));
                (*t, b)
            })
            .collect();
        let p = &first.params;
        Some(Percentiles {
            title: format!(
                "Event latency by percentile — {} clients × {} events/s, {} B{}",
                p.clients,
                p.rate,
                p.payload_bytes,
                match lat.iter().map(|c| repeat::count(c)).max() {
                    Some(n) if n > 1 => format!("; bars: p50, p99 min–max of {n} runs"),
                    _ => String::new(),
                }
            ),
            curves,
            bars,
        })
    }
}

/// `(1/(1−p), latency ms)` points of one case: from its histogram, else from its summary.
pub fn curve(c: &CaseResult) -> Vec<(f64, f64)> {
    let Some(r) = c.ok() else { return Vec::new() };
    if let Some(h) = hgrm::decode(&r.latency_histogram_b64) {
        return hgrm::percentile_points(&h)
            .into_iter()
            .filter(|p| p.value_us > 0.0)
            .map(|p| (p.x, p.value_us / 1e3))
            .collect();
    }
    let l = &r.latency_us;
    [
        (2.0, l.p50),
        (10.0, l.p90),
        (100.0, l.p99),
        (1000.0, l.p999),
    ]
    .into_iter()
    .filter(|(_, v)| *v > 0.0)
    .map(|(x, v)| (x, v / 1e3))
    .collect()
}

/// Label of an x position: `1/(1−p)` → `p` as a percentage (2 → 50%, 1000 → 99.9%).
pub fn percentile_label(x: f64) -> String {
    if x <= 1.0 {
        return "0%".into();
    }
    let p = 100.0 * (1.0 - 1.0 / x);
    let s = format!("{p:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

impl Chart for Percentiles {
    fn name(&self) -> &'static str {
        "latency-percentiles"
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<(), String> {
        let area = titled(root, &self.title)?;
        let xmax = log_bounds(self.curves.iter().flat_map(|(_, p)| p.iter().map(|p| p.0)))
            .end
            .max(1e3);
        let y = log_bounds(
            self.curves
                .iter()
                .flat_map(|(_, p)| p.iter().map(|p| p.1))
                .chain(
                    self.bars
                        .iter()
                        .flat_map(|(_, b)| b.iter().flat_map(|&(_, lo, hi)| [lo, hi])),
                ),
        );
        let mut keys = vec![1.0, 2.0, 10.0];
        while keys.last().is_some_and(|k| *k < xmax) {
            keys.push(keys.last().copied().unwrap_or(1.0) * 10.0);
        }
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d((1.0..xmax).log_scale().with_key_points(keys), y.log_scale())
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("percentile (axis: 1/(1−p), each tick one more nine)")
            .y_desc("latency (ms, log)")
            .axis_desc_style(font(18))
            .label_style(font(15))
            .x_label_formatter(&|x| percentile_label(*x))
            .y_label_formatter(&|y| format::compact(*y))
            .draw()
            .map_err(draw_error)?;
        for (t, pts) in &self.curves {
            measured(&mut chart, pts, color(*t), t.as_str())?;
        }
        for (t, b) in &self.bars {
            let b: Vec<Bar> = b.iter().copied().filter(|&(_, lo, _)| lo > 0.0).collect();
            bars::draw(&mut chart, &b, color(*t))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels() {
        assert_eq!(percentile_label(2.0), "50%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(10_000.0), "99.99%");
        assert_eq!(percentile_label(1.0), "0%");
    }
}
