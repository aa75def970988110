//! Bytes per event: what each transport puts on the wire around the same event.
//!
//! [`Stacked`] splits every delivered event's bytes into four kinds, one panel per payload size:
//! the **payload** (the event JSON itself), **framing + headers** (WebSocket frame headers, SSE
//! `id:`/`data:` lines and HTTP chunk sizes, poll responses' HTTP heads and JSON brackets),
//! **requests** (the poll requests sent up, which streaming transports never send) and
//! **keep-alive** (pings, pongs, heartbeats). At 16 B of payload the framing is most of the bill
//! for polling; at 64 KiB it vanishes for everyone — the point where the choice of transport stops
//! mattering for bandwidth.
//!
//! [`Efficiency`] shows the same against payload size on log axes, with the analytic model
//! ([`crate::predict`]) dashed: overhead bytes per event, and the payload's share of all bytes.

use plotters::coord::Shift;
use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;
use rtlab_wire::Transport;

use super::axes::log_bounds;
use super::chart::{Chart, draw_error};
use super::lines::{legend, measured, model};
use super::series::{of_kind, points, transports};
use super::stacked::{StackedPanel, draw_stacked};
use super::style::{color, font, titled};
use crate::case_result::CaseResult;
use crate::format;
use crate::predict;
use crate::scenario::Kind;

/// Segment colours of the stacked bars.
const SEGMENTS: [(&str, RGBColor); 4] = [
    ("payload (event JSON)", RGBColor(120, 170, 220)),
    ("framing + headers (down)", RGBColor(240, 150, 40)),
    ("poll requests (up)", RGBColor(200, 60, 60)),
    ("keep-alive", RGBColor(150, 110, 190)),
];

/// One bar: a transport's four segments at one payload size.
#[derive(Debug, Clone)]
struct Bar {
    transport: Transport,
    parts: [f64; 4],
}

/// Stacked bytes per event, one panel per payload size.
#[derive(Debug)]
pub struct Stacked {
    title: String,
    panels: Vec<(u64, Vec<Bar>)>,
}

impl Stacked {
    /// From the payload-kind cases; `None` without any.
    pub fn from_cases(cases: &[CaseResult]) -> Option<Self> {
        let pay = of_kind(cases, Kind::Payload);
        let first = pay.first()?;
        let mut sizes: Vec<u64> = pay.iter().map(|c| c.params.payload_bytes).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let panels = sizes
            .into_iter()
            .map(|size| {
                let bars = transports(&pay)
                    .into_iter()
                    .filter_map(|t| {
                        let c = pay
                            .iter()
                            .find(|c| c.transport == t && c.params.payload_bytes == size)?;
                        let r = c.ok()?;
                        Some(Bar {
                            transport: t,
                            parts: [
                                r.wire.payload_bytes_per_event,
                                r.wire.overhead_bytes_per_event,
                                c.request_bytes_per_event().unwrap_or(0.0),
                                c.keepalive_per_event().unwrap_or(0.0),
                            ],
                        })
                    })
                    .collect();
                (size, bars)
            })
            .collect();
        Some(Stacked {
            title: format!(
                "Bytes on the wire per delivered event — {} clients × {} events/s",
                first.params.clients, first.params.rate
            ),
            panels,
        })
    }
}

impl Chart for Stacked {
    fn name(&self) -> &'static str {
        "bytes-per-event"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = titled(root, &self.title)?;
        let n = self.panels.len().max(1);
        let rows = if n > 4 { 2 } else { 1 };
        let cols = n.div_ceil(rows);
        let cells = area.split_evenly((rows, cols));
        for (i, ((size, bars), cell)) in self.panels.iter().zip(cells.iter()).enumerate() {
            let bars: Vec<(Transport, Vec<f64>)> = bars
                .iter()
                .map(|b| (b.transport, b.parts.to_vec()))
                .collect();
            draw_stacked(
                cell,
                &StackedPanel {
                    caption: format!("payload {}", format::bytes(*size as f64)),
                    y_desc: if i % cols == 0 { "bytes per event" } else { "" },
                    bars: &bars,
                    segments: &SEGMENTS,
                    legend: i == 0,
                    marks: Vec::new(),
                    shared_tallest: None,
                },
            )?;
        }
        Ok(())
    }
}

/// Overhead bytes per event and payload efficiency against payload size, with the model dashed.
#[derive(Debug)]
pub struct Efficiency {
    title: String,
    series: Vec<Series>,
}

#[derive(Debug)]
struct Series {
    transport: Transport,
    overhead: Vec<(f64, f64)>,
    overhead_model: Vec<(f64, f64)>,
    efficiency: Vec<(f64, f64)>,
    efficiency_model: Vec<(f64, f64)>,
}

impl Efficiency {
    /// From the payload-kind cases; `None` without any.
    pub fn from_cases(cases: &[CaseResult]) -> Option<Self> {
        let pay = of_kind(cases, Kind::Payload);
        let first = pay.first()?;
        let size = |c: &CaseResult| Some(c.params.payload_bytes as f64);
        let series = transports(&pay)
            .into_iter()
            .map(|t| Series {
                transport: t,
                overhead: points(&pay, t, size, |c| {
                    c.ok().map(|r| {
                        r.wire.overhead_bytes_per_event + c.request_bytes_per_event().unwrap_or(0.0)
                    })
                }),
                overhead_model: points(&pay, t, size, |c| {
                    Some(predict::overhead_per_event(c)? + predict::request_bytes_per_event(c)?)
                }),
                efficiency: points(&pay, t, size, |c| c.payload_efficiency().map(|e| e * 100.0)),
                efficiency_model: points(&pay, t, size, |c| {
                    predict::payload_efficiency(c).map(|e| e * 100.0)
                }),
            })
            .collect();
        Some(Efficiency {
            title: format!(
                "Overhead and payload efficiency vs payload size — {} clients × {} events/s (dashed: model)",
                first.params.clients, first.params.rate
            ),
            series,
        })
    }
}

impl Chart for Efficiency {
    fn name(&self) -> &'static str {
        "payload-efficiency"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = titled(root, &self.title)?;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        let x = log_bounds(
            self.series
                .iter()
                .flat_map(|s| s.overhead.iter().map(|p| p.0)),
        );
        // Ticks at the payload sizes measured (powers of two read better as 16 B … 64 KiB).
        let mut keys: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.overhead.iter().map(|p| p.0))
            .collect();
        keys.sort_by(f64::total_cmp);
        keys.dedup();
        let y = log_bounds(
            self.series
                .iter()
                .flat_map(|s| s.overhead.iter().chain(&s.overhead_model).map(|p| p.1)),
        );
        let mut chart = ChartBuilder::on(&left)
            .caption("framing + headers + requests per event", font(18))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(
                x.clone().log_scale().with_key_points(keys.clone()),
                y.log_scale(),
            )
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("payload per event (bytes, log)")
            .y_desc("overhead bytes per event (log)")
            .axis_desc_style(font(15))
            .label_style(font(13))
            .x_label_formatter(&|v| format::bytes(*v))
            .y_label_formatter(&|v| format::compact(*v))
            .draw()
            .map_err(draw_error)?;
        for (i, s) in self.series.iter().enumerate() {
            measured(
                &mut chart,
                &s.overhead,
                color(s.transport),
                s.transport.as_str(),
            )?;
            model(
                &mut chart,
                &s.overhead_model,
                color(s.transport),
                (i == 0).then_some("model (dashed)"),
            )?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;

        let mut chart = ChartBuilder::on(&right)
            .caption("payload efficiency: event JSON / all bytes", font(18))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x.log_scale().with_key_points(keys), 0.0..105.0)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("payload per event (bytes, log)")
            .y_desc("efficiency (%)")
            .axis_desc_style(font(15))
            .label_style(font(13))
            .x_label_formatter(&|v| format::bytes(*v))
            .draw()
            .map_err(draw_error)?;
        for (i, s) in self.series.iter().enumerate() {
            measured(
                &mut chart,
                &s.efficiency,
                color(s.transport),
                s.transport.as_str(),
            )?;
            model(
                &mut chart,
                &s.efficiency_model,
                color(s.transport),
                (i == 0).then_some("model (dashed)"),
            )?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}
