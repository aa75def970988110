//! Scenarios as a suite file writes them: what each one measures ([`Kind`]) and its settings.
//!
//! These are the plain types the TOML is read into, before anything is resolved: every setting
//! is optional, so that a scenario can leave it to the suite's `[defaults]` (and those to the
//! lab's own defaults, applied when a scenario becomes cases). [`Kind`] is also
//! what every stored case carries, so the charts and findings know which question it answers.
//!
//! Everything here is read with `#[serde(deny_unknown_fields)]`: a typo in a suite is an error.

use std::time::Duration;

use rtlab_wire::Transport;
use serde::{Deserialize, Deserializer, Serialize};

/// Most repetitions a case may ask for: beyond this a suite is more likely a typo than a plan.
pub const MAX_REPEAT: u32 = 20;
/// A duration written the human way in a suite (`"250ms"`, `"2s"`, `"1m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s)
            .map(Dur)
            .map_err(|e| serde::de::Error::custom(format!("invalid duration {s:?}: {e}")))
    }
}

/// What a scenario measures; decides which charts and findings use its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Latency percentiles at a moderate, steady load.
    Latency,
    /// Wire bytes per event against payload size.
    Payload,
    /// Throughput, latency and server cost against the number of clients.
    Fanout,
    /// Delivery and latency against the publish rate, up to saturation.
    Rate,
    /// Short-poll latency and wasted requests against the poll interval.
    PollInterval,
    /// Clients publishing: upstream cost and publish → receive round trip.
    RoundTrip,
    /// Many subscribers, the offered rate stepped up: each transport's ceiling beside the floor's.
    Saturation,
    /// Idle connections opened in steps: the server's memory per connection, as a slope.
    Memory,
}

impl Kind {
    /// The text form used in files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Latency => "latency",
            Kind::Payload => "payload",
            Kind::Fanout => "fanout",
            Kind::Rate => "rate",
            Kind::PollInterval => "poll-interval",
            Kind::RoundTrip => "round-trip",
            Kind::Saturation => "saturation",
            Kind::Memory => "memory",
        }
    }
}

/// Settings a scenario can set, each optional so that `[defaults]` can fill the gaps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Transports to run (default: all five).
    pub transports: Option<Vec<Transport>>,
    /// Concurrent subscribers.
    pub clients: Option<u64>,
    /// Events per second published by the server's ticker.
    pub rate: Option<u64>,
    /// Bytes of filler in each ticker event's `data`.
    pub payload_bytes: Option<u64>,
    /// Short-poll interval.
    pub poll_interval: Option<Dur>,
    /// Publishes per second per client (round trip); absent = subscribers only.
    pub publish_rate: Option<f64>,
    /// Measured window.
    pub duration: Option<Dur>,
    /// Warm-up before the measured window.
    pub warmup: Option<Dur>,
    /// The server's per-subscriber queue, in events (`--subscriber-queue`).
    pub subscriber_queue: Option<u64>,
    /// How many times each case runs, each with a fresh server (1 to [`MAX_REPEAT`]).
    pub repeat: Option<u32>,
}

/// The one setting a scenario varies, and its values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Sweep the number of clients.
    pub clients: Option<Vec<u64>>,
    /// Sweep the publish rate (events/s).
    pub rate: Option<Vec<u64>>,
    /// Sweep the payload size (bytes).
    pub payload_bytes: Option<Vec<u64>>,
    /// Sweep the short-poll interval.
    pub poll_interval: Option<Vec<Dur>>,
}

/// One `[[scenario]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Unique name, used in file names.
    pub name: String,
    /// What it measures.
    pub kind: Kind,
    /// A sentence for the report: the question this scenario answers.
    #[serde(default)]
    pub about: Option<String>,
    /// Transports to run (default: `[defaults]`, else all five).
    pub transports: Option<Vec<Transport>>,
    /// Concurrent subscribers.
    pub clients: Option<u64>,
    /// Events per second published by the server's ticker.
    pub rate: Option<u64>,
    /// Bytes of filler in each ticker event's `data`.
    pub payload_bytes: Option<u64>,
    /// Short-poll interval.
    pub poll_interval: Option<Dur>,
    /// Publishes per second per client (round trip).
    pub publish_rate: Option<f64>,
    /// Measured window.
    pub duration: Option<Dur>,
    /// Warm-up before the measured window.
    pub warmup: Option<Dur>,
    /// The server's per-subscriber queue, in events.
    pub subscriber_queue: Option<u64>,
    /// How many times each case runs, each with a fresh server.
    pub repeat: Option<u32>,
    /// The varied setting.
    #[serde(default)]
    pub sweep: Option<Sweep>,
}
