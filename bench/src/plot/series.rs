//! The data a chart plots, picked out of the stored cases: which cases, which transports, which
//! `(x, y)` points.
//!
//! Charts only read successful cases of their scenario kind, list transports in one standard
//! order (so legends line up across charts), and drop points that are not numbers.

use rtlab_wire::Transport;

use crate::case_result::CaseResult;
use crate::scenario::Kind;

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

/// `(x, y)` points of one transport, sorted by x, dropping non-finite values.
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
