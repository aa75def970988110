//! Feed identity: which feed a `seq` belongs to, read from the `Rtlab-Epoch` header.
//!
//! A seq is only a position *in one feed*. A server without a broker keeps its history in memory,
//! so when it restarts, its feed starts over at seq 1 with nothing before it. A client that
//! resumes with `?after=4711` (or `Last-Event-ID: 4711`) after such a restart is asking a feed
//! that has never heard of 4711: seen from the numbers alone, the restart looks like a jump back
//! (reordering, duplicates) or, once the new feed passes 4711, like a huge gap. The contract
//! therefore gives the feed an identity, its **epoch** (`docs/protocol.md`, "Feed identity"):
//! a decimal u64 in the header `Rtlab-Epoch` of the WebSocket handshake and of every HTTP
//! response, that changes when the feed starts over (in cluster mode it is the broker stream's,
//! and survives a node's restart). A subscriber remembers the epoch of its first answer; an
//! answer with another epoch means the feed restarted, and its seq tracking starts over
//! (`subscriber/resume.rs`) instead of counting loss or reordering that never happened.
//!
//! A server without the header (another implementation, an older rtlab) is simply of unknown
//! epoch: never an error, and never a restart.

/// The response header that carries the feed's epoch (the wire crate's one name for it).
pub use rtlab_wire::headers::EPOCH as EPOCH_HEADER;

/// The epoch in a header value: a decimal u64, surrounding spaces allowed. Anything else is an
/// unknown epoch (a foreign server's header of the same name must not end a run).
pub fn parse_epoch(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// The epoch in a response's headers, if any.
pub fn epoch_of(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(EPOCH_HEADER)
        .and_then(|v| parse_epoch(v.as_bytes()))
}

/// What an answer's epoch says about the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochVerdict {
    /// The same feed as before (or the first answer, or no epoch to compare).
    SameFeed,
    /// Another epoch than the one remembered: the feed started over.
    Restarted,
}

/// The epoch one subscriber remembers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedEpoch {
    known: Option<u64>,
}

impl FeedEpoch {
    /// The epoch remembered, if any answer has carried one.
    pub fn known(&self) -> Option<u64> {
        self.known
    }

    /// An answer carried `epoch` (`None`: no header). The first epoch seen is remembered; a
    /// different one later is a restart, and is remembered in its place.
    pub fn answered(&mut self, epoch: Option<u64>) -> EpochVerdict {
        match (self.known, epoch) {
            (_, None) => EpochVerdict::SameFeed,
            (None, Some(e)) => {
                self.known = Some(e);
                EpochVerdict::SameFeed
            }
            (Some(k), Some(e)) if k == e => EpochVerdict::SameFeed,
            (Some(_), Some(e)) => {
                self.known = Some(e);
                EpochVerdict::Restarted
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_a_decimal_u64_or_unknown() {
        assert_eq!(parse_epoch(b"1764300000123"), Some(1_764_300_000_123));
        assert_eq!(parse_epoch(b" 42 "), Some(42));
        for bad in [
            &b""[..],
            b"-1",
            b"abc",
            b"1.5",
            b"99999999999999999999",
            b"\xff",
        ] {
            assert_eq!(parse_epoch(bad), None, "{bad:?}");
        }
        let mut headers = http::HeaderMap::new();
        assert_eq!(epoch_of(&headers), None);
        headers.insert("Rtlab-Epoch", "7".parse().unwrap());
        assert_eq!(epoch_of(&headers), Some(7));
    }

    #[test]
    fn the_first_epoch_is_remembered_and_only_another_one_is_a_restart() {
        let mut e = FeedEpoch::default();
        assert_eq!(e.answered(None), EpochVerdict::SameFeed);
        assert_eq!(e.known(), None);
        assert_eq!(e.answered(Some(5)), EpochVerdict::SameFeed);
        assert_eq!(e.answered(Some(5)), EpochVerdict::SameFeed);
        // An answer without the header (a proxy's error page, another server) changes nothing.
        assert_eq!(e.answered(None), EpochVerdict::SameFeed);
        assert_eq!(e.answered(Some(6)), EpochVerdict::Restarted);
        assert_eq!(e.known(), Some(6));
        assert_eq!(e.answered(Some(6)), EpochVerdict::SameFeed);
    }
}
