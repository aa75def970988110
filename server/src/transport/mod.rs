//! The five ways out of the server, one file each (the client crate uses the same names), plus
//! the WebSocket echo and the message rules both WebSocket endpoints share.
//!
//! | file | transport | how an event leaves |
//! |---|---|---|
//! | [`ws`] | WebSocket | a text frame holding the event JSON |
//! | [`sse`] | Server-Sent Events | an `id:`/`data:` block in a chunked response |
//! | [`long_poll`] | long polling | a JSON array, answered as soon as something is new |
//! | [`short_poll`] | short polling | a JSON array, answered at once from the history |
//! | [`tcp`] | raw-TCP baseline | the event JSON and `\n` |
//! | [`echo`] | WebSocket echo | (not the feed: every message comes back unchanged) |
//!
//! [`ws_message`] holds the RFC 6455 handshake and message rules (reassembly, UTF-8, close codes)
//! that `ws` and `echo` share, and [`poll_answer`] the JSON answer both polls give, so that no
//! transport imports another. Every endpoint here is let in by [`crate::state::AppState`]:
//! `admit` for the streams, `admit_request` for the polls.
//!
//! Every streaming transport takes its events from a [`crate::hub::Subscription`] and races each
//! socket write against the hub's lagging kick and the server's shutdown, so no client can hold a
//! task hostage; the two HTTP-bodied ones (SSE, WebSocket) are pulled chunk by chunk through
//! [`body_stream`]. Both polls read [`crate::hub::Hub::events_after`].

pub mod body_stream;
pub mod echo;
pub mod long_poll;
pub mod poll_answer;
pub mod short_poll;
pub mod sse;
pub mod tcp;
pub mod ws;
pub mod ws_message;

use rtlab_wire::Seq;
use serde::Deserialize;

/// Most bytes of events one write carries when several are ready (a single event may be larger),
/// for the raw-TCP floor and the WebSocket feed alike: both drain what is ready into one buffer,
/// so neither pays a system call per event and the comparison stays fair. (SSE leaves one HTTP
/// chunk per event, as its framing arithmetic assumes; actix coalesces those chunks in its write
/// buffer the same way.)
pub const MAX_BATCH_BYTES: usize = 64 * 1024;

/// The `?after=N` query of `/ws`, `/sse` and `/poll/short`: events with seq > N.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct AfterQuery {
    /// Resume after this seq; absent means "from now on" (streams) or "the latest" (short poll).
    pub after: Option<Seq>,
}

#[cfg(test)]
mod tests {
    use actix_web::web::Query;

    use super::*;

    #[test]
    fn after_parses_only_non_negative_integers() {
        let q = Query::<AfterQuery>::from_query("after=42").unwrap();
        assert_eq!(q.after, Some(42));
        let q = Query::<AfterQuery>::from_query("").unwrap();
        assert_eq!(q.after, None);
        let q = Query::<AfterQuery>::from_query("other=1&after=0").unwrap();
        assert_eq!(q.after, Some(0));
        for bad in [
            "after=abc",
            "after=-1",
            "after=1.5",
            "after=",
            "after=99999999999999999999",
        ] {
            assert!(
                Query::<AfterQuery>::from_query(bad).is_err(),
                "{bad} accepted"
            );
        }
    }
}
