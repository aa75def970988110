//! Ranking transports by a headline figure, and writing the ranking with `<` only where the data
//! decide it.
//!
//! Two medians in order are not two transports in order: a `<` between neighbours is written only
//! where their min–max ranges do not overlap (`crate::spread::compare`), `≈` otherwise.
//!
//! A ranking is a finding about the transports as the server serves them, so a case whose client
//! core was over 85 % busy (client-bound) is left out of it: its figures may be the load
//! generator's. `left_out` names those cases for the sentence.

use rtlab_wire::Transport;

use crate::case_result::{CLIENT_BOUND_CPU, CaseResult};
use crate::format;
use crate::repeat::{Figure, headline};
use crate::spread::{Spread, compare};
use crate::table::figure_text;

/// The cases' transports ordered by the median of `figure`, lowest first (unmeasured and
/// client-bound cases left out).
pub(super) fn ranked(cs: &[&CaseResult], figure: Figure) -> Vec<(Transport, Spread)> {
    let mut v: Vec<(Transport, Spread)> = cs
        .iter()
        .filter(|c| !c.client_bound())
        .filter_map(|c| Some((c.transport, headline(c, figure)?)))
        .collect();
    v.sort_by(|a, b| a.1.median.total_cmp(&b.1.median));
    v
}

/// `; ws, sse left out as client-bound (…)` when [`ranked`] left cases out, else empty: the
/// tail of the sentence that gives the ranking.
pub(super) fn left_out(cs: &[&CaseResult]) -> String {
    let bound: Vec<String> = cs
        .iter()
        .filter(|c| c.client_bound())
        .map(|c| c.transport.to_string())
        .collect();
    if bound.is_empty() {
        return String::new();
    }
    format!(
        "; {} left out as client-bound (the client's core over {} busy)",
        bound.join(", "),
        format::percent(CLIENT_BOUND_CPU)
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Kind;
    use crate::testdata::{of_kind, sentences_of};

    #[test]
    fn client_bound_cases_are_left_out_of_rankings_and_named() {
        let mut cases = of_kind(Kind::Latency);
        let refs: Vec<&CaseResult> = cases.iter().collect();
        let all = ranked(&refs, Figure::P99);
        assert_eq!(all.len(), cases.len());
        assert_eq!(left_out(&refs), "");

        let ws = cases
            .iter_mut()
            .find(|c| c.transport == Transport::Ws)
            .unwrap();
        ws.client_cpu_utilisation = Some(0.93);
        let refs: Vec<&CaseResult> = cases.iter().collect();
        let some = ranked(&refs, Figure::P99);
        assert_eq!(some.len(), cases.len() - 1);
        assert!(some.iter().all(|(t, _)| *t != Transport::Ws));
        assert_eq!(
            left_out(&refs),
            "; ws left out as client-bound (the client's core over 85 % busy)"
        );
        // The latency findings say so where they rank.
        let sentences = sentences_of(super::super::latency::sentences, &cases);
        let ranking = sentences
            .iter()
            .find(|s| s.starts_with("Ranked by p99"))
            .unwrap();
        let (order, rest) = ranking.split_once("; ").unwrap();
        assert!(rest.starts_with("ws left out as client-bound"), "{ranking}");
        assert!(!order.contains("ws "), "{ranking}");
    }
}
