//! Rate findings: up to which rate each transport kept up, and what went wrong at the first rate
//! it did not (delivery by seq, p99, loss, a server behind its rate, a short poll's answer cap).

use rtlab_wire::Transport;

use crate::case_result::{CaseResult, CaseStatus};
use crate::format::{self, num};
use crate::keep_up::{
    KEEP_UP_DELIVERY, KEEP_UP_P99_US, keep_up_delivery, kept_up, published_share,
};
use crate::scenario::Kind;

/// Rate findings look at failed cases too: at saturation a transport may lose every subscriber
/// (cut off as lagging), and that is the answer to "where does it stop keeping up".
pub(super) fn sentences(all: &[CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    for t in Transport::ALL {
        let mut runs: Vec<&CaseResult> = all
            .iter()
            .filter(|c| {
                c.kind == Kind::Rate && c.transport == t && c.status != CaseStatus::Interrupted
            })
            .collect();
        if runs.is_empty() {
            continue;
        }
        runs.sort_by_key(|c| c.params.rate);
        let best = runs.iter().take_while(|c| kept_up(c)).last();
        let first_fail = runs.iter().find(|c| !kept_up(c));
        let sentence = match (best, first_fail) {
            (Some(b), None) => format!(
                "**{t}** kept up at every rate tried, up to {} events/s (p99 {}).",
                num(b.params.rate as f64),
                format::micros(b.ok().map_or(0.0, |r| r.latency_us.p99))
            ),
            (b, Some(f)) => {
                let upto = match b {
                    Some(b) => format!("kept up to {} events/s", num(b.params.rate as f64)),
                    None => "did not keep up even at the lowest rate tried".into(),
                };
                let what = match f.ok() {
                    Some(r) => format!(
                        "it delivered {} of the window's events to its subscribers (by seq) with p99 {}{}{}",
                        format::share(f.delivered_share()),
                        format::micros(r.latency_us.p99),
                        if r.lost > 0 {
                            format!(" and lost {}", num(r.lost as f64))
                        } else {
                            String::new()
                        },
                        match published_share(f) {
                            Some(p) if p < keep_up_delivery(f.params.rate, f.params.duration_s) => {
                                format!(
                                    "; the server published only {} of the rate asked",
                                    format::share(Some(p))
                                )
                            }
                            _ => String::new(),
                        }
                    ),
                    None => format!(
                        "the case failed: {}",
                        f.error
                            .as_deref()
                            .unwrap_or("no reason recorded")
                            .lines()
                            .next()
                            .unwrap_or("")
                    ),
                };
                let cap = short_poll_cap(f).map_or(String::new(), |cap| {
                    format!(
                        " A short poll every {} ms answers at most {} events (the server's `--batch-max`), so one client can receive at most {} events/s: the cap is the server setting, not the network.",
                        num(f.params.poll_interval_ms),
                        num(crate::model::SERVER_BATCH_MAX),
                        num(cap)
                    )
                });
                // A step where the load generator was the busy one is not a finding about the
                // server: say so, with the measured share.
                let bound = match f.client_cpu_utilisation.filter(|_| f.client_bound()) {
                    Some(u) => format!(
                        " The client's core was {} busy at that step, so the limit there may be the load generator's, not the server's.",
                        format::percent(u)
                    ),
                    None => String::new(),
                };
                format!(
                    "**{t}** {upto}; at {} events/s {what}.{cap}{bound}",
                    num(f.params.rate as f64)
                )
            }
            (None, None) => continue,
        };
        out.push(sentence);
    }
    out.push(format!(
        "\"Kept up\" means the server published at least {0} of the rate asked and at least {0} of those events reached every subscriber (both counted by seq, less two events of allowance), nothing lost, and p99 under {1} (plus the poll interval for short polling).",
        format::percent(KEEP_UP_DELIVERY),
        format::micros(KEEP_UP_P99_US)
    ));
    out
}

/// For a short-poll case whose rate is above what full answers can carry, that ceiling in
/// events/s per client: `batch_max / interval`.
fn short_poll_cap(c: &CaseResult) -> Option<f64> {
    let cap = crate::model::SERVER_BATCH_MAX / (c.params.poll_interval_ms / 1e3);
    (c.transport == Transport::ShortPoll
        && c.params.poll_interval_ms > 0.0
        && c.params.rate as f64 > cap)
        .then_some(cap)
}
