//! The charts: each trade-off drawn so that it reads without the report.
//!
//! Every chart has a title that states the setting, axes with units, a legend, and log scales
//! wherever the data spans decades (clients 1 … 10 000, payload 16 B … 64 KiB, latency µs … s).
//! Measured values are solid lines with markers, one colour per transport across all charts; the
//! analytic model ([`crate::model`]) is a **dashed** line of the same colour, so the eye can see
//! at once where reality departs from theory.
//!
//! Each chart is drawn twice from the same code, through plotters' bitmap back end (PNG, for the
//! report and README) and its SVG back end (crisp at any size). Charts are drawn only from the
//! stored results, never from live measurements, so `rtlab plot DIR` can redraw any old run.
//!
//! | file | chart |
//! |---|---|
//! | [`bars`] | min–max bars of repeated cases around their median |
//! | [`panel`] | one x–y panel (log or linear axes, measured solid, model dashed), shared by most |
//! | [`latency`] | latency percentile curves, HdrHistogram style |
//! | [`bytes`] | bytes per event stacked by kind; overhead and efficiency against payload |
//! | [`fanout`] | throughput, p99 and server cost against clients |
//! | [`rate`] | delivery, p99 and requests per event against the event rate |
//! | [`poll`] | short-poll latency and wasted requests against the interval |
//! | [`roundtrip`] | publish → receive round trip and upstream bytes |
//! | [`capacity`] | delivered vs offered beside the raw-TCP floor; RSS vs idle connections |

pub mod bars;
pub mod bytes;
pub mod capacity;
pub mod fanout;
pub mod font;
pub mod latency;
pub mod panel;
pub mod poll;
pub mod rate;
pub mod roundtrip;

use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::Ranged;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use rtlab_wire::Transport;

use crate::results::CaseResult;
use crate::suite::Kind;

/// Pixel size of every chart.
pub const SIZE: (u32, u32) = (1280, 720);

/// What can go wrong while drawing.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The embedded font could not be registered.
    #[error("the embedded font could not be registered")]
    Font,
    /// A chart could not be drawn or written.
    #[error("chart {chart}: {message}")]
    Draw {
        /// The chart.
        chart: String,
        /// What went wrong.
        message: String,
    },
}

/// A chart that can draw itself on any plotters back end.
pub trait Figure {
    /// File stem (`latency-percentiles`).
    fn name(&self) -> &'static str;
    /// Draws on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// A chart written to disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    /// File stem.
    pub name: &'static str,
    /// The PNG.
    pub png: PathBuf,
    /// The SVG.
    pub svg: PathBuf,
}

/// Draws every chart the cases have data for into `dir` (PNG and SVG).
pub fn draw_all(dir: &Path, cases: &[CaseResult]) -> Result<Vec<Drawn>, PlotError> {
    if !font::ensure_registered() {
        return Err(PlotError::Font);
    }
    let mut out = Vec::new();
    if let Some(f) = latency::Percentiles::from_cases(cases) {
        out.push(save(dir, &f)?);
    }
    if let Some(f) = bytes::Stacked::from_cases(cases) {
        out.push(save(dir, &f)?);
    }
    if let Some(f) = bytes::Efficiency::from_cases(cases) {
        out.push(save(dir, &f)?);
    }
    if let Some(f) = fanout::Throughput::from_cases(cases) {
        out.push(save(dir, &f)?);
    }
    if let Some(f) = fanout::Cost::from_cases(cases) {
        out.push(save(dir, &f)?);
    }
    if let Some(f) = rate::Saturation::from_cases(cases) {
        out.push(save(dir, &f)?);
    }
    if let Some(f) = poll::Interval::from_cases(cases) {
        out.push(save(dir, &f)?);
    }
    if let Some(f) = roundtrip::RoundTrip::from_cases(cases) {
        out.push(save(dir, &f)?);
    }
    if let Some(f) = capacity::Capacity::from_cases(cases) {
        out.push(save(dir, &f)?);
    }
    Ok(out)
}

/// Draws one figure as `<dir>/<name>.png` and `<dir>/<name>.svg`.
pub fn save<F: Figure>(dir: &Path, fig: &F) -> Result<Drawn, PlotError> {
    let err = |message: String| PlotError::Draw {
        chart: fig.name().into(),
        message,
    };
    let png = dir.join(format!("{}.png", fig.name()));
    let svg = dir.join(format!("{}.svg", fig.name()));
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        fig.draw(&root).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        fig.draw(&root).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(Drawn {
        name: fig.name(),
        png,
        svg,
    })
}

/// Maps a plotters error to text.
pub fn de(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The colour of a transport, the same in every chart.
pub fn color(t: Transport) -> RGBColor {
    match t {
        Transport::Ws => RGBColor(31, 119, 180),
        Transport::Sse => RGBColor(255, 127, 14),
        Transport::LongPoll => RGBColor(44, 160, 44),
        Transport::ShortPoll => RGBColor(214, 39, 40),
        Transport::Tcp => RGBColor(70, 70, 70),
    }
}

/// A lighter shade of a colour (for secondary series such as p99 next to a mean).
pub fn lighter(c: RGBColor) -> RGBColor {
    let l = |v: u8| ((v as u16 + 2 * 255) / 3) as u8;
    RGBColor(l(c.0), l(c.1), l(c.2))
}

/// Font of a given size in the embedded family.
pub fn font(size: u32) -> TextStyle<'static> {
    (font::FAMILY, size).into_font().into()
}

/// The label of a category axis position: the name at an integer position, nothing between.
pub fn category<S: AsRef<str>>(names: &[S], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    names
        .get(i as usize)
        .map(|n| n.as_ref().to_owned())
        .unwrap_or_default()
}

/// Fills the background and writes the title; returns the area below it.
pub fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(de)?;
    root.titled(title, font(26)).map_err(de)
}

/// Successful cases of one kind.
pub fn of_kind(cases: &[CaseResult], kind: Kind) -> Vec<&CaseResult> {
    cases
        .iter()
        .filter(|c| c.kind == kind && c.ok().is_some())
        .collect()
}

/// Transports present in `cases`, in the standard order.
pub fn transports(cases: &[&CaseResult]) -> Vec<Transport> {
    Transport::ALL
        .into_iter()
        .filter(|t| cases.iter().any(|c| c.transport == *t))
        .collect()
}

/// `(x, y)` points of one transport, sorted by x, dropping non-positive values (for log axes).
pub fn points(
    cases: &[&CaseResult],
    t: Transport,
    x: impl Fn(&CaseResult) -> Option<f64>,
    y: impl Fn(&CaseResult) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = cases
        .iter()
        .filter(|c| c.transport == t)
        .filter_map(|c| Some((x(c)?, y(c)?)))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// Decade bounds for a log axis covering `values` (positive ones only).
pub fn log_bounds(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| *v > 0.0 && v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 1.0..10.0;
    }
    let lo = 10f64.powf(lo.log10().floor());
    let mut hi = 10f64.powf(hi.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    lo..hi
}

/// `0 .. max × 1.15` for a linear axis.
pub fn lin_bounds(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let hi = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    0.0..if hi > 0.0 { hi * 1.15 } else { 1.0 }
}

/// Short number: 950, 1.5k, 20k, 3M.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a > 0.0 && a < 0.01 {
        return format!("{v:.0e}");
    }
    let (x, unit) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = if x.fract().abs() < 1e-9 || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s}{unit}")
}

/// Bytes with a binary unit: 16 B, 4 KiB, 64 KiB, 1.5 MiB.
pub fn fmt_bytes(v: f64) -> String {
    if v >= 1024.0 * 1024.0 {
        format!("{} MiB", fmt_num(v / 1024.0 / 1024.0))
    } else if v >= 1024.0 {
        format!("{} KiB", fmt_num(v / 1024.0))
    } else {
        format!("{} B", fmt_num(v))
    }
}

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
        .map_err(de)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
    chart
        .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
        .map_err(de)?;
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
        .map_err(de)?;
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
        .map_err(de)
}

#[cfg(test)]
pub(crate) mod testdata;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_formatting() {
        assert_eq!(log_bounds([3.0, 4500.0]), 1.0..10_000.0);
        assert_eq!(log_bounds([]), 1.0..10.0);
        assert_eq!(log_bounds([100.0]), 100.0..1000.0);
        assert_eq!(fmt_num(1500.0), "1.5k");
        assert_eq!(fmt_num(10_000.0), "10k");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(0.001), "1e-3");
        assert_eq!(fmt_bytes(65_536.0), "64 KiB");
        assert_eq!(fmt_bytes(16.0), "16 B");
    }

    #[test]
    fn every_chart_draws_from_synthetic_results() {
        let dir = std::env::temp_dir().join(format!("rtlab-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = testdata::cases();
        let drawn = draw_all(&dir, &cases).unwrap();
        assert_eq!(drawn.len(), 9, "{drawn:?}");
        for d in &drawn {
            assert!(
                std::fs::metadata(&d.png).unwrap().len() > 10_000,
                "{:?}",
                d.png
            );
            let svg = std::fs::read_to_string(&d.svg).unwrap();
            assert!(svg.contains("<svg"));
        }
        // Repeated latency and fan-out cases add min–max bars to their charts.
        let repeated: Vec<CaseResult> = cases
            .iter()
            .map(|c| {
                if !matches!(c.kind, Kind::Latency | Kind::Fanout) {
                    return c.clone();
                }
                let mut slow = c.clone();
                if let Some(r) = slow.client.as_mut() {
                    r.latency_us.p50 *= 1.5;
                    r.latency_us.p99 *= 1.5;
                    r.events_per_s *= 0.9;
                }
                crate::repeat::fold(vec![c.clone(), slow]).unwrap()
            })
            .collect();
        let with_bars = dir.join("repeated");
        std::fs::create_dir_all(&with_bars).unwrap();
        let drawn_again = draw_all(&with_bars, &repeated).unwrap();
        for name in ["latency-percentiles", "fanout-throughput"] {
            let svg = |d: &[Drawn]| {
                let d = d.iter().find(|d| d.name == name).unwrap();
                std::fs::read_to_string(&d.svg).unwrap()
            };
            let (once, twice) = (svg(&drawn), svg(&drawn_again));
            assert!(
                twice.matches("<polyline").count() > once.matches("<polyline").count(),
                "{name}: no bars drawn"
            );
            assert!(twice.contains("min–max"), "{name}: title");
        }
        if std::env::var_os("RTLAB_KEEP_CHARTS").is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
