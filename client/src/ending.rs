//! How subscribers end, and what their ends say about the run: close codes and the tail.
//!
//! A run that is cut short (the server shuts down, or drops every subscriber) still measured
//! something, and *how* it was cut is a result in itself: did the WebSockets get the contract's
//! `1001` (going away), did the SSE streams end cleanly or were they reset, and did everybody
//! get every event the server published before it went? Each subscriber lost after set-up adds
//! one [`end_kind`] to its tally's `close_codes`; each subscriber that connected adds the last
//! (highest) seq it received to `last_seqs`. The run's [`Tail`] compares those last seqs:
//! nobody can know the server's final seq once it is gone, but the highest seq *any*
//! subscriber received was certainly published, so a subscriber that ended below it missed
//! events at the end. That is counted, not guessed: `events_behind` is the sum of the
//! differences, and gaps inside a stream are counted apart (`subscribers_with_gaps`).
//!
//! Subscribers reconnect after a drop by default (`subscriber/reconnect.rs`), so a subscriber is
//! lost only once it gave up; it is then counted as it would have been without reconnecting:
//! under the close code or kind of the drop that began its last outage, lost at that drop's
//! time (`Outcome::lost_at_unix_ns`), not when it gave up.

use std::collections::BTreeMap;

use rtlab_wire::{Seq, Transport};

use serde::{Deserialize, Serialize};

use crate::transport::{SSE_ENDED_BY_SERVER, SubError, TCP_ENDED_BY_SERVER};

/// The end of an SSE or TCP stream closed by the server (no close code exists there).
pub const END_OF_STREAM: &str = "end of stream";

/// The key a subscriber's end is counted under: the WebSocket close code the server sent
/// (`"1001"`, `"1008"`), [`END_OF_STREAM`] for a stream the server ended, else the error's
/// kind (`"disconnected"` for a reset or a WebSocket dropped without a close frame, `"connect
/// refused"` for a poll whose server is gone).
pub fn end_kind(transport: Transport, e: &SubError, close_code: Option<u16>) -> String {
    if let Some(code) = close_code {
        return code.to_string();
    }
    match (transport, e) {
        (Transport::Sse, SubError::Closed(why)) if why == SSE_ENDED_BY_SERVER => {
            END_OF_STREAM.into()
        }
        (Transport::Tcp, SubError::Closed(why)) if why == TCP_ENDED_BY_SERVER => {
            END_OF_STREAM.into()
        }
        (_, other) => other.kind(),
    }
}

/// How one stalled subscriber ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StalledEnd {
    /// How the server cut it: a WebSocket close frame's code and reason (`"1008 lagging"`),
    /// else [`end_kind`] (`"end of stream"`, `"disconnected"`); `None`: its
    /// stream was still open when it had read everything buffered (not cut).
    pub cut: Option<String>,
    /// Events it received in all, from its first to the cut (or to the end of its reading).
    pub events: u64,
    /// The highest seq among them: the server's queue held the events after it when it cut.
    pub last_seq: Seq,
    /// It never got its first event, so it never stalled (the reason).
    pub not_stalled: Option<String>,
}

/// Who ended behind the others: the subscribers' last seqs compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tail {
    /// The highest seq any subscriber received: published for certain.
    pub highest_seq: Seq,
    /// Subscribers whose last seq is lower.
    pub subscribers_behind: u64,
    /// Events between each of those subscribers' last seq and `highest_seq`, summed.
    pub events_behind: u64,
}

/// The tail of a run whose subscribers ended with `last_seqs` (last seq → subscribers).
pub fn tail(last_seqs: &BTreeMap<Seq, u64>) -> Tail {
    let Some((&highest_seq, _)) = last_seqs.last_key_value() else {
        return Tail::default();
    };
    let mut t = Tail {
        highest_seq,
        ..Tail::default()
    };
    for (&seq, &n) in last_seqs.range(..highest_seq) {
        t.subscribers_behind += n;
        t.events_behind += (highest_seq - seq) * n;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_are_told_apart_by_close_code_then_stream_end_then_kind() {
        let closed = SubError::Closed("closed by server (1001 server shutting down)".into());
        assert_eq!(end_kind(Transport::Ws, &closed, Some(1001)), "1001");
        assert_eq!(
            end_kind(Transport::Ws, &SubError::Lagging, Some(1008)),
            "1008"
        );
        let sse_end = SubError::Closed(SSE_ENDED_BY_SERVER.into());
        assert_eq!(end_kind(Transport::Sse, &sse_end, None), END_OF_STREAM);
        // A WebSocket whose TCP connection simply closed got no close code: not a clean end.
        let dropped = SubError::Closed(TCP_ENDED_BY_SERVER.into());
        assert_eq!(end_kind(Transport::Ws, &dropped, None), "disconnected");
        assert_eq!(end_kind(Transport::Tcp, &dropped, None), END_OF_STREAM);
        let reset = SubError::Closed("connection reset by peer".into());
        assert_eq!(end_kind(Transport::Sse, &reset, None), "disconnected");
    }

    #[test]
    fn the_tail_counts_who_ended_below_the_highest_seq_and_by_how_much() {
        assert_eq!(tail(&BTreeMap::new()), Tail::default());
        let last = BTreeMap::from([(90, 1), (98, 2), (100, 5)]);
        assert_eq!(
            tail(&last),
            Tail {
                highest_seq: 100,
                subscribers_behind: 3,
                events_behind: 10 + 2 * 2,
            }
        );
    }
}
