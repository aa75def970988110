//! The protocol halves: one file per transport, each the client side of the file of the same
//! name in `server/src/transport/`.
//!
//! `ws.rs`, `sse.rs`, `long_poll.rs`, `short_poll.rs` and `tcp.rs` differ only in how they get
//! events off the wire, so a reader can open the two halves of one protocol side by side. Each
//! implements the `Subscriber` trait (`subscriber/mod.rs`): it connects, speaks its
//! protocol, and hands every event, keep-alive and poll answer up to the subscriber's meter;
//! *what is measured* and what every subscriber does at its end live in `subscriber/`, not
//! here. `http.rs` is the counted HTTP/1.1 or HTTP/2 connection the polls and the POST
//! publisher share (`h2_pool.rs` lets subscribers share one HTTP/2 connection, and `sse_h2.rs`
//! is SSE as an HTTP/2 stream);
//! `ws_frames.rs` follows WebSocket frame boundaries for exact byte accounting, and
//! `read_buffer.rs` is the buffer SSE and TCP own for the same reason.
//!
//! This file holds what every protocol half shares and nothing above it: [`SubError`], why a
//! connection ended, and `parse_event`, the one decoder of the contract's event JSON with the
//! error a foreign server needs to see.

pub mod h2_pool;
pub mod http;
pub mod long_poll;
pub mod read_buffer;
pub mod short_poll;
pub mod sse;
pub mod sse_h2;
pub mod tcp;
pub mod ws;
pub mod ws_frames;

use rtlab_wire::{EventView, WireError};

/// The earliest `ts` taken for nanoseconds since the Unix epoch (10¹⁸ ns: September 2001). A
/// smaller `ts` is in another unit, usually milliseconds (JavaScript's `Date.now()`, about
/// 1.7 × 10¹²), and would turn every latency into decades, clamped to the histogram's 60 s:
/// a foreign server's likeliest mistake, worth a clear error rather than a silly report.
pub const MIN_TS_NANOS: u64 = 1_000_000_000_000_000_000;

/// Why an SSE subscriber stopped when the server ended its event stream (no close code exists
/// for a stream; `ending.rs` counts this as a clean end).
pub const SSE_ENDED_BY_SERVER: &str = "event stream ended by server";

/// Why a raw-TCP subscriber stopped when the server closed its connection.
pub const TCP_ENDED_BY_SERVER: &str = "connection closed by server";

/// Longest part of an offending message quoted in a protocol error.
const EXCERPT_BYTES: usize = 60;

/// Decodes one event JSON that arrived as `carrier` ("a WebSocket text frame", …), or says,
/// on one line, what is wrong with it and what it began with: the first thing someone pointing
/// this client at another server needs to see.
pub(crate) fn parse_event<'a>(json: &'a [u8], carrier: &str) -> Result<EventView<'a>, SubError> {
    let bad = |what: String| {
        SubError::Protocol(format!(
            "{carrier} is not the event JSON {{\"seq\":N,\"ts\":NANOS,\"data\":\"...\"}} \
             ({what}): {}",
            excerpt(json)
        ))
    };
    let ev = EventView::parse(json).map_err(|e| {
        bad(match e {
            WireError::BadEvent(why) => why,
            other => other.to_string(),
        })
    })?;
    if ev.ts < MIN_TS_NANOS {
        return Err(bad(format!(
            "ts {} is not nanoseconds since the Unix epoch",
            ev.ts
        )));
    }
    Ok(ev)
}

/// The start of `bytes`, quoted and escaped (so a newline in it cannot break the error's line).
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT_BYTES)]);
    let more = if bytes.len() > EXCERPT_BYTES {
        "…"
    } else {
        ""
    };
    format!("{text:?}{more}")
}

/// Why one subscriber stopped early (data for the report, not a run failure).
#[derive(Debug, thiserror::Error)]
pub enum SubError {
    /// TCP connect failed.
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// The TLS handshake failed (an untrusted certificate, no common protocol).
    #[error("TLS: {0}")]
    Tls(String),
    /// Set-up took longer than the connect timeout.
    #[error("connect timed out")]
    ConnectTimeout,
    /// The server answered with an HTTP status other than the contract's.
    #[error("HTTP {0}")]
    Status(u16),
    /// What the server sent is not the contract.
    #[error("{0}")]
    Protocol(String),
    /// The server closed the subscriber as lagging.
    #[error("disconnected as lagging")]
    Lagging,
    /// The connection ended or broke.
    #[error("{0}")]
    Closed(String),
    /// The server answered with another feed epoch than before (`feed_epoch.rs`): the feed
    /// restarted, and a connection that resumed after a seq of the old feed must start again.
    #[error("the feed restarted (another Rtlab-Epoch)")]
    FeedRestarted,
}

impl SubError {
    /// The key this error is counted under in the report's `errors`.
    pub fn kind(&self) -> String {
        match self {
            SubError::Connect(e) => match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connect refused".into(),
                std::io::ErrorKind::TimedOut => "connect timeout".into(),
                std::io::ErrorKind::AddrNotAvailable | std::io::ErrorKind::AddrInUse => {
                    "connect no source port".into()
                }
                _ => "connect failed".into(),
            },
            SubError::ConnectTimeout => "connect timeout".into(),
            SubError::Tls(_) => "tls".into(),
            SubError::Status(code) => format!("http {code}"),
            SubError::Protocol(_) => "protocol".into(),
            SubError::Lagging => "lagging".into(),
            SubError::Closed(_) => "disconnected".into(),
            SubError::FeedRestarted => "feed restarted".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(json: &str) -> String {
        match parse_event(json.as_bytes(), "a TCP line") {
            Err(SubError::Protocol(why)) => why,
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn events_parse_and_what_is_not_one_is_quoted_on_one_line() {
        let ev = parse_event(br#"{"seq":1,"ts":1763769600123456789,"data":"x"}"#, "a").unwrap();
        assert_eq!((ev.seq, ev.ts), (1, 1_763_769_600_123_456_789));
        // Another server's key order and extra keys are fine (the README promises it).
        let ev = parse_event(
            br#"{"data":"x","type":"tick","ts":1763769600123456789,"seq":7}"#,
            "a",
        )
        .unwrap();
        assert_eq!(ev.seq, 7);
        let not_json = reason("hello\nworld");
        assert!(
            not_json.starts_with(r#"a TCP line is not the event JSON {"seq":N,"ts":NANOS,"#),
            "{not_json}"
        );
        assert!(not_json.ends_with(r#": "hello\nworld""#), "{not_json}");
        assert!(!not_json.contains('\n'));
        assert!(reason(r#"{"type":"tick","n":1}"#).contains("missing field `seq`"));
        let long = reason(&"x".repeat(500));
        assert!(long.ends_with("\"…") && long.len() < 250, "{long}");
    }

    #[test]
    fn a_ts_in_milliseconds_is_refused() {
        let why = reason(r#"{"seq":1,"ts":1763769600123,"data":"x"}"#);
        assert!(
            why.contains("ts 1763769600123 is not nanoseconds since the Unix epoch"),
            "{why}"
        );
    }
}
