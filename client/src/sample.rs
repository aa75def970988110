//! Plain samples: what a subscriber measures, before any statistics.
//!
//! As in oha, the code that talks to the network does not touch histograms. A subscriber only
//! produces [`Sample`]s, a kind and a number of microseconds; its sample buffer (`recorder.rs`)
//! hands them in batches to the histograms (`histograms.rs`). This module is the vocabulary both
//! sides share, so it depends on neither.

use std::time::Duration;

/// One measurement, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// Event latency: receive wall clock − the event's `ts`.
    Latency(u64),
    /// The TCP dial of the subscriber's own connection: SYN, SYN-ACK (through a shaper, its
    /// handshake wait), from the same start as [`Sample::Connect`].
    TcpConnect(u64),
    /// The TLS handshake of the subscriber's own connection, alone (from the dial's end).
    TlsHandshake(u64),
    /// Connection set-up: connect + handshake (or first response head).
    Connect(u64),
    /// From starting to connect to the first event.
    FirstEvent(u64),
    /// Publish → receive of one's own event, from the *scheduled* send time.
    RoundTrip(u64),
    /// A dropped connection's outage: from the drop to the new connection's answer.
    Reconnect(u64),
}

/// Microseconds in a duration, saturating.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
