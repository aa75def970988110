//! One x–y panel: measured series per transport, dashed model series, log or linear axes.
//!
//! Most charts are two or three of these side by side, so the panel is written once: it picks
//! decade bounds for log axes, draws each transport's measured line in its colour and its model
//! dashed in the same colour, min–max bars where cases were repeated, a ring around every point
//! whose case was client-bound (its client core over 85 % busy: the point may show the load
//! generator's limit, not the server's), and places the legend.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use rtlab_wire::Transport;

use super::axes::{lin_bounds, log_bounds};
use super::bars::Bar;
use super::chart::{Chart, draw_error};
use super::lines::{legend, measured, model};
use super::series::points;
use super::style::{color, font, titled};
use crate::case_result::{CLIENT_BOUND_CPU, CaseResult};
use crate::format;

/// One measured series: its transport, a label suffix (`p99`), and its points.
pub type Series = (Transport, String, Vec<(f64, f64)>);

/// What one panel shows.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Caption above the panel.
    pub caption: String,
    /// x axis description, with unit.
    pub x_desc: String,
    /// y axis description, with unit.
    pub y_desc: String,
    /// Log x axis.
    pub x_log: bool,
    /// Log y axis.
    pub y_log: bool,
    /// Fixed y range (else from the data).
    pub y_range: Option<Range<f64>>,
    /// Measured series: transport, label suffix, points.
    pub series: Vec<Series>,
    /// Model series: transport, points (dashed).
    pub models: Vec<(Transport, Vec<(f64, f64)>)>,
    /// Label of the model series in the legend.
    pub model_label: String,
    /// Formats x tick labels.
    pub x_fmt: fn(f64) -> String,
    /// Where the legend goes.
    pub legend: SeriesLabelPosition,
    /// Min–max bars of repeated cases, per transport ([`super::bars`]).
    pub bars: Vec<(Transport, Vec<Bar>)>,
    /// Points of measured series whose case was client-bound, ringed.
    pub client_bound: Vec<(f64, f64)>,
}

impl Panel {
    /// An empty panel with the given caption and axis descriptions, log–log.
    pub fn new(
        caption: impl Into<String>,
        x_desc: impl Into<String>,
        y_desc: impl Into<String>,
    ) -> Self {
        Panel {
            caption: caption.into(),
            x_desc: x_desc.into(),
            y_desc: y_desc.into(),
            x_log: true,
            y_log: true,
            y_range: None,
            series: Vec::new(),
            models: Vec::new(),
            model_label: "model (dashed)".into(),
            x_fmt: format::compact,
            legend: SeriesLabelPosition::UpperLeft,
            bars: Vec::new(),
            client_bound: Vec::new(),
        }
    }

    /// Adds `t`'s measured points as a series with no label suffix (the common case: one
    /// series per transport).
    pub fn push_measured(&mut self, t: Transport, points: Vec<(f64, f64)>) {
        self.series.push((t, String::new(), points));
    }

    /// Adds `t`'s cases as a measured series of `(x, y)` points, ringing the points of the
    /// cases that were client-bound.
    pub fn push_cases(
        &mut self,
        cases: &[&CaseResult],
        t: Transport,
        x: impl Fn(&CaseResult) -> Option<f64>,
        y: impl Fn(&CaseResult) -> Option<f64>,
    ) {
        let bound: Vec<&CaseResult> = cases.iter().copied().filter(|c| c.client_bound()).collect();
        self.client_bound.extend(points(&bound, t, &x, &y));
        self.push_measured(t, points(cases, t, x, y));
    }

    /// Whether there is anything to draw.
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|s| s.2.is_empty())
    }

    /// Draws the panel on `area`.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        // A log axis cannot show zero or less: such points (e.g. a CPU time below the clock tick)
        // are left out rather than drawn at the axis floor.
        let keep = |p: &(f64, f64)| (!self.x_log || p.0 > 0.0) && (!self.y_log || p.1 > 0.0);
        let clean = Panel {
            series: self
                .series
                .iter()
                .map(|(t, s, pts)| (*t, s.clone(), pts.iter().copied().filter(keep).collect()))
                .collect(),
            models: self
                .models
                .iter()
                .map(|(t, pts)| (*t, pts.iter().copied().filter(keep).collect()))
                .collect(),
            client_bound: self.client_bound.iter().copied().filter(keep).collect(),
            bars: self
                .bars
                .iter()
                .map(|(t, b)| {
                    let b = b.iter().copied().filter(|&(x, lo, _)| keep(&(x, lo)));
                    (*t, b.collect())
                })
                .collect(),
            ..self.clone()
        };
        clean.draw_clean(area)
    }

    fn draw_clean<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.2.iter().map(|p| p.0))
            .chain(self.models.iter().flat_map(|m| m.1.iter().map(|p| p.0)));
        let ys: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.2.iter().map(|p| p.1))
            .chain(self.models.iter().flat_map(|m| m.1.iter().map(|p| p.1)))
            .chain(
                self.bars
                    .iter()
                    .flat_map(|b| b.1.iter().flat_map(|&(_, lo, hi)| [lo, hi])),
            )
            .collect();
        let x_log = log_bounds(xs.clone());
        let x_lin = lin_bounds(xs);
        let y_log = self
            .y_range
            .clone()
            .unwrap_or_else(|| log_bounds(ys.iter().copied()));
        let y_lin = self
            .y_range
            .clone()
            .unwrap_or_else(|| lin_bounds(ys.iter().copied()));
        match (self.x_log, self.y_log) {
            (true, true) => self.draw_on(area, x_log.log_scale(), y_log.log_scale()),
            (true, false) => self.draw_on(area, x_log.log_scale(), y_lin),
            (false, true) => self.draw_on(area, x_lin, y_log.log_scale()),
            (false, false) => self.draw_on(area, x_lin, y_lin),
        }
    }

    fn draw_on<DB, X, Y>(&self, area: &DrawingArea<DB, Shift>, x: X, y: Y) -> Result<(), String>
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
        Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(&self.caption, font(18))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(75)
            .build_cartesian_2d(x, y)
            .map_err(draw_error)?;
        let x_fmt = self.x_fmt;
        chart
            .configure_mesh()
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .axis_desc_style(font(15))
            .label_style(font(13))
            .x_label_formatter(&|v| x_fmt(*v))
            .y_label_formatter(&|v| format::compact(*v))
            .draw()
            .map_err(draw_error)?;
        for (t, suffix, pts) in &self.series {
            let label = if suffix.is_empty() {
                t.as_str().to_owned()
            } else {
                format!("{t} {suffix}")
            };
            let c = if suffix.contains("p99") {
                super::style::lighter(color(*t))
            } else {
                color(*t)
            };
            measured(&mut chart, pts, c, &label)?;
        }
        for (t, bars) in &self.bars {
            super::bars::draw(&mut chart, bars, color(*t))?;
        }
        if !self.client_bound.is_empty() {
            // A black ring around each point already drawn whose case was client-bound.
            let ring = BLACK.stroke_width(2);
            chart
                .draw_series(self.client_bound.iter().map(|&p| Circle::new(p, 8, ring)))
                .map_err(draw_error)?
                .label(format!(
                    "client-bound (client core > {})",
                    format::percent(CLIENT_BOUND_CPU)
                ))
                .legend(move |(x, y)| Circle::new((x + 12, y), 6, ring));
        }
        let mut labelled = false;
        for (t, pts) in &self.models {
            let label = (!labelled && pts.len() >= 2).then_some(self.model_label.as_str());
            labelled |= label.is_some();
            model(&mut chart, pts, color(*t), label)?;
        }
        legend(&mut chart, self.legend.clone())
    }
}

/// A chart that is a titled row of panels, as most are: the file stem, the title and the panels
/// are all that tell one such chart from another, so each chart's file builds one of these.
#[derive(Debug)]
pub struct PanelRow {
    /// File stem (`fanout-throughput`).
    pub name: &'static str,
    /// The title above the row: what was varied, and the setting.
    pub title: String,
    /// The panels, left to right; empty ones are skipped.
    pub panels: Vec<Panel>,
}

impl Chart for PanelRow {
    fn name(&self) -> &'static str {
        self.name
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw_row(&titled(root, &self.title)?, &self.panels)
    }
}

/// Splits `area` into side-by-side cells and draws the non-empty panels.
fn draw_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panels: &[Panel],
) -> Result<(), String> {
    let panels: Vec<&Panel> = panels.iter().filter(|p| !p.is_empty()).collect();
    let cells = area.split_evenly((1, panels.len().max(1)));
    for (p, cell) in panels.iter().zip(cells.iter()) {
        p.draw(cell)?;
    }
    Ok(())
}
