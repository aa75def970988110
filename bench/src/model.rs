//! The theory: what each transport *should* cost, computed before measuring anything.
//!
//! A measurement is only convincing next to an explanation. For every quantity where a closed form
//! exists, the lab computes it from first principles and draws it as a dashed line beside the
//! measured points; the report flags every case where the two differ by more than
//! [`DEVIATION_THRESHOLD`] and says what the likely reason is.
//!
//! - **Event size.** `{"seq":S,"ts":T,"data":"P"}` is `43 + digits(S) + |P|` bytes (the `ts` is
//!   always 19 digits this century).
//! - **Streaming framing** (ws, sse, tcp): exactly [`rtlab_wire::framing::streaming_overhead`] per
//!   event: 2–10 bytes of WebSocket header, `id:`/`data:` lines plus an HTTP chunk for SSE, one
//!   `\n` for TCP.
//! - **Polling** pays an HTTP response head `H` per request, so its cost per event depends on how
//!   many requests each event needs, ρ (requests per event, per client):
//!   - short poll every `T` with events at rate `r`: ρ = 1 / min(r·T, B), where `B` is the most
//!     events one answer may carry (the server's `--batch-max`), and a share `max(0, 1 − r·T)` of
//!     polls come back empty (the ticker is periodic);
//!   - long poll: ρ = 1, one request per event, which holds while events are further apart than
//!     a request round trip. When they are not, an answer also carries the events published while
//!     the next request was on its way (about `1 + r·R` per answer for a round trip `R`): the
//!     measurement falls below the model, and the report says so.
//!
//!   Down-stream overhead per event = ρ·H (heads) + 1 + ρ·(1 + empty share) (brackets, commas and
//!   `[]` answers).
//! - **Short-poll latency**: an event waits for the next poll, uniformly between 0 and `T`, so the
//!   mean latency is `T/2` plus the one-way delay `d` of delivering a response.

use rtlab_wire::Transport;
use rtlab_wire::framing::{decimal_digits, streaming_overhead};

/// Relative difference above which the report flags a measurement against its model.
pub const DEVIATION_THRESHOLD: f64 = 0.10;

/// Bytes of an event's JSON for sequence number `seq` and `payload` bytes of plain ASCII data.
pub const fn event_json_len(seq: u64, payload: u64) -> u64 {
    43 + decimal_digits(seq) as u64 + payload
}

/// A representative sequence number in a case's measured window: the server's ticker has run for
/// the warm-up and half the window by then.
pub fn typical_seq(rate: u64, warmup_s: f64, duration_s: f64) -> u64 {
    ((rate as f64) * (warmup_s + duration_s / 2.0)).max(1.0) as u64
}

/// Analytic framing + header bytes per event, server → client, for a streaming transport.
pub fn streaming_overhead_per_event(transport: Transport, seq: u64, payload: u64) -> Option<f64> {
    let json = event_json_len(seq, payload) as usize;
    streaming_overhead(transport, seq, json).map(|b| b as f64)
}

/// Most events one poll answer carries: the server's `--batch-max` default, which the lab keeps.
pub const SERVER_BATCH_MAX: f64 = 1_000.0;

/// Requests per event per client for a short poll every `interval_s` at `rate` events/s, when one
/// answer carries at most `batch_max` events.
pub fn short_poll_requests_per_event(rate: f64, interval_s: f64, batch_max: f64) -> Option<f64> {
    (rate > 0.0 && interval_s > 0.0 && batch_max > 0.0)
        .then(|| 1.0 / (rate * interval_s).min(batch_max))
}

/// Share of short polls that find no new event (periodic ticker at `rate`, poll every `interval_s`).
pub fn short_poll_empty_share(rate: f64, interval_s: f64) -> f64 {
    (1.0 - rate * interval_s).clamp(0.0, 1.0)
}

/// Requests per event for a long poll on a periodic feed (the lab's ticker): `1 / max(1, rate ×
/// rtt)`, where `rtt_s` is the time between an answer leaving the server and the next request
/// arriving. Events sparser than that each find a request waiting (one answer per event); denser
/// ones pile up while no request is parked, and the next request takes all of them at once, so
/// every cycle lasts one round trip and carries `rate × rtt` events (the cycle behind
/// [`long_poll_mean_latency_us`]). A Poisson feed would carry `1 + rate × rtt` on average.
pub fn long_poll_requests_per_event(rate: f64, rtt_s: f64) -> f64 {
    1.0 / (rate * rtt_s).max(1.0)
}

/// Down-stream overhead per event of a poll: `rho` requests per event, response heads of
/// `head_bytes`, and a share `empty` of answers that are `[]`.
pub fn poll_overhead_per_event(rho: f64, head_bytes: f64, empty: f64) -> f64 {
    rho * head_bytes + 1.0 + rho * (1.0 + empty)
}

/// Mean short-poll latency, in µs: an event waits for the next poll to reach the server (half
/// the interval on average), then crosses the link back (`transit_us`, RTT/2; 0 on loopback)
/// and the server and client (`one_way_us`). A poll is not sent before the answer to the last one
/// is back, so polls come at most once per round trip: the interval is `max(interval, rtt)`.
pub fn short_poll_mean_latency_us(interval_ms: f64, transit_us: f64, one_way_us: f64) -> f64 {
    (interval_ms * 1e3).max(2.0 * transit_us) / 2.0 + transit_us + one_way_us
}

/// Mean latency of a pushed event (WebSocket, SSE, TCP), in µs: one transit of the link plus the
/// one-way delay of server and client.
pub fn streaming_mean_latency_us(transit_us: f64, one_way_us: f64) -> f64 {
    transit_us + one_way_us
}

/// Mean long-poll latency, in µs, for a periodic feed at `rate` over a link of one transit
/// `transit_us` (RFC 6202 §2.2). After an answer leaves the server, no request waits there for a
/// round trip (the answer's transit and the next request's). Events sparser than that find a
/// request waiting and are one transit behind; events denser than that arrive in the gap, wait
/// for the next request (half a round trip on average, at most a whole one) and then cross:
/// two transits on average, three at worst ([`long_poll_max_latency_us`]).
pub fn long_poll_mean_latency_us(rate: f64, transit_us: f64, one_way_us: f64) -> f64 {
    let rtt_us = 2.0 * transit_us;
    let gap_waits = rate > 0.0 && 1e6 / rate < rtt_us;
    if gap_waits {
        rtt_us / 2.0 + transit_us + one_way_us
    } else {
        transit_us + one_way_us
    }
}

/// A long poll's worst latency, in µs: an event published just after an answer left waits a whole
/// round trip for the next request, then one transit back: three transits (RFC 6202 §2.2).
pub fn long_poll_max_latency_us(transit_us: f64, one_way_us: f64) -> f64 {
    3.0 * transit_us + one_way_us
}

/// The most events per second one connection carries over a link of `bandwidth_bps` when each
/// event costs `bytes_per_event` on the wire (payload and framing): the link rate ÷ bytes per event.
pub fn link_ceiling_events_per_s(bandwidth_bps: f64, bytes_per_event: f64) -> Option<f64> {
    (bytes_per_event > 0.0).then(|| bandwidth_bps / 8.0 / bytes_per_event)
}

/// `(measured − model) / model`, or `None` when the model is zero or not finite.
pub fn relative_deviation(measured: f64, model: f64) -> Option<f64> {
    (model.abs() > f64::EPSILON && measured.is_finite() && model.is_finite())
        .then(|| (measured - model) / model)
}

/// One measured quantity that departs from its model by more than [`DEVIATION_THRESHOLD`].
#[derive(Debug, Clone, PartialEq)]
pub struct Deviation {
    /// The case (`payload-p16-sse`).
    pub case_id: String,
    /// The quantity (`overhead bytes/event`).
    pub quantity: &'static str,
    /// Measured value.
    pub measured: f64,
    /// Model value.
    pub model: f64,
    /// The likely reason, in a sentence.
    pub reason: String,
}

impl Deviation {
    /// Relative deviation, signed.
    pub fn relative(&self) -> f64 {
        relative_deviation(self.measured, self.model).unwrap_or(0.0)
    }

    /// Checks `measured` against `model`; returns a deviation if it is over the threshold.
    pub fn check(
        case_id: &str,
        quantity: &'static str,
        measured: f64,
        model: f64,
        reason: impl FnOnce(bool) -> String,
    ) -> Option<Self> {
        let rel = relative_deviation(measured, model)?;
        (rel.abs() > DEVIATION_THRESHOLD).then(|| Deviation {
            case_id: case_id.to_owned(),
            quantity,
            measured,
            model,
            reason: reason(rel > 0.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtlab_wire::Event;

    #[test]
    fn event_json_len_matches_the_real_encoding() {
        for (seq, payload) in [(1, 0), (42, 16), (123_456, 1000), (9, 65_536)] {
            let e = Event {
                seq,
                ts: 1_763_769_600_123_456_789,
                data: "x".repeat(payload as usize),
            };
            assert_eq!(e.to_json().len() as u64, event_json_len(seq, payload));
        }
    }

    #[test]
    fn streaming_framing_follows_the_wire_crate() {
        for (transport, payload, overhead) in [
            (Transport::Tcp, 64, Some(1.0)),
            // 64 B of payload + 44 = 108 B of JSON ≤ 125: a 2-byte WebSocket header.
            (Transport::Ws, 64, Some(2.0)),
            (Transport::Ws, 1000, Some(4.0)),
            (Transport::Ws, 65_536, Some(10.0)),
            (Transport::LongPoll, 64, None),
            // SSE seq 5: block 14 + chunk header for 108 + 14 = 122 = 0x7a → 2 hex digits + 4.
            (Transport::Sse, 64, Some(20.0)),
        ] {
            assert_eq!(
                streaming_overhead_per_event(transport, 5, payload),
                overhead
            );
        }
    }

    #[test]
    fn short_poll_arithmetic() {
        // 20 events/s, poll every 10 ms: 5 polls per event, 80 % empty.
        assert!((short_poll_requests_per_event(20.0, 0.01, 1000.0).unwrap() - 5.0).abs() < 1e-9);
        assert!((short_poll_empty_share(20.0, 0.01) - 0.8).abs() < 1e-9);
        // Poll every 1 s: 20 events per poll, nothing empty.
        assert!((short_poll_requests_per_event(20.0, 1.0, 1000.0).unwrap() - 0.05).abs() < 1e-9);
        // 100 000 events/s every 100 ms: answers are capped at 1 000 events.
        assert!((short_poll_requests_per_event(1e5, 0.1, 1000.0).unwrap() - 0.001).abs() < 1e-12);
        assert_eq!(short_poll_empty_share(20.0, 1.0), 0.0);
        assert_eq!(short_poll_requests_per_event(0.0, 1.0, 1000.0), None);
        assert!((short_poll_mean_latency_us(100.0, 0.0, 200.0) - 50_200.0).abs() < 1e-9);
    }

    #[test]
    fn a_link_adds_transits_as_rfc_6202_counts_them() {
        let (transit, d) = (50_000.0, 1_000.0); // a 100 ms round trip
        assert_eq!(streaming_mean_latency_us(transit, d), 51_000.0);
        // A short poll every 250 ms: 125 ms of wait, then one transit back.
        assert_eq!(short_poll_mean_latency_us(250.0, transit, d), 176_000.0);
        // Every 10 ms over a 100 ms round trip: polls can only go once per round trip.
        assert_eq!(short_poll_mean_latency_us(10.0, transit, d), 101_000.0);
        // Long poll: 5 events/s (200 ms apart) always find a request waiting: one transit;
        // 50 events/s (20 ms apart) fall in the 100 ms gap: two transits on average, three at most.
        assert_eq!(long_poll_mean_latency_us(5.0, transit, d), 51_000.0);
        assert_eq!(long_poll_mean_latency_us(50.0, transit, d), 101_000.0);
        assert_eq!(long_poll_max_latency_us(transit, d), 151_000.0);
        // On loopback the models collapse to the one-way delay.
        assert_eq!(long_poll_mean_latency_us(50.0, 0.0, d), d);
        // 1 Mbit/s and 125 B per event: 1 000 events/s.
        assert_eq!(link_ceiling_events_per_s(1e6, 125.0), Some(1_000.0));
        assert_eq!(link_ceiling_events_per_s(1e6, 0.0), None);
    }

    #[test]
    fn long_poll_batches_only_when_events_bunch() {
        // 100 events/s, 1 ms round trip: every event finds a request waiting.
        assert_eq!(long_poll_requests_per_event(100.0, 0.001), 1.0);
        // 10 000 events/s: ten arrive in each round trip, and one answer carries them.
        assert!((long_poll_requests_per_event(10_000.0, 0.001) - 0.1).abs() < 1e-9);
        // 50 events/s over an 85 ms round trip (the mobile link): 4.25 per answer.
        assert!((long_poll_requests_per_event(50.0, 0.085) - 1.0 / 4.25).abs() < 1e-9);
        assert_eq!(long_poll_requests_per_event(0.0, 0.001), 1.0);
    }

    #[test]
    fn poll_overhead_counts_heads_brackets_and_empties() {
        // One event per answer, 150-byte heads: 150 + 1 + 1 = 152 bytes per event.
        assert!((poll_overhead_per_event(1.0, 150.0, 0.0) - 152.0).abs() < 1e-9);
        // 5 polls per event, 80 % empty: 750 + 1 + 9 = 760.
        assert!((poll_overhead_per_event(5.0, 150.0, 0.8) - 760.0).abs() < 1e-9);
    }

    #[test]
    fn deviations_over_ten_percent_are_flagged() {
        assert!(Deviation::check("c", "q", 105.0, 100.0, |_| String::new()).is_none());
        let d = Deviation::check("c", "q", 120.0, 100.0, |up| format!("up={up}")).unwrap();
        assert_eq!(d.reason, "up=true");
        assert!((d.relative() - 0.2).abs() < 1e-9);
        assert!(Deviation::check("c", "q", 1.0, 0.0, |_| String::new()).is_none());
    }
}
