//! Error bars: how far a repeated case's figure scattered, drawn around its median.
//!
//! When a case ran several times ([`crate::repeat`]) its point in a chart is the median of the
//! repetitions and a vertical bar, capped at both ends, spans the smallest to the largest. Two
//! transports whose bars overlap at some x are not told apart by this run, however far apart the
//! medians look; the report's findings apply the same rule ([`crate::spread::compare`]). A case
//! that ran once gets no bar: there is nothing to show, not a zero-width certainty.
//!
//! Plain path elements rather than plotters' `ErrorBar` (behind a feature flag): a line and two
//! caps whose width is in pixels, so they look the same on log and linear axes.

use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;
use rtlab_wire::Transport;

use super::chart::draw_error;
use crate::case_result::CaseResult;
use crate::repeat::{Figure, headline};

/// One bar: x, and the smallest and largest repetition's value.
pub type Bar = (f64, f64, f64);

/// The bars of the cases of `t` that ran more than once.
pub fn bars(
    cases: &[&CaseResult],
    t: Transport,
    x: impl Fn(&CaseResult) -> Option<f64>,
    figure: Figure,
    scale: f64,
) -> Vec<Bar> {
    cases
        .iter()
        .filter(|c| c.transport == t)
        .filter_map(|c| {
            let s = headline(c, figure).filter(|s| s.has_spread())?;
            Some((x(c)?, s.min * scale, s.max * scale))
        })
        .filter(|(x, lo, hi)| x.is_finite() && lo.is_finite() && hi.is_finite())
        .collect()
}

/// Draws bars in a transport's colour: a vertical line from min to max, capped 6 px either side.
pub fn draw<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    bars: &[Bar],
    color: RGBColor,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let style = color.stroke_width(2);
    chart
        .draw_series(
            bars.iter()
                .map(|&(x, lo, hi)| PathElement::new(vec![(x, lo), (x, hi)], style)),
        )
        .map_err(draw_error)?;
    for y in [1, 2] {
        chart
            .draw_series(bars.iter().map(|&(x, lo, hi)| {
                let at = if y == 1 { lo } else { hi };
                EmptyElement::at((x, at)) + PathElement::new(vec![(-6, 0), (6, 0)], style)
            }))
            .map_err(draw_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    #[test]
    fn only_repeated_cases_get_a_bar_around_their_median() {
        let cases = testdata::cases();
        let base = cases[0].clone();
        let once = [&base];
        let x = |c: &CaseResult| Some(c.params.clients as f64);
        assert!(bars(&once, base.transport, x, Figure::P99, 1.0).is_empty());
        let rep = testdata::repeated(&base, &[3e3, 1e3, 2e3], |c, p99| {
            if let Some(r) = c.client.as_mut() {
                r.latency_us.p99 = p99;
            }
        });
        let refs = [&rep];
        let clients = rep.params.clients as f64;
        assert_eq!(
            bars(&refs, rep.transport, x, Figure::P99, 1e-3),
            [(clients, 1.0, 3.0)]
        );
        // The panel's point is the median; a client-bound case's point is also ringed.
        let median = |c: &CaseResult| Some(headline(c, Figure::P99)?.median * 1e-3);
        let mut panel = super::super::panel::Panel::new("p99", "clients", "ms");
        panel.push_cases(&refs, rep.transport, x, median);
        assert_eq!(panel.series[0].2, [(clients, 2.0)]);
        assert!(panel.client_bound.is_empty());
        let mut bound = rep.clone();
        bound.client_cpu_utilisation = Some(0.97);
        panel.push_cases(&[&bound], rep.transport, x, median);
        assert_eq!(panel.client_bound, [(clients, 2.0)]);
    }
}
