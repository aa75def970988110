//! What the models need to know about this machine, measured once per run and apart from the
//! cases they judge.
//!
//! A model that takes its inputs from the very case it is compared with cannot disagree with it:
//! a poll model fed the case's own response sizes, or a short-poll latency model fed the
//! streaming cases' own latency, explains away whatever the case did. So before the first case
//! the runner measures these four inputs on an idle server with one client (see
//! `runner::calibration`), and every model line in the report names which of them it uses:
//!
//! - `rtt_us`: one HTTP request/response round trip over a kept-alive connection (the median of
//!   a few `GET`s the server answers at once). Long polling's batching model needs it: while an
//!   answer travels back and the next request travels out, events queue up for the next answer.
//! - `one_way_delay_us`: server → client delivery of a pushed event, the p50 latency of one
//!   WebSocket subscriber at a low rate. Short polling's mean latency is `interval/2` plus it.
//! - `request_bytes` and `response_head_bytes`: one poll request, and one poll answer's status
//!   line and headers, as the client counted them at the socket.
//!
//! Beside them, not a model input but a check of the instrument: `shaper_ceiling_bps`, the
//! network shaper's own throughput (`rtlab_client::network::ceiling`). The shaper is a user-space
//! hop; a shaped case means what it says only if this ceiling is far above the link's rate (the
//! fastest profile, `broadband`, is 50 Mbit/s).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// About how long the step takes (a server start, two one-second client runs, a stop): part of
/// every run's time estimate.
pub const ESTIMATED: Duration = Duration::from_secs(4);

/// The four calibrated inputs, and the shaper's ceiling (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// One HTTP round trip on an idle server, µs (median).
    pub rtt_us: f64,
    /// Server → client delivery of a pushed event at a low rate, µs (p50).
    pub one_way_delay_us: f64,
    /// Bytes of one poll request (request line and headers).
    pub request_bytes: f64,
    /// Bytes of one poll answer's status line and headers.
    pub response_head_bytes: f64,
    /// The network shaper's own throughput, bits per second (one connection, no delay or rate
    /// limit); null when it could not be measured, absent in runs that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shaper_ceiling_bps: Option<f64>,
}
