//! Short-poll interval findings: what each interval costs in latency and in wasted requests, and
//! that no interval is both prompt and cheap.

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
    let measured: Vec<&&&CaseResult> = runs.iter().filter(|c| delivered(c)).collect();
    if let (Some(a), Some(b)) = (measured.first(), measured.last())
        && let (Some(ra), Some(rb)) = (a.ok(), b.ok())
        && let (Some(qa), Some(qb)) = (ra.requests_per_event, rb.requests_per_event)
        && measured.len() > 1
        && qb > 0.0
        && ra.latency_us.mean > 0.0
    {
        out.push(format!(
            "Going from {} ms to {} ms cuts requests per event {:.0}× but raises mean latency {:.0}×: no interval is both prompt and cheap.",
            a.params.poll_interval_ms,
            b.params.poll_interval_ms,
            qa / qb,
            rb.latency_us.mean / ra.latency_us.mean
        ));
    }
    out
}
