//! Lines and the legend: measured series solid with markers, model series dashed, and the box
//! that names them.
//!
//! The analytic model (`crate::model`, applied by `crate::predict`) is drawn as a **dashed** line
//! in the colour of the transport it predicts, so the eye sees at once where reality departs from
//! theory; its legend entry is one neutral grey dash standing for every model line.

use plotters::coord::ranged1d::Ranged;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::chart::draw_error;
use super::style::font;

/// Draws a measured series: a solid line with circles, labelled for the legend.
pub fn measured<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    pts: &[(f64, f64)],
    color: RGBColor,
    label: &str,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    if pts.is_empty() {
        return Ok(());
    }
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
        .map_err(draw_error)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
    chart
        .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
        .map_err(draw_error)?;
    Ok(())
}

/// Draws a model series: a dashed line, labelled for the legend (pass `None` to share a label).
pub fn model<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    pts: &[(f64, f64)],
    color: RGBColor,
    label: Option<&str>,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    if pts.len() < 2 {
        return Ok(());
    }
    let style = color.mix(0.85).stroke_width(2);
    let drawn = chart
        .draw_series(DashedLineSeries::new(pts.iter().copied(), 8, 6, style))
        .map_err(draw_error)?;
    if let Some(label) = label {
        // The legend entry stands for every model line, so it is drawn in neutral grey.
        let grey = BLACK.mix(0.6).stroke_width(2);
        drawn
            .label(label)
            .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 24, y)], 5, 3, grey));
    }
    Ok(())
}

/// Draws the legend box.
pub fn legend<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    pos: SeriesLabelPosition,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(pos)
        .label_font(font(15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .draw()
        .map_err(draw_error)
}
