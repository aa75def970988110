//! The models of [`crate::model`] applied to stored cases: what each case *should* have measured.
//!
//! Charts draw these as dashed lines and the report compares them with the measurement. A model
//! takes only two kinds of input, and each function says which:
//!
//! - the case's **settings** (rate, clients, poll interval, payload), never its measurements;
//! - the run's **calibration** ([`crate::calibration`]): HTTP round trip, one-way delay and the
//!   poll request/answer sizes, measured on an idle server before the first case.
//!
//! So no case's own figures feed the model that judges it; a case without a calibration (a run
//! whose calibration failed, or one made before it existed) has no model for what needs one.
//! Where a measurement departs from its model by more than 10 %, the report gives a cause only
//! when the run itself shows one (see [`verified_cause`]); otherwise it says "unexplained".

use rtlab_wire::Transport;

use crate::calibration::Calibration;
use crate::case_result::{CLIENT_BOUND_CPU, CaseResult};
use crate::format;
use crate::model::{self, Deviation};
use crate::scenario::Kind;

/// Events per second the server published in the case: its ticker plus, in a round trip, every
/// client's publishes.
pub fn event_rate(c: &CaseResult) -> f64 {
    c.params.rate as f64 + c.params.clients as f64 * c.params.publish_rate.unwrap_or(0.0)
}

/// The representative sequence number of a case's window.
fn seq(c: &CaseResult) -> u64 {
    model::typical_seq(
        event_rate(c).round() as u64,
        c.params.warmup_s,
        c.params.duration_s,
    )
}

fn calibration(c: &CaseResult) -> Option<&Calibration> {
    c.calibration.as_ref()
}

/// Bytes of one poll answer's status line and headers. Input: calibration.
pub fn response_head_bytes(c: &CaseResult) -> Option<f64> {
    Some(calibration(c)?.response_head_bytes)
}

/// Bytes of one poll request. Input: calibration.
pub fn request_bytes(c: &CaseResult) -> Option<f64> {
    Some(calibration(c)?.request_bytes)
}

/// Model requests per event (per client) for a polling case. Short poll: `1 / min(rate ×
/// interval, batch)` (settings only). Long poll: `1 / max(1, rate × rtt)`, the batching model: the
/// events published while an answer travels back and the next request travels out wait for that
/// next answer (settings and the calibrated round trip, [`round_trip_us`]).
pub fn requests_per_event(c: &CaseResult) -> Option<f64> {
    let rate = event_rate(c);
    match c.transport {
        Transport::ShortPoll => model::short_poll_requests_per_event(
            rate,
            c.params.poll_interval_ms / 1e3,
            model::SERVER_BATCH_MAX,
        ),
        Transport::LongPoll if rate > 0.0 => Some(model::long_poll_requests_per_event(
            rate,
            round_trip_us(c)? / 1e6,
        )),
        _ => None,
    }
}

/// Model share of empty polls.
pub fn empty_share(c: &CaseResult) -> Option<f64> {
    match c.transport {
        Transport::ShortPoll => Some(model::short_poll_empty_share(
            event_rate(c),
            c.params.poll_interval_ms / 1e3,
        )),
        Transport::LongPoll => Some(0.0),
        _ => None,
    }
}

/// Model framing + header bytes per event, server → client.
pub fn overhead_per_event(c: &CaseResult) -> Option<f64> {
    if c.transport.is_streaming() {
        return model::streaming_overhead_per_event(c.transport, seq(c), c.params.payload_bytes);
    }
    let rho = requests_per_event(c)?;
    Some(model::poll_overhead_per_event(
        rho,
        response_head_bytes(c)?,
        empty_share(c)?,
    ))
}

/// Model request bytes sent up per event (polls; 0 for streaming).
pub fn request_bytes_per_event(c: &CaseResult) -> Option<f64> {
    if c.transport.is_streaming() {
        return Some(0.0);
    }
    Some(requests_per_event(c)? * request_bytes(c)?)
}

/// Model payload efficiency: event JSON / (JSON + framing + requests), keep-alive ignored.
pub fn payload_efficiency(c: &CaseResult) -> Option<f64> {
    let json = model::event_json_len(seq(c), c.params.payload_bytes) as f64;
    Some(json / (json + overhead_per_event(c)? + request_bytes_per_event(c)?))
}

/// One HTTP round trip of the case's path, in µs: on loopback the run's calibration; over a
/// shaped link the round trip the client timed through its shaper before the case (the link's
/// calibration: a few `GET`s, no events), else the link's nominal RTT plus loopback's.
/// Input: calibration (and settings).
pub fn round_trip_us(c: &CaseResult) -> Option<f64> {
    let loopback = calibration(c)?.rtt_us;
    let Some(link) = c.params.network.filter(|l| l.is_shaped()) else {
        return Some(loopback);
    };
    Some(c.shaper_rtt_us().unwrap_or(link.rtt_ms * 1e3 + loopback))
}

/// One transit of the case's link, in µs: half the round trip the client timed through its
/// shaper (else half the nominal RTT); 0 on loopback, whose transit is inside the calibrated
/// one-way delay. Input: the link's calibration, settings.
pub fn transit_us(c: &CaseResult) -> f64 {
    let Some(link) = c.params.network.filter(|l| l.is_shaped()) else {
        return 0.0;
    };
    c.shaper_rtt_us().map_or(link.transit_us(), |rtt| rtt / 2.0)
}

/// Model mean latency of a short-poll case, in µs: `max(interval, rtt)/2 + transit + one-way
/// delay` (settings and the calibrated one-way delay).
pub fn short_poll_mean_latency_us(c: &CaseResult) -> Option<f64> {
    if c.transport != Transport::ShortPoll {
        return None;
    }
    Some(model::short_poll_mean_latency_us(
        c.params.poll_interval_ms,
        transit_us(c),
        calibration(c)?.one_way_delay_us,
    ))
}

/// Model mean latency of any case at a low load, in µs: one transit for a pushed event, one to
/// two for a long poll (by rate against the round trip, RFC 6202 §2.2), the interval's wait plus
/// one for a short poll; each plus the calibrated one-way delay. Input: settings, calibration.
pub fn mean_latency_us(c: &CaseResult) -> Option<f64> {
    let d = calibration(c)?.one_way_delay_us;
    let transit = transit_us(c);
    match c.transport {
        Transport::ShortPoll => short_poll_mean_latency_us(c),
        Transport::LongPoll => Some(model::long_poll_mean_latency_us(event_rate(c), transit, d)),
        _ => Some(model::streaming_mean_latency_us(transit, d)),
    }
}

/// A long poll's worst latency, in µs: three transits plus the calibrated one-way delay (RFC
/// 6202 §2.2); `None` for other transports. Input: settings, calibration.
pub fn long_poll_max_latency_us(c: &CaseResult) -> Option<f64> {
    if c.transport != Transport::LongPoll {
        return None;
    }
    let d = calibration(c)?.one_way_delay_us;
    Some(model::long_poll_max_latency_us(transit_us(c), d))
}

/// The most events per second one subscriber's link carries: its rate ÷ the bytes each event
/// took down the wire *in this case* (payload and framing, measured). `None` without a rate
/// limit or without events. Input: settings and the case's own bytes per event: a ceiling that
/// follows from the measured size, not a prediction of it.
pub fn link_ceiling_events_per_s(c: &CaseResult) -> Option<f64> {
    let bps = c.params.network?.bandwidth_bps? as f64;
    let w = &c.ok()?.wire;
    model::link_ceiling_events_per_s(bps, w.payload_bytes_per_event + w.overhead_bytes_per_event)
}

/// What the run itself shows about a case that departs from its model: a client or server core
/// over [`CLIENT_BOUND_CPU`] (its own queueing is then in the figures). Nothing else is claimed;
/// without such a check the departure is "unexplained".
pub fn verified_cause(c: &CaseResult) -> String {
    let mut causes = Vec::new();
    // The client's rule is the one the tables and charts mark: `client_bound`.
    if let Some(u) = c.client_cpu_utilisation.filter(|_| c.client_bound()) {
        causes.push(format!("the client core was {} busy", format::percent(u)));
    }
    if let Some(u) = c
        .server
        .as_ref()
        .map(|s| s.cpu_utilisation)
        .filter(|u| *u > CLIENT_BOUND_CPU)
    {
        causes.push(format!("the server core was {} busy", format::percent(u)));
    }
    if causes.is_empty() {
        format!(
            "unexplained: neither core was over {} busy in this case, and the run checks nothing else",
            format::percent(CLIENT_BOUND_CPU)
        )
    } else {
        format!("{} (measured in this case)", causes.join("; "))
    }
}

/// Every measurement that departs from its model by more than 10 %, with what the run shows
/// about it ([`verified_cause`]).
pub fn deviations(cases: &[CaseResult]) -> Vec<Deviation> {
    let mut out = Vec::new();
    for c in cases {
        let Some(r) = c.ok() else { continue };
        if r.events_received == 0 {
            continue;
        }
        let id = c.id.as_str();
        let cause = |_up: bool| verified_cause(c);
        if let Some(m) = overhead_per_event(c) {
            out.extend(Deviation::check(
                id,
                "framing+header bytes/event",
                r.wire.overhead_bytes_per_event,
                m,
                cause,
            ));
        }
        if let (Some(m), Some(measured)) = (requests_per_event(c), r.requests_per_event) {
            out.extend(Deviation::check(id, "requests/event", measured, m, cause));
        }
        let latency_model = match c.kind {
            Kind::PollInterval => short_poll_mean_latency_us(c),
            Kind::Network => mean_latency_us(c),
            _ => None,
        };
        if let Some(m) = latency_model {
            out.extend(Deviation::check(
                id,
                "mean latency (µs)",
                r.latency_us.mean,
                m,
                cause,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{calibration as synthetic_calibration, of_kind};

    fn case_of(kind: Kind, transport: Transport) -> CaseResult {
        of_kind(kind)
            .into_iter()
            .find(|c| c.transport == transport)
            .unwrap()
    }

    #[test]
    fn models_take_the_calibration_not_the_case() {
        let mut c = case_of(Kind::PollInterval, Transport::ShortPoll);
        let before = short_poll_mean_latency_us(&c).unwrap();
        // The case's own latency does not move its model ...
        c.client.as_mut().unwrap().latency_us.mean *= 3.0;
        assert_eq!(short_poll_mean_latency_us(&c), Some(before));
        // ... the calibration does: interval/2 + one-way delay.
        let mut cal = synthetic_calibration();
        cal.one_way_delay_us = 1_000.0;
        c.calibration = Some(cal);
        let expected = c.params.poll_interval_ms * 1e3 / 2.0 + 1_000.0;
        assert_eq!(short_poll_mean_latency_us(&c), Some(expected));
        // No calibration, no model.
        c.calibration = None;
        assert_eq!(short_poll_mean_latency_us(&c), None);
        assert_eq!(response_head_bytes(&c), None);
    }

    #[test]
    fn long_polls_batch_by_the_calibrated_round_trip() {
        let mut c = case_of(Kind::Latency, Transport::LongPoll);
        let rate = event_rate(&c);
        let mut cal = synthetic_calibration();
        cal.rtt_us = 0.0;
        c.calibration = Some(cal.clone());
        assert_eq!(requests_per_event(&c), Some(1.0));
        // A round trip of 10 events' spacing: each answer carries 10 events.
        cal.rtt_us = 10.0 / rate * 1e6;
        c.calibration = Some(cal);
        let rho = requests_per_event(&c).unwrap();
        assert!((rho - 0.1).abs() < 1e-9, "{rho}");
    }

    #[test]
    fn a_cause_is_given_only_where_the_case_shows_one() {
        // What the report says of the case's mean latency, which departs from its model.
        let latency_reason = |c: &CaseResult| {
            deviations(std::slice::from_ref(c))
                .into_iter()
                .find(|d| d.quantity == "mean latency (µs)")
                .unwrap()
                .reason
        };
        let mut c = case_of(Kind::PollInterval, Transport::ShortPoll);
        // Way off its model, on idle cores: unexplained.
        c.client.as_mut().unwrap().latency_us.mean *= 3.0;
        c.client_cpu_utilisation = Some(0.3);
        c.server.as_mut().unwrap().cpu_utilisation = 0.2;
        let reason = latency_reason(&c);
        assert!(reason.starts_with("unexplained"), "{reason}");

        // The same departure with a busy client core: that is what the report says.
        c.client_cpu_utilisation = Some(0.97);
        let reason = latency_reason(&c);
        assert!(reason.contains("client core was 97 % busy"), "{reason}");
        assert!(!reason.contains("unexplained"), "{reason}");
    }
}
