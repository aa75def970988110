//! Stacked bars: one bar per transport, split into named, coloured segments, in one panel.
//!
//! Two charts need them: bytes per event split by kind (payload, framing, requests, keep-alive)
//! and time to first event split by what it waited for (TCP, HTTP set-up, the event). The panel
//! is drawn once here: categories on x (short transport names), a linear y from zero, the first
//! panel of a row carrying the legend, and optional dashed marks across it (round trips).

use plotters::coord::Shift;
use plotters::prelude::*;
use rtlab_wire::Transport;

use super::chart::draw_error;
use super::lines::legend;
use super::style::font;
use crate::format;

/// One panel of stacked bars.
#[derive(Debug)]
pub struct StackedPanel<'a> {
    /// Caption above the panel.
    pub caption: String,
    /// y axis description (empty for panels after the first of a row).
    pub y_desc: &'a str,
    /// Each bar: its transport and its segments' heights, bottom first.
    pub bars: &'a [(Transport, Vec<f64>)],
    /// Segment names and colours, bottom first.
    pub segments: &'a [(&'a str, RGBColor)],
    /// Whether this panel carries the legend (then room is left above the bars).
    pub legend: bool,
    /// Dashed horizontal marks, in y units (the y range reaches the highest).
    pub marks: Vec<f64>,
    /// The tallest bar of every panel in the row, when the panels share one y scale (so that
    /// bars compare across panels); `None`: this panel's own.
    pub shared_tallest: Option<f64>,
}

/// Draws `p` on `cell`.
pub fn draw_stacked<DB: DrawingBackend>(
    cell: &DrawingArea<DB, Shift>,
    p: &StackedPanel<'_>,
) -> Result<(), String> {
    let names: Vec<&'static str> = p.bars.iter().map(|b| short(b.0)).collect();
    let tallest = p.shared_tallest.unwrap_or_else(|| tallest(p.bars));
    // Panels that share a scale share the legend's headroom too.
    let head = if p.legend || p.shared_tallest.is_some() {
        1.7
    } else {
        1.15
    };
    let top = p.marks.iter().copied().fold(tallest, f64::max) * head;
    let k = p.bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(cell)
        .caption(&p.caption, font(18))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..k - 0.5, 0.0..top.max(1.0))
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(p.y_desc)
        .axis_desc_style(font(15))
        .label_style(font(13))
        .x_labels(p.bars.len() * 2 + 1)
        .x_label_formatter(&|x| super::axes::category(&names, *x))
        .y_label_formatter(&|y| format::compact(*y))
        .draw()
        .map_err(draw_error)?;
    for &y in &p.marks {
        chart
            .draw_series(DashedLineSeries::new(
                [(-0.5, y), (k - 0.5, y)],
                2,
                4,
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(draw_error)?;
    }
    for (s, (label, colour)) in p.segments.iter().enumerate() {
        let rects = p.bars.iter().enumerate().map(|(x, (_, parts))| {
            let base: f64 = parts[..s].iter().sum();
            let height = parts.get(s).copied().unwrap_or(0.0);
            let x = x as f64;
            Rectangle::new(
                [(x - 0.35, base), (x + 0.35, base + height)],
                colour.filled(),
            )
        });
        let drawn = chart.draw_series(rects).map_err(draw_error)?;
        if p.legend {
            let c = *colour;
            drawn
                .label(*label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], c.filled()));
        }
    }
    if p.legend {
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    }
    Ok(())
}

/// The tallest of `bars` (the sum of its segments).
pub fn tallest(bars: &[(Transport, Vec<f64>)]) -> f64 {
    bars.iter()
        .map(|b| b.1.iter().sum::<f64>())
        .fold(0.0, f64::max)
}

/// Short transport names for crowded axes.
pub fn short(t: Transport) -> &'static str {
    match t {
        Transport::LongPoll => "long",
        Transport::ShortPoll => "short",
        other => other.as_str(),
    }
}
