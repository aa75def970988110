//! One stored case: `cases/<id>.json`, what a case measured and how it ended.
//!
//! A [`CaseResult`] is the unit everything downstream reads: the report, the charts, `rtlab
//! compare` and the findings. It holds the client's own report as-is (`client`), the server's
//! cost from `/proc` ([`ServerCost`]), and, for a case run several times, each repetition's
//! headline figures ([`Repeat`]); the methods below derive the per-event figures the lab
//! compares (delivered share by seq, bytes per event by kind).
//!
//! The folder these files live in, and `run.json` beside them, are the `results` module; the file
//! format is versioned by [`SCHEMA_VERSION`] and described by `bench/schema/case.schema.json`.

use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

use crate::RunReport;
use crate::calibration::Calibration;
use crate::case::{CaseParams, Point};
use crate::connection_memory::ConnectionMemory;
use crate::scenario::Kind;

/// Version of `run.json` and the case files.
pub const SCHEMA_VERSION: u32 = 1;

/// How one case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    /// Measured.
    Ok,
    /// The server failed to start or died, or the client failed.
    Failed,
    /// Stopped by Ctrl-C.
    Interrupted,
}

/// What the server cost in one case, from `/proc`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCost {
    /// The server's process id (tests use it to prove the process is gone).
    pub pid: Option<u32>,
    /// Whether the server was pinned to its own core.
    pub pinned: bool,
    /// CPU seconds (user + system) in the measured window.
    pub cpu_seconds: f64,
    /// CPU seconds over the whole case (start-up, connect, warm-up, window, teardown).
    pub cpu_seconds_total: f64,
    /// CPU milliseconds per 1 000 deliveries (events × subscribers) in the window.
    pub cpu_ms_per_1000_events: Option<f64>,
    /// Share of one core used in the window (1.0 = one core busy).
    pub cpu_utilisation: f64,
    /// RSS once listening, before any client connected, in bytes.
    pub rss_baseline_bytes: u64,
    /// Largest RSS seen, in bytes.
    pub rss_peak_bytes: u64,
    /// `(peak − baseline) / clients`, in bytes.
    pub memory_per_connection_bytes: Option<f64>,
    /// `/proc` samples taken.
    pub samples: usize,
    /// The server's exit status, as text.
    pub exit: Option<String>,
}

/// `cases/<id>.json`: one scenario × swept value × transport.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Case id, also the file stem.
    pub id: String,
    /// Scenario name.
    pub scenario: String,
    /// Scenario kind.
    pub kind: Kind,
    /// Transport.
    pub transport: Transport,
    /// Swept value, if any.
    pub point: Option<Point>,
    /// Resolved settings.
    pub params: CaseParams,
    /// How it ended.
    pub status: CaseStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// The server's last output lines (on failure).
    pub server_stderr_tail: Option<String>,
    /// Wall time of the case, in seconds.
    pub wall_s: f64,
    /// Server cost.
    pub server: Option<ServerCost>,
    /// The client's report.
    pub client: Option<RunReport>,
    /// Share of one core the client (this runner's process) used in the measured window; above
    /// [`CLIENT_BOUND_CPU`] the load generator, not the server, may be what was measured.
    #[serde(default)]
    pub client_cpu_utilisation: Option<f64>,
    /// A `memory` case's measurement: the server's RSS against idle connections, and its slope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_memory: Option<ConnectionMemory>,
    /// Every repetition's headline figures when the case ran more than once (the top level is
    /// the first that succeeded); empty, and left out of the file, for one repetition and in
    /// folders written before repeats existed (see the `repeat` module).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repeats: Vec<Repeat>,
    /// The run's calibration (see [`crate::calibration`]): the models' inputs, measured apart
    /// from every case. Each case file carries it so that it can be read (and judged) alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

/// Above this share of its core the client is called *client-bound*: its figures may describe the
/// load generator rather than the server, so findings about the server leave them out.
pub const CLIENT_BOUND_CPU: f64 = 0.85;

impl CaseResult {
    /// The round trip the client timed through its network shaper before the case, µs (the
    /// link's calibration); `None` on loopback or when it was not measured.
    pub fn shaper_rtt_us(&self) -> Option<f64> {
        self.client.as_ref()?.network.as_ref()?.calibrated_rtt_us
    }

    /// The client report when the case succeeded.
    pub fn ok(&self) -> Option<&RunReport> {
        match self.status {
            CaseStatus::Ok => self.client.as_ref(),
            _ => None,
        }
    }

    /// The share of the events published in the window that reached the subscribers asked for,
    /// counted by seq: `events_in_range / ((S1 − S0) × clients)`, where `(S0, S1]` are the seqs
    /// the window published and `events_in_range` the distinct ones each subscriber received,
    /// drain included (see `rtlab_client::window_seq`). At most 1.0, and 1.0 means every
    /// subscriber got every event. Unlike the client's `delivery_ratio` (per *connected*
    /// subscriber), a subscriber that never connected counts as one that received nothing.
    ///
    /// Not `events_per_s / (clients × rate)`: that divides *arrivals* in the window by the
    /// nominal rate, and arrivals include events published before the window (a backlog arriving
    /// late), so it read 104 % for a WebSocket case that was falling behind. Whether the server
    /// published at its nominal rate is a separate question (`keep_up::published_share`).
    /// Without the seq bounds (a report without `/stats`), the client's own ratio, capped at 1.
    pub fn delivered_share(&self) -> Option<f64> {
        let r = self.ok()?;
        let share = match (r.window_seq_start, r.window_seq_end) {
            (Some(s0), Some(s1)) => {
                let expected = (s1.saturating_sub(s0) as f64) * self.params.clients as f64;
                if expected <= 0.0 {
                    return None;
                }
                r.events_in_range as f64 / expected
            }
            _ => r.delivery_ratio,
        };
        Some(share.clamp(0.0, 1.0))
    }

    /// Whether the client's core was busier than [`CLIENT_BOUND_CPU`] in the window.
    pub fn client_bound(&self) -> bool {
        self.client_cpu_utilisation
            .is_some_and(|u| u > CLIENT_BOUND_CPU)
    }

    /// Keep-alive bytes per delivered event.
    pub fn keepalive_per_event(&self) -> Option<f64> {
        let r = self.ok()?;
        per_event(r.wire.keepalive_bytes as f64, r)
    }

    /// Request bytes sent up per delivered event (polling transports; streaming transports send
    /// only keep-alive answers, counted as keep-alive).
    pub fn request_bytes_per_event(&self) -> Option<f64> {
        let r = self.ok()?;
        if self.transport.is_streaming() {
            return Some(0.0);
        }
        per_event(r.wire.bytes_up as f64, r)
    }

    /// All bytes per delivered event: payload + framing/headers + requests + keep-alive.
    pub fn total_bytes_per_event(&self) -> Option<f64> {
        let r = self.ok()?;
        Some(
            r.wire.payload_bytes_per_event
                + r.wire.overhead_bytes_per_event
                + self.request_bytes_per_event().unwrap_or(0.0)
                + self.keepalive_per_event().unwrap_or(0.0),
        )
    }

    /// Payload bytes as a share of all bytes per event.
    pub fn payload_efficiency(&self) -> Option<f64> {
        let total = self.total_bytes_per_event()?;
        (total > 0.0).then(|| self.ok().map(|r| r.wire.payload_bytes_per_event / total))?
    }
}

fn per_event(bytes: f64, r: &RunReport) -> Option<f64> {
    (r.events_received > 0).then(|| bytes / r.events_received as f64)
}

/// One repetition of a case, reduced to its headline figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repeat {
    /// How this repetition ended.
    pub status: CaseStatus,
    /// Median latency, µs.
    pub p50_us: Option<f64>,
    /// 99th-percentile latency, µs.
    pub p99_us: Option<f64>,
    /// Events that arrived in the window, per second.
    pub events_per_s: Option<f64>,
    /// All bytes per delivered event.
    pub bytes_per_event: Option<f64>,
    /// Server CPU milliseconds per 1 000 delivered events (absent below the CPU floor).
    pub cpu_ms_per_1000_events: Option<f64>,
    /// Share of one core the client used in the window.
    pub client_cpu_utilisation: Option<f64>,
    /// Wall time of this repetition, in seconds.
    pub wall_s: f64,
}

impl Repeat {
    /// The headline figures of one measured case.
    pub fn of(c: &CaseResult) -> Repeat {
        let r = c.ok();
        Repeat {
            status: c.status,
            // No event timed (an idle feed): no latency, rather than a 0 µs one.
            p50_us: r
                .filter(|r| r.latency_us.count > 0)
                .map(|r| r.latency_us.p50),
            p99_us: r
                .filter(|r| r.latency_us.count > 0)
                .map(|r| r.latency_us.p99),
            events_per_s: r.map(|r| r.events_per_s),
            bytes_per_event: c.total_bytes_per_event(),
            cpu_ms_per_1000_events: c.server.as_ref().and_then(|s| s.cpu_ms_per_1000_events),
            client_cpu_utilisation: c.client_cpu_utilisation,
            wall_s: c.wall_s,
        }
    }
}
