//! # rtlab-wire: the contract every part of the lab agrees on
//!
//! One live feed of [`Event`]s is published by `rtlab-server` over five transports and consumed by
//! `rtlab-client`. Both sides, and the lab runner that compares them, must agree on three things,
//! and this crate is their single home:
//!
//! 1. **What an event is** and its one JSON encoding ([`event`]).
//! 2. **How each transport frames it** on the wire, and what that framing costs in bytes
//!    ([`framing`]). The server uses the encoders; the client and the lab use the same arithmetic
//!    as the *analytic model* that measurements are checked against.
//! 3. **The side channels**: the transport names ([`transport`]), the `/stats` document
//!    ([`stats`]) and the error body ([`error`]).
//!
//! The crate is deliberately tiny and never depends on a web framework: the contract must not
//! change because the server's framework did.
//!
//! # Layout
//! - [`event`]: `Event`, `Seq`, the one JSON encoding and a zero-copy decoder for clients.
//! - [`framing`]: SSE frames, WebSocket header lengths, HTTP chunk sizes, TCP lines, JSON arrays.
//! - [`transport`]: the `Transport` enum that names ws, sse, long-poll, short-poll and tcp.
//! - `usage` (with the `clap` feature): a usage mistake on one line, as every binary prints it.
//! - [`stats`]: the JSON document served at `GET /stats`.
//! - [`error`]: the `{"error": ...}` body and decoding errors.
//!
//! The normative text is `docs/protocol.md` (which agrees with the shared `CONTRACT.md`).

pub mod error;
pub mod event;
pub mod framing;
pub mod stats;
pub mod transport;
#[cfg(feature = "clap")]
pub mod usage;

pub use error::{ErrorBody, WireError};
pub use event::{Event, EventView, Seq, now_unix_nanos};
pub use stats::{BrokerStatus, FeedMode, HeapStats, StatsSnapshot, TransportStats};
pub use transport::Transport;

/// HTTP paths of the contract, so that server routes and client requests cannot drift apart.
pub mod paths {
    /// WebSocket feed (RFC 6455).
    pub const WS: &str = "/ws";
    /// WebSocket echo, for conformance suites.
    pub const WS_ECHO: &str = "/ws/echo";
    /// Server-Sent Events feed.
    pub const SSE: &str = "/sse";
    /// Long polling: parks until an event after `after` exists.
    pub const LONG_POLL: &str = "/poll/long";
    /// Short polling: answers at once from the event log.
    pub const SHORT_POLL: &str = "/poll/short";
    /// Publish the request body as a new event.
    pub const PUBLISH: &str = "/publish";
    /// Server counters.
    pub const STATS: &str = "/stats";
}

/// HTTP headers of the contract beyond the standard ones.
pub mod headers {
    /// The feed's identity on every HTTP response of the feed (WebSocket handshake, SSE, polls,
    /// publish, stats): a decimal u64, ns since the Unix epoch of the feed's birth. It changes
    /// when a server without a broker restarts (its history, and so its seqs, start again), and
    /// stays across node restarts in cluster mode (it is the broker stream's creation time).
    pub const EPOCH: &str = "rtlab-epoch";
}

/// Defaults the contract names, shared by the server's flags and the client's expectations.
pub mod defaults {
    /// Default HTTP listen address.
    pub const HTTP_ADDR: &str = "127.0.0.1:8080";
    /// Default raw-TCP baseline listen address.
    pub const TCP_ADDR: &str = "127.0.0.1:8081";
    /// Events kept in the history ring for resumption and polling.
    pub const HISTORY: usize = 10_000;
    /// Long-poll timeout when the request names none, in milliseconds.
    pub const LONG_POLL_TIMEOUT_MS: u64 = 25_000;
    /// Longest long-poll timeout a client may ask for; above it the request is a 400.
    pub const LONG_POLL_TIMEOUT_MAX_MS: u64 = 60_000;
    /// Largest `POST /publish` body, in bytes; above it the request is a 413.
    pub const MAX_PUBLISH_BYTES: usize = 65_536;
    /// WebSocket close code sent to a subscriber that fell too far behind (RFC 6455 §7.4.1,
    /// "policy violation").
    pub const LAGGING_CLOSE_CODE: u16 = 1008;
    /// Close reason sent with [`LAGGING_CLOSE_CODE`].
    pub const LAGGING_CLOSE_REASON: &str = "lagging";
}
