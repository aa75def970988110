//! Round trip: clients publish, and every subscriber receives.
//!
//! A WebSocket client publishes over the connection it already has: one masked frame, a few
//! bytes of header. Every other transport is one-way, so its clients publish with an HTTP
//! `POST /publish` (a request head and a response head per event, on a second connection). The
//! left panel shows the publish → receive time (from the *scheduled* send time, so a stalled
//! sender cannot hide), the right what each publish costs upstream.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use rtlab_wire::Transport;

use super::chart::{Chart, draw_error};
use super::series::of_kind;
use super::style::{color, font, titled};
use crate::case_result::CaseResult;
use crate::format;
use crate::scenario::Kind;

/// One transport's round trip.
#[derive(Debug, Clone)]
struct Row {
    transport: Transport,
    via: String,
    p50_ms: f64,
    p99_ms: f64,
    bytes_up: f64,
}

/// Round-trip latency and upstream bytes per publish, per transport.
#[derive(Debug)]
pub struct RoundTrip {
    title: String,
    rows: Vec<Row>,
}

impl RoundTrip {
    /// From the round-trip cases; `None` without any publishing.
    pub fn from_cases(cases: &[CaseResult]) -> Option<Self> {
        let rt = of_kind(cases, Kind::RoundTrip);
        let first = rt.first()?;
        let rows: Vec<Row> = Transport::ALL
            .into_iter()
            .filter_map(|t| {
                let c = rt.iter().find(|c| c.transport == t)?;
                let p = c.ok()?.publish.as_ref()?;
                Some(Row {
                    transport: t,
                    via: p.via.clone(),
                    p50_ms: p.round_trip_us.p50 / 1e3,
                    p99_ms: p.round_trip_us.p99 / 1e3,
                    bytes_up: p.bytes_up_per_publish,
                })
            })
            .collect();
        if rows.is_empty() {
            return None;
        }
        Some(RoundTrip {
            title: format!(
                "Round trip: clients publishing {}/s each — {} clients",
                format::compact(first.params.publish_rate.unwrap_or(0.0)),
                first.params.clients
            ),
            rows,
        })
    }
}

impl Chart for RoundTrip {
    fn name(&self) -> &'static str {
        "round-trip"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = titled(root, &self.title)?;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        let names: Vec<String> = self
            .rows
            .iter()
            .map(|r| format!("{} ({})", r.transport, r.via))
            .collect();

        // Round trips span decades (a frame on an open socket vs a poll interval): log axis, bars
        // standing on its floor.
        let y = super::axes::log_bounds(self.rows.iter().flat_map(|r| [r.p50_ms, r.p99_ms]));
        let floor = y.start;
        let mut chart = bar_axes(
            &left,
            "publish → receive latency (dark p50, light p99)",
            "round trip (ms, log)",
            y.log_scale(),
            &names,
        )?;
        chart
            .draw_series(row_bars(
                &self.rows,
                floor,
                |r| r.p99_ms.max(floor),
                |t| super::style::lighter(color(t)),
            ))
            .map_err(draw_error)?;
        chart
            .draw_series(row_bars(&self.rows, floor, |r| r.p50_ms.max(floor), color))
            .map_err(draw_error)?;
        chart
            .draw_series(self.rows.iter().enumerate().map(|(i, r)| {
                Text::new(
                    format!(
                        "p50 {} / p99 {} ms",
                        format::compact(r.p50_ms),
                        format::compact(r.p99_ms)
                    ),
                    (i as f64 - 0.45, r.p99_ms.max(floor) * 1.25),
                    font(11),
                )
            }))
            .map_err(draw_error)?;

        let ymax = self.rows.iter().map(|r| r.bytes_up).fold(0.0, f64::max) * 1.2;
        let mut chart = bar_axes(
            &right,
            "bytes sent up per publish (frame or request)",
            "bytes per publish",
            0.0..ymax.max(1.0),
            &names,
        )?;
        chart
            .draw_series(row_bars(&self.rows, 0.0, |r| r.bytes_up, color))
            .map_err(draw_error)?;
        chart
            .draw_series(self.rows.iter().enumerate().map(|(i, r)| {
                Text::new(
                    format!("{:.0} B", r.bytes_up),
                    (i as f64 - 0.15, r.bytes_up + ymax * 0.02),
                    font(13),
                )
            }))
            .map_err(draw_error)?;
        Ok(())
    }
}

/// One filled bar per row in its slot, from `floor` up to `top` of the row, in `fill` of the
/// row's transport colour.
fn row_bars<'r>(
    rows: &'r [Row],
    floor: f64,
    top: impl Fn(&Row) -> f64 + 'r,
    fill: impl Fn(Transport) -> RGBColor + 'r,
) -> impl Iterator<Item = Rectangle<(f64, f64)>> + 'r {
    rows.iter().enumerate().map(move |(i, r)| {
        let x = i as f64;
        Rectangle::new(
            [(x - 0.3, floor), (x + 0.3, top(r))],
            fill(r.transport).filled(),
        )
    })
}

/// The axes of one panel: a bar slot per transport along x (labelled with `names`), `y` up.
fn bar_axes<'a, DB, Y>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    y_desc: &str,
    y: Y,
    names: &[String],
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y::CoordDescType>>, String>
where
    DB: DrawingBackend,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let k = names.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(18))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(75)
        .build_cartesian_2d(-0.5..k - 0.5, y)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_desc)
        .axis_desc_style(font(15))
        .label_style(font(12))
        .x_labels(names.len() * 2 + 1)
        .x_label_formatter(&|x| super::axes::category(names, *x))
        .y_label_formatter(&|v| format::compact(*v))
        .draw()
        .map_err(draw_error)?;
    Ok(chart)
}
