//! One event as a NATS message: what crosses the broker, and how a node reads it back.
//!
//! The event's `data` is the message payload, unchanged, so a `nats sub` on the subject shows the
//! feed as it is. What JSON would add around it travels in NATS headers instead (NATS 2.2+ carries
//! headers like HTTP's), so no node parses or re-encodes a payload:
//!
//! | header | value | why |
//! |---|---|---|
//! | `Rtlab-Ts` | decimal ns since the Unix epoch | the event's `ts`, stamped by the publishing node (a tick's *scheduled* time), so every node delivers the same `ts` |
//! | `Rtlab-Origin` | `ticker` or `client` | `/stats` counts client events apart |
//! | `Nats-Msg-Id` | `tick-RATE-K` (ticks only) | JetStream drops a second message with an id it saw within its duplicate window: how N nodes' tickers make one feed (see [`super::tick_publisher`]) |
//!
//! The seq is *not* in the message: it is the stream sequence JetStream assigns when it stores the
//! message, which the publisher learns from the ack and every consumer from the message's
//! metadata. That is what makes seq global across nodes.

use async_nats::HeaderMap;
use rtlab_wire::Seq;

use crate::hub::Origin;

/// The header carrying the event's `ts`.
pub const TS_HEADER: &str = "Rtlab-Ts";
/// The header saying who published the event.
pub const ORIGIN_HEADER: &str = "Rtlab-Origin";

/// The headers of an event stamped `ts`, published by `origin`.
pub fn headers(ts: u64, origin: Origin) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(TS_HEADER, ts.to_string().as_str());
    headers.insert(ORIGIN_HEADER, origin_name(origin));
    headers
}

/// The `Nats-Msg-Id` of tick `k` of a ticker at `rate` events/s: the same on every node, so the
/// broker keeps one copy. The rate is part of it so that nodes run at different rates do not
/// swallow each other's ticks.
pub fn tick_message_id(rate: f64, k: u64) -> String {
    format!("tick-{rate}-{k}")
}

/// An event read back from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    /// The stream sequence: the event's seq.
    pub seq: Seq,
    /// `Rtlab-Ts`, or `fallback_ts` (the broker's own store time) when absent or malformed.
    pub ts: u64,
    /// The payload as text (invalid UTF-8, which no rtlab node publishes, is replaced, not
    /// dropped: a dropped message would be a gap in every node's seqs).
    pub data: String,
    /// `Rtlab-Origin`; a message without it (someone else publishing on the subject) counts as a
    /// client's.
    pub origin: Origin,
}

impl StreamEvent {
    /// Reads an event from a message's parts: its stream sequence, headers and payload.
    pub fn from_parts(
        seq: Seq,
        headers: Option<&HeaderMap>,
        payload: &[u8],
        fallback_ts: u64,
    ) -> Self {
        let header = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
        let ts = header(TS_HEADER)
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(fallback_ts);
        let origin = match header(ORIGIN_HEADER) {
            Some("ticker") => Origin::Ticker,
            _ => Origin::Client,
        };
        Self {
            seq,
            ts,
            data: String::from_utf8_lossy(payload).into_owned(),
            origin,
        }
    }
}

fn origin_name(origin: Origin) -> &'static str {
    match origin {
        Origin::Ticker => "ticker",
        Origin::Client => "client",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_ts_and_origin() {
        for origin in [Origin::Ticker, Origin::Client] {
            let h = headers(1_764_000_000_123_456_789, origin);
            let event = StreamEvent::from_parts(42, Some(&h), b"hello", 7);
            assert_eq!(
                event,
                StreamEvent {
                    seq: 42,
                    ts: 1_764_000_000_123_456_789,
                    data: "hello".into(),
                    origin,
                }
            );
        }
    }

    #[test]
    fn a_foreign_message_falls_back_to_the_store_time_and_counts_as_a_client() {
        let event = StreamEvent::from_parts(3, None, b"\xffx", 99);
        assert_eq!((event.ts, event.origin), (99, Origin::Client));
        assert_eq!(event.data, "\u{fffd}x");
        let mut h = HeaderMap::new();
        h.insert(TS_HEADER, "soon");
        assert_eq!(StreamEvent::from_parts(3, Some(&h), b"", 99).ts, 99);
    }

    #[test]
    fn tick_ids_differ_by_tick_and_rate() {
        assert_eq!(tick_message_id(10.0, 5), "tick-10-5");
        assert_eq!(tick_message_id(0.5, 5), "tick-0.5-5");
        assert_ne!(tick_message_id(10.0, 5), tick_message_id(10.0, 6));
    }
}
