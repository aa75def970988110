//! What "kept up" means: the one rule every finding and chart judges a case by.
//!
//! A transport keeps up with a load when the server published the rate asked, every subscriber
//! received the window's events (both counted by seq, never by arrivals), nothing was lost, and
//! the tail latency stayed bounded. Arrivals per second are *not* part of it: arrivals include a
//! backlog published before the window, so under overload they can exceed the offered rate while
//! delivery falls behind. The rate sweep and the fan-out use [`kept_up`], so "kept up" means one
//! thing throughout the report.
//!
//! The saturation scenario asks a different question, *how much can the server push at all?*,
//! and answers it with a different word: a load is [`sustained`] when the events arrived as fast
//! as they were offered and every one of them reached every subscriber, whatever the latency. (With
//! 1 000 subscribers one server core is busy at every step, because each event costs 1 000
//! sends; a p99 bound would judge the scheduler's noise rather than the ceiling. The p99 of each
//! step is charted beside it instead.)

use rtlab_wire::Transport;

use crate::case_result::CaseResult;

/// A rate counts as "kept up" when at least this share of the window's events reached every
/// subscriber, counted by seq, and the server published at least this share of the rate asked
/// (less an allowance of two events, which matters only for very short runs; see
/// [`keep_up_delivery`])…
pub const KEEP_UP_DELIVERY: f64 = 0.99;
/// …with no loss and a p99 under this many µs.
pub const KEEP_UP_P99_US: f64 = 100_000.0;

/// The delivered and published shares a case must reach to count as keeping up:
/// [`KEEP_UP_DELIVERY`], or lower for windows so short that two events weigh more than 1 % (the
/// server's head seq is read at the window's edges, a tick early or late).
pub fn keep_up_delivery(rate: u64, duration_s: f64) -> f64 {
    let events = rate as f64 * duration_s;
    if events <= 0.0 {
        return KEEP_UP_DELIVERY;
    }
    KEEP_UP_DELIVERY.min(1.0 - 2.0 / events)
}

/// Events the server published in the window as a share of what the case asked for (`rate`, plus
/// the clients' publishes), from the seq bounds (`S1 − S0`) or else `/stats`; at most 1.0. The
/// delivered share is relative to what *was* published, so a server whose ticker fell behind
/// could deliver 100 % of too little: this is the other half of "kept up".
pub fn published_share(c: &CaseResult) -> Option<f64> {
    let r = c.ok()?;
    let asked = crate::predict::event_rate(c) * c.params.duration_s;
    let published = match (r.window_seq_start, r.window_seq_end) {
        (Some(s0), Some(s1)) => s1.saturating_sub(s0),
        _ => r.server_events_published,
    };
    (asked > 0.0).then(|| (published as f64 / asked).clamp(0.0, 1.0))
}

/// Whether a case kept up: the server published the rate asked, every subscriber received the
/// window's events (both counted by seq, see [`keep_up_delivery`]), nothing was lost, and the p99
/// stayed under the limit (for a short poll, under the limit plus its interval, which it waits by
/// design). Arrivals per second are not part of it: they are not a share of anything.
pub fn kept_up(c: &CaseResult) -> bool {
    let limit = KEEP_UP_P99_US
        + if c.transport == Transport::ShortPoll {
            c.params.poll_interval_ms * 1e3
        } else {
            0.0
        };
    let needed = keep_up_delivery(c.params.rate, c.params.duration_s);
    c.ok().is_some_and(|r| {
        c.delivered_share().is_some_and(|s| s >= needed)
            && published_share(c).is_some_and(|s| s >= needed)
            && r.lost == 0
            && r.latency_us.p99 <= limit
    })
}

/// The share of the offered deliveries that must arrive within the window for a load to count as
/// [`sustained`].
pub const SUSTAINED_ARRIVALS: f64 = 0.95;

/// Whether a saturation step's load was sustained: events arrived in the window at no less than
/// [`SUSTAINED_ARRIVALS`] of subscribers × rate, every subscriber received the window's events
/// (by seq), nothing was lost and no subscriber was cut off as lagging. Latency is not part of
/// it (see the module docs).
pub fn sustained(c: &CaseResult) -> bool {
    let offered = c.params.clients as f64 * c.params.rate as f64;
    let needed = keep_up_delivery(c.params.rate, c.params.duration_s);
    c.ok().is_some_and(|r| {
        offered > 0.0
            && r.events_per_s >= SUSTAINED_ARRIVALS * offered
            && c.delivered_share().is_some_and(|s| s >= needed)
            && r.lost == 0
            && r.server_lagging_disconnects.unwrap_or(0) == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Kind;
    use crate::testdata;

    fn step(t: Transport, rate: u64) -> CaseResult {
        testdata::cases()
            .into_iter()
            .find(|c| c.kind == Kind::Saturation && c.transport == t && c.params.rate == rate)
            .expect("a synthetic saturation step")
    }

    #[test]
    fn a_load_is_sustained_by_throughput_and_seq_not_by_latency() {
        let mut c = step(Transport::Sse, 800);
        assert!(sustained(&c));
        // A p99 far over the keep-up limit does not unsustain a load…
        c.client.as_mut().unwrap().latency_us.p99 = 900_000.0;
        assert!(sustained(&c));
        assert!(!kept_up(&c));
        // …arrivals below 95 % of the offered load do…
        let mut slow = step(Transport::Sse, 800);
        slow.client.as_mut().unwrap().events_per_s = 0.9 * 800_000.0;
        assert!(!sustained(&slow));
        // …and so does a subscriber cut off as lagging, or a loss.
        let mut cut = step(Transport::Sse, 800);
        cut.client.as_mut().unwrap().server_lagging_disconnects = Some(1);
        assert!(!sustained(&cut));
        let mut lost = step(Transport::Sse, 800);
        lost.client.as_mut().unwrap().lost = 3;
        assert!(!sustained(&lost));
    }
}
