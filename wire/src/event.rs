//! The event: the unit every transport carries.
//!
//! An event is one JSON object with its keys in a fixed order and no white space:
//!
//! ```text
//! {"seq":42,"ts":1763769600123456789,"data":"..."}
//! ```
//!
//! - `seq` numbers events from 1, without gaps, so a subscriber can detect loss, duplicates and
//!   reordering from the sequence alone.
//! - `ts` is the wall clock (nanoseconds since the Unix epoch) at the moment the hub published the
//!   event, so latency is simply `receive wall clock - ts` on one machine.
//! - `data` is the payload: filler for ticker events, the published text for client events.
//!
//! The server encodes an event **once** ([`Event::to_json`]) and every subscriber of every transport
//! shares those bytes; that is what keeps the comparison fair. Clients decode with
//! [`EventView::parse`], which borrows `data` from the received buffer when it has no escapes, so
//! the receive path allocates nothing for typical payloads.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::WireError;

/// Sequence number of an event: 1 for the first event after the server starts, +1 for each next.
pub type Seq = u64;

/// One event of the live feed, owned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the feed, from 1, never reused.
    pub seq: Seq,
    /// Wall clock at publication, nanoseconds since the Unix epoch.
    pub ts: u64,
    /// The payload.
    pub data: String,
}

impl Event {
    /// The contract's one JSON encoding: keys `seq`, `ts`, `data` in that order, no white space.
    pub fn to_json(&self) -> Bytes {
        // Serializing a struct of a u64, a u64 and a String cannot fail.
        Bytes::from(serde_json::to_vec(self).expect("event serialization is infallible"))
    }
}

/// An event decoded from received bytes, borrowing `data` where it can.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventView<'a> {
    /// Position in the feed.
    pub seq: Seq,
    /// Wall clock at publication, nanoseconds since the Unix epoch.
    pub ts: u64,
    /// The payload; borrowed unless it contained JSON escapes.
    #[serde(borrow)]
    pub data: Cow<'a, str>,
}

impl<'a> EventView<'a> {
    /// Decodes one event JSON object, as carried by a WebSocket text frame, an SSE `data:` line or
    /// a TCP line.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        serde_json::from_slice(bytes).map_err(|e| WireError::BadEvent(e.to_string()))
    }

    /// Decodes a JSON array of events, as answered by the polling endpoints.
    pub fn parse_array(bytes: &'a [u8]) -> Result<Vec<Self>, WireError> {
        serde_json::from_slice(bytes).map_err(|e| WireError::BadEvent(e.to_string()))
    }

    /// Converts into an owned [`Event`].
    pub fn into_owned(self) -> Event {
        Event {
            seq: self.seq,
            ts: self.ts,
            data: self.data.into_owned(),
        }
    }
}

/// The wall clock now, in nanoseconds since the Unix epoch (the unit of [`Event::ts`]).
pub fn now_unix_nanos() -> u64 {
    // A clock before 1970 or after 2554 is a broken machine; saturate rather than panic.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_contract_key_order_and_no_white_space() {
        let e = Event {
            seq: 42,
            ts: 1_763_769_600_123_456_789,
            data: "hi".into(),
        };
        assert_eq!(
            &e.to_json()[..],
            br#"{"seq":42,"ts":1763769600123456789,"data":"hi"}"#
        );
    }

    #[test]
    fn published_text_is_json_escaped_and_round_trips() {
        let e = Event {
            seq: 1,
            ts: 2,
            data: "a \"quoted\"\nline\u{1}".into(),
        };
        let json = e.to_json();
        assert_eq!(
            &json[..],
            br#"{"seq":1,"ts":2,"data":"a \"quoted\"\nline\u0001"}"#
        );
        assert_eq!(EventView::parse(&json).unwrap().into_owned(), e);
    }

    #[test]
    fn plain_data_is_borrowed_not_copied() {
        let raw = br#"{"seq":7,"ts":9,"data":"xxxx"}"#;
        let view = EventView::parse(raw).unwrap();
        assert!(matches!(view.data, Cow::Borrowed("xxxx")));
    }

    #[test]
    fn missing_seq_is_an_error() {
        assert!(matches!(
            EventView::parse(br#"{"ts":9,"data":""}"#),
            Err(WireError::BadEvent(_))
        ));
        assert!(EventView::parse(b"not json").is_err());
    }

    #[test]
    fn arrays_decode_in_order() {
        let raw = br#"[{"seq":1,"ts":1,"data":""},{"seq":2,"ts":1,"data":""}]"#;
        let seqs: Vec<_> = EventView::parse_array(raw)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [1, 2]);
    }

    #[test]
    fn clock_is_after_2020() {
        assert!(now_unix_nanos() > 1_577_836_800_000_000_000);
    }
}
