//! Short-poll interval findings: what each interval costs in latency and in wasted requests, and
//! whether, in this run, every longer interval traded latency for requests (the theory says it
//! does: requests per event fall as 1/interval while the mean wait grows as interval/2; the
//! sentence says what the data showed, not what the theory expects).

use rtlab_wire::Transport;

use crate::case_result::CaseResult;
use crate::format;

/// The sentences about the poll-interval scenario's successful cases.
pub(super) fn sentences(cs: &[&CaseResult]) -> Vec<String> {
    let mut runs: Vec<&&CaseResult> = cs
        .iter()
        .filter(|c| c.transport == Transport::ShortPoll)
        .collect();
    runs.sort_by(|a, b| {
        a.params
            .poll_interval_ms
            .total_cmp(&b.params.poll_interval_ms)
    });
    let delivered = |c: &CaseResult| c.ok().is_some_and(|r| r.events_received > 0);
    let mut out: Vec<String> = runs
        .iter()
        .filter_map(|c| {
            let r = c.ok()?;
            if !delivered(c) {
                return Some(format!(
                    "Polling every {} ms: no event arrived within the {} s window (the window is shorter than the interval).",
                    c.params.poll_interval_ms, c.params.duration_s
                ));
            }
            Some(format!(
                "Polling every {} ms: mean latency {} (p99 {}), {} of polls empty, {:.2} requests per delivered event.",
                c.params.poll_interval_ms,
                format::micros(r.latency_us.mean),
                format::micros(r.latency_us.p99),
                format::percent(r.empty_poll_share.unwrap_or(0.0)),
                r.requests_per_event.unwrap_or(f64::NAN)
            ))
        })
        .collect();
    let measured: Vec<(f64, f64, f64)> = runs
        .iter()
        .filter(|c| delivered(c))
        .filter_map(|c| {
            let r = c.ok()?;
            Some((
                c.params.poll_interval_ms,
                r.requests_per_event?,
                r.latency_us.mean,
            ))
        })
        .filter(|&(_, q, l)| q > 0.0 && l > 0.0)
        .collect();
    if let (Some(&(ia, qa, la)), Some(&(ib, qb, lb))) = (measured.first(), measured.last())
        && measured.len() > 1
    {
        // Each step to a longer interval either traded (fewer requests, more latency) or not.
        let traded = measured
            .windows(2)
            .filter(|w| w[1].1 < w[0].1 && w[1].2 > w[0].2)
            .count();
        let steps = measured.len() - 1;
        let verdict = if traded == steps {
            format!(
                "each of the {steps} longer intervals was cheaper and slower than the one before, so none was both the promptest and the cheapest"
            )
        } else {
            format!(
                "only {traded} of the {steps} steps to a longer interval were both cheaper and slower, so this run does not show a clean trade"
            )
        };
        out.push(format!(
            "Going from {ia} ms to {ib} ms {} requests per event {:.1}× and {} mean latency {:.1}×: {verdict}.",
            if qb < qa { "cuts" } else { "raises" },
            (qa / qb).max(qb / qa),
            if lb > la { "raises" } else { "cuts" },
            (lb / la).max(la / lb),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Kind;
    use crate::testdata::{of_kind, sentences_of};

    fn with(cases: &mut [CaseResult], interval_ms: f64, requests: f64, mean_us: f64) {
        let c = cases
            .iter_mut()
            .find(|c| c.params.poll_interval_ms == interval_ms)
            .unwrap();
        let r = c.client.as_mut().unwrap();
        r.requests_per_event = Some(requests);
        r.latency_us.mean = mean_us;
    }

    fn last_sentence(cases: &[CaseResult]) -> String {
        sentences_of(sentences, cases).pop().unwrap()
    }

    #[test]
    fn the_trade_sentence_follows_the_data() {
        let mut cases = of_kind(Kind::PollInterval);
        with(&mut cases, 10.0, 5.0, 6_000.0);
        with(&mut cases, 100.0, 0.5, 51_000.0);
        with(&mut cases, 1000.0, 0.05, 501_000.0);
        let clean = last_sentence(&cases);
        assert!(clean.contains("cuts requests per event 100.0×"), "{clean}");
        assert!(clean.contains("raises mean latency 83.5×"), "{clean}");
        assert!(clean.contains("each of the 2 longer intervals"), "{clean}");

        // 100 ms polled no less than 10 ms did: the run shows no clean trade, and says so.
        with(&mut cases, 100.0, 6.0, 51_000.0);
        let mixed = last_sentence(&cases);
        assert!(mixed.contains("only 1 of the 2 steps"), "{mixed}");
        assert!(!mixed.contains("promptest"), "{mixed}");
    }
}
