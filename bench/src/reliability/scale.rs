//! The reliability suite's sizes: the full suite's, and the small ones its tests run.
//!
//! The full sizes are the issue's: 1 000 healthy subscribers, 100 000 churn cycles per transport,
//! SIGTERM at 10 000 events/s, 5 000 idle connections. The slow-subscriber and hostile cases run
//! at 20 events/s, with room to spare on the server's core (the report shows how much). The
//! slow-subscriber window is 15 s: the stalled client dials with a small receive window
//! (`rtlab_client`'s `stalled.rs`), so the kernel's buffers hold only some 35 events of 4 KiB
//! before the server's queue (128) fills, and it is cut about 8 s after it stalled, some 4 s into
//! the window (the report places each cut). The hostile window outlasts the server's deadlines for a first byte and for a whole request head (10–11 s
//! and 10 s, `rtlab_server::http_listener::{FIRST_BYTE_TIMEOUT, CLIENT_REQUEST_TIMEOUT}`), so the
//! drops fall inside it.

use std::time::Duration;

use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

/// Churn cycles a second on this machine, every transport alike (2026-11-28: 6 000–7 500 for
/// the streams, 6 500 for the polls), for [`Scale::estimated`].
const CHURN_CYCLES_PER_S: f64 = 6_000.0;

/// How big each case is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    /// Healthy subscribers in the slow-subscriber, shutdown and hostile cases.
    pub clients: u64,
    /// Slow-subscriber and hostile cases: runs with the fault, each between two without it
    /// (`p99_effect`: 3 makes B F B F B F B).
    pub p99_faulted_runs: u32,
    /// Subscribers' connect rate, per second.
    pub connect_rate: f64,
    /// Warm-up after the ramp, before a window.
    #[serde(with = "seconds")]
    pub warmup: Duration,
    /// Slow subscriber: the ticker's rate, events/s.
    pub slow_rate: u64,
    /// Slow subscriber: event filler, bytes.
    pub slow_payload_bytes: u64,
    /// Slow subscriber: the server's `--subscriber-queue`, events (the bound reported).
    pub subscriber_queue: u64,
    /// Slow subscriber: the measured window.
    #[serde(with = "seconds")]
    pub slow_window: Duration,
    /// Slow subscriber: the transports (one stalled subscriber each, separately).
    pub slow_transports: Vec<Transport>,
    /// Churn: cycles per transport.
    pub churn_cycles: u64,
    /// Churn: concurrent workers.
    pub churn_workers: u64,
    /// Churn: the ticker's rate (a cycle waits for one event).
    pub churn_rate: u64,
    /// Churn: the transports.
    pub churn_transports: Vec<Transport>,
    /// Churn: the warm-up churn before "before" is read, in % of the cycles (reports from before
    /// this field warmed up with 1 %).
    #[serde(default = "one_percent")]
    pub churn_warm_up_percent: u64,
    /// Churn: the server's `--heap-release-interval`; each reading waits for a release (zero in
    /// reports from before it, which read RSS without).
    #[serde(with = "seconds", default)]
    pub heap_release_interval: Duration,
    /// Shutdown: the ticker's rates, one run per rate and transport.
    pub shutdown_rates: Vec<u64>,
    /// Shutdown: how long into the window the server gets SIGTERM.
    #[serde(with = "seconds")]
    pub shutdown_after: Duration,
    /// Shutdown: long polls the lab parks itself (`after` far ahead) to see them answered.
    pub parked_polls: u64,
    /// Shutdown: the transports.
    pub shutdown_transports: Vec<Transport>,
    /// Hostile: idle TCP connections that never send a request.
    pub idle_connections: u64,
    /// Hostile: the ticker's rate.
    pub hostile_rate: u64,
    /// Hostile: the measured window.
    #[serde(with = "seconds")]
    pub hostile_window: Duration,
    /// Hostile: the transports the healthy clients use.
    pub hostile_transports: Vec<Transport>,
}

/// Durations as seconds (a float) in `reliability.json` and `cluster.json`.
pub mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// `d` as seconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    /// Seconds as a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// The churn warm-up of reports written before it was recorded.
fn one_percent() -> u64 {
    1
}

impl Default for Scale {
    fn default() -> Self {
        Self::full()
    }
}

impl Scale {
    /// The suite's sizes (about 19 minutes in all; [`Scale::estimated`]).
    pub fn full() -> Self {
        Self {
            clients: 1_000,
            // One faulted run between two baselines could not tell a 1.3× effect from the
            // baselines' own 1.3× spread (2026-11-28); two, with three baselines, gave medians
            // that still moved ×1.1 between sittings (hostile ws ×0.93, then ×1.10), where one
            // run decides; three with four baselines take two outliers to move.
            p99_faulted_runs: 3,
            connect_rate: 500.0,
            warmup: Duration::from_secs(2),
            // 20 000 deliveries/s, the hostile case's load: the server's core 40–47 % busy. At 200
            // events/s (512 B) it was 98 % busy, the baselines alone spread ×1.14–1.24 and a
            // verdict within 1.1× was a coin toss; at 100 events/s still 97 % (the server spends
            // what it has: at higher rates one wake-up carries several events), 2026-11-28.
            slow_rate: 20,
            // Large enough that the server's send buffer on the stalled socket holds few events
            // (30–36 of 4 KiB, measured 2026-11-28; see `slow.rs`), so that at 20 events/s the
            // queue, not the kernel, decides the cut, and well before the ping timeout (two
            // missed pings, 20–30 s) would cut it instead.
            slow_payload_bytes: 4_096,
            // 6.4 s of the feed: with the kernel's share the cut comes about 8 s after the stall,
            // inside the window (which opens after the 2 s ramp and the 2 s warm-up).
            subscriber_queue: 128,
            slow_window: Duration::from_secs(15),
            slow_transports: vec![Transport::Ws, Transport::Sse],
            churn_cycles: 100_000,
            churn_workers: 100,
            churn_rate: 1_000,
            churn_transports: Transport::ALL.to_vec(),
            // Enough for actix-http's pools to reach what 100 workers need (`churn.rs`).
            churn_warm_up_percent: 10,
            // The server's default: the lab measures the server as it ships.
            heap_release_interval: Duration::from_secs(10),
            // The contract's 10 000 events/s for 1 000 subscribers is 10 million deliveries/s,
            // past what two cores carry (the subscribers fall behind and are cut as lagging);
            // 1 000 events/s is a load this server sustains, so the promise is also seen apart
            // from overload.
            shutdown_rates: vec![1_000, 10_000],
            shutdown_after: Duration::from_secs(3),
            parked_polls: 50,
            shutdown_transports: Transport::ALL.to_vec(),
            idle_connections: 5_000,
            // 20 000 deliveries/s keep the server's core about 40 % busy (200 events/s kept it
            // at 95–98 %, where the baselines alone spread ×1.2–2 and every extra microsecond
            // is queueing): the promise is about a server with room for its healthy clients.
            hostile_rate: 20,
            hostile_window: Duration::from_secs(15),
            hostile_transports: vec![Transport::Ws, Transport::Sse],
        }
    }

    /// The tests' sizes: tens of clients, a thousand churn cycles, seconds per case. The slow
    /// case's events are large, so the stalled socket's buffers and queue fill within a second.
    pub fn small() -> Self {
        Self {
            clients: 10,
            p99_faulted_runs: 1,
            connect_rate: 2_000.0,
            warmup: Duration::from_millis(500),
            slow_rate: 500,
            slow_payload_bytes: 8_192,
            subscriber_queue: 512,
            slow_window: Duration::from_secs(5),
            churn_cycles: 1_000,
            churn_workers: 10,
            // The churn waits for the server's history ring to fill (10 000 events): 2 s here.
            churn_rate: 5_000,
            // Three readings wait for a release each: a second at most here.
            heap_release_interval: Duration::from_secs(1),
            shutdown_rates: vec![1_000],
            shutdown_after: Duration::from_secs(1),
            parked_polls: 5,
            idle_connections: 50,
            hostile_rate: 100,
            hostile_window: Duration::from_secs(12),
            ..Self::full()
        }
    }

    /// Rough wall time of the whole suite, for the plan and the start line.
    pub fn estimated(&self) -> Duration {
        let ramp = self.clients as f64 / self.connect_rate;
        let run = |window: Duration| ramp + self.warmup.as_secs_f64() + window.as_secs_f64() + 3.0;
        // 2k + 1 runs per transport (baselines around k faulted runs); churn plus a warm-up of
        // 10 % and a second churn of 10 %, each of its three readings a ring's turn and two
        // seconds after its churn, and half a heap release interval more on average; shutdown up
        // to its 5 s exit.
        let runs = f64::from(2 * self.p99_faulted_runs.max(1) + 1);
        let slow = self.slow_transports.len() as f64 * runs * run(self.slow_window);
        // Each churn reading waits a turn of the server's history ring (`churn.rs`).
        let ring = rtlab_wire::defaults::HISTORY as f64 / self.churn_rate.max(1) as f64;
        let churn = self.churn_transports.len() as f64
            * (self.churn_cycles as f64 * (1.1 + self.churn_warm_up_percent as f64 / 100.0)
                / CHURN_CYCLES_PER_S
                + 3.0 * (ring + 2.0)
                + 3.0 * (self.heap_release_interval.as_secs_f64() / 2.0 + 0.75));
        let shutdown = (self.shutdown_rates.len() * self.shutdown_transports.len()) as f64
            * (run(self.shutdown_after) + 5.0);
        let hostile = self.hostile_transports.len() as f64 * runs * run(self.hostile_window);
        Duration::from_secs_f64(slow + churn + shutdown + hostile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_suite_takes_under_twenty_minutes_and_the_small_one_under_five() {
        let full = Scale::full().estimated().as_secs();
        assert!((600..=1_200).contains(&full), "{full} s");
        assert!(Scale::full().slow_window >= Duration::from_secs(10));
        let small = Scale::small().estimated().as_secs();
        assert!(small < 300, "{small} s");
        let json = serde_json::to_string(&Scale::full()).unwrap();
        assert_eq!(serde_json::from_str::<Scale>(&json).unwrap(), Scale::full());
    }
}
