//! Ranking transports by a headline figure, and writing the ranking with `<` only where the data
//! decide it.
//!
//! Two medians in order are not two transports in order: a `<` between neighbours is written only
//! where their min–max ranges do not overlap (`crate::spread::compare`), `≈` otherwise.

use rtlab_wire::Transport;

use crate::case_result::CaseResult;
use crate::repeat::{Figure, headline};
use crate::spread::{Spread, compare};
use crate::table::figure_text;

/// The cases' transports ordered by the median of `figure`, lowest first (unmeasured left out).
pub(super) fn ranked(cs: &[&CaseResult], figure: Figure) -> Vec<(Transport, Spread)> {
    let mut v: Vec<(Transport, Spread)> = cs
        .iter()
        .filter_map(|c| Some((c.transport, headline(c, figure)?)))
        .collect();
    v.sort_by(|a, b| a.1.median.total_cmp(&b.1.median));
    v
}

/// A ranking as text: `tcp 1.00 ms < ws 2.00 ms ≈ sse 2.10 ms`, each sign from [`compare`] of
/// neighbours, so `<` is written only where the ranges do not overlap.
pub(super) fn ranking(v: &[(Transport, Spread)], figure: Figure) -> String {
    let mut text = String::new();
    for (i, (t, s)) in v.iter().enumerate() {
        if i > 0 {
            text += &format!(" {} ", compare(&v[i - 1].1, s).symbol());
        }
        text += &format!("{t} {}", figure_text(figure, s.median));
    }
    text
}
