//! The models of [`crate::model`] applied to stored cases: what each case *should* have measured.
//!
//! Charts draw these as dashed lines and the report compares them with the measurement. Where a
//! model needs a quantity the theory cannot know in advance (the size of the server's HTTP
//! response head, the one-way delay of this machine's loopback), it takes it from the run itself,
//! and says so: the response head and request sizes as the client measured them per request, the
//! one-way delay from the median latency of the streaming transports in the latency scenario.

use rtlab_wire::Transport;

use crate::case_result::CaseResult;
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

/// Bytes of the HTTP response head the case saw (polls): as the client measured it, else from
/// the first response of each subscriber.
pub fn response_head_bytes(c: &CaseResult) -> Option<f64> {
    let r = c.ok()?;
    r.wire.response_head_bytes_per_request.or_else(|| {
        (r.wire.setup_bytes_down > 0)
            .then(|| r.wire.setup_bytes_down as f64 / r.clients.max(1) as f64)
    })
}

/// Bytes of one poll request: as the client measured it, else from each subscriber's first request.
pub fn request_bytes(c: &CaseResult) -> Option<f64> {
    let r = c.ok()?;
    r.wire.request_bytes_per_request.or_else(|| {
        (r.wire.setup_bytes_up > 0).then(|| r.wire.setup_bytes_up as f64 / r.clients.max(1) as f64)
    })
}

/// Model requests per event (per client) for a polling case: `1 / min(rate × interval, batch)`
/// for a short poll, the textbook one request per event for a long poll.
pub fn requests_per_event(c: &CaseResult) -> Option<f64> {
    let rate = event_rate(c);
    match c.transport {
        Transport::ShortPoll => model::short_poll_requests_per_event(
            rate,
            c.params.poll_interval_ms / 1e3,
            model::SERVER_BATCH_MAX,
        ),
        Transport::LongPoll if rate > 0.0 => Some(model::LONG_POLL_REQUESTS_PER_EVENT),
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

/// The one-way delay of this run, in µs: median p50 of the streaming transports in the latency
/// scenario (0 if there is none).
pub fn one_way_delay_us(cases: &[CaseResult]) -> f64 {
    let mut v: Vec<f64> = cases
        .iter()
        .filter(|c| c.kind == Kind::Latency && c.transport.is_streaming())
        .filter_map(|c| c.ok().map(|r| r.latency_us.p50))
        .filter(|v| *v > 0.0)
        .collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Model mean latency of a short-poll case, in µs.
pub fn short_poll_mean_latency_us(c: &CaseResult, one_way_us: f64) -> Option<f64> {
    (c.transport == Transport::ShortPoll)
        .then(|| model::short_poll_mean_latency_us(c.params.poll_interval_ms, one_way_us))
}

/// Every measurement that departs from its model by more than 10 %, with the likely reason.
pub fn deviations(cases: &[CaseResult]) -> Vec<Deviation> {
    let d = one_way_delay_us(cases);
    let mut out = Vec::new();
    for c in cases {
        let Some(r) = c.ok() else { continue };
        if r.events_received == 0 {
            continue;
        }
        let id = c.id.as_str();
        if let Some(m) = overhead_per_event(c) {
            let t = c.transport;
            out.extend(Deviation::check(id, "framing+header bytes/event", r.wire.overhead_bytes_per_event, m, |up| {
                match (t.is_streaming(), up) {
                    (true, true) => "bytes the protocol arithmetic does not predict: the server split or padded frames, or something besides events (handshake tail, control frames) was counted in the window".into(),
                    (true, false) => "the server coalesced several events into one write (one HTTP chunk or TCP segment for many SSE blocks), so per-event framing came out below one frame per event".into(),
                    (false, true) => "more requests per event than the model expects: polls came back empty or carried fewer events than the rate predicts (a busy server or client delays polls)".into(),
                    (false, false) => "fewer requests per event than the model expects: each answer batched more events than the rate predicts".into(),
                }
            }));
        }
        if let (Some(m), Some(meas)) = (requests_per_event(c), r.requests_per_event) {
            let t = c.transport;
            out.extend(Deviation::check(id, "requests/event", meas, m, |up| match (t, up) {
                (Transport::ShortPoll, true) => "fewer events per poll than rate × interval: the poll fell behind the feed (answers capped at the batch size, or polls slower than the interval), or ticker and polls drifted in phase".into(),
                (Transport::ShortPoll, false) => "polls took longer than the interval (the server or the client could not keep up), so fewer polls were sent than the timer asks for".into(),
                (_, true) => "long polls answered with fewer events than expected: timeouts or reconnects cost requests that carried nothing".into(),
                (_, false) => "several events arrived within one request round trip and were answered together, as happens when the rate approaches 1 / round trip".into(),
            }));
        }
        if c.kind == Kind::PollInterval
            && let Some(m) = short_poll_mean_latency_us(c, d)
        {
            out.extend(Deviation::check(id, "mean latency (µs)", r.latency_us.mean, m, |up| {
                if up {
                    "requests queue at the server or the client, so an event waits longer than half an interval; at short intervals the request round trip itself is a large part of the interval".into()
                } else {
                    "the polls were not spread uniformly against the ticker: the poll timer and the ticker stayed in phase, so events were picked up sooner than half an interval on average".into()
                }
            }));
        }
    }
    out
}
