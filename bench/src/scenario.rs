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
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, Error as _, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::link::LinkSpec;
use crate::security::Security;

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
    /// An idle feed with short keep-alive intervals: what staying connected costs.
    KeepAlive,
    /// A low load over shaped links (round-trip time, jitter): latency in transits, and the
    /// round trips before the first event.
    Network,
    /// A rate-limited link, the rate stepped up: each transport's ceiling beside link rate ÷
    /// bytes per event.
    Bandwidth,
    /// Each transport in the clear, over TLS, and over TLS as HTTP/2 where that applies: what
    /// the handshake and the record framing cost, and what HPACK saves.
    Security,
    /// HTTP/2 subscribers sharing connections, N streams on each: what multiplexing saves in
    /// connections, set-up bytes and server cost, and what it does to latency.
    Multiplex,
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
            Kind::KeepAlive => "keep-alive",
            Kind::Network => "network",
            Kind::Bandwidth => "bandwidth",
            Kind::Security => "security",
            Kind::Multiplex => "multiplex",
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
    /// The server's WebSocket ping and SSE heartbeat interval, and the long polls' timeout
    /// (server defaults if absent).
    pub keepalive_interval: Option<Dur>,
    /// The link between client and server (see [`crate::link`]): a profile's name or a table of
    /// its values; loopback if absent.
    pub network: Option<LinkSpec>,
    /// How connections are carried (see [`crate::security`]); plain if absent.
    pub security: Option<Security>,
    /// Subscribers per HTTP/2 connection, each on its own stream (`security = "tls-h2"` only);
    /// one each if absent.
    pub streams_per_connection: Option<u32>,
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
    /// Sweep the link (profiles or tables, see [`crate::link`]).
    pub network: Option<Vec<LinkSpec>>,
    /// Sweep how connections are carried: `plain`, `tls`, `tls-h2` (a transport a value cannot
    /// carry is left out of that point, e.g. WebSocket from `tls-h2`).
    pub security: Option<Vec<Security>>,
    /// Sweep the subscribers per HTTP/2 connection (`security = "tls-h2"`).
    pub streams_per_connection: Option<Vec<u32>>,
}

/// One `[[scenario]]` as written: its own keys, and the same settings as `[defaults]`, side by
/// side in one table (`name = "x"`, `clients = 10`, …).
#[derive(Debug, Clone)]
pub struct ScenarioSpec {
    /// Unique name, used in file names.
    pub name: String,
    /// What it measures.
    pub kind: Kind,
    /// A sentence for the report: the question this scenario answers.
    pub about: Option<String>,
    /// Its settings; each one it leaves out comes from `[defaults]`, else the lab's default.
    pub settings: Settings,
    /// The varied setting.
    pub sweep: Option<Sweep>,
}

/// A scenario's own keys, in the order an unknown key's error lists every key.
const OWN_KEYS: [&str; 4] = ["name", "kind", "about", "sweep"];

/// Every key a `[[scenario]]` may hold: the own keys around the fields of [`Settings`].
const SCENARIO_KEYS: [&str; 18] = [
    "name",
    "kind",
    "about",
    "transports",
    "clients",
    "rate",
    "payload_bytes",
    "poll_interval",
    "publish_rate",
    "duration",
    "warmup",
    "subscriber_queue",
    "repeat",
    "keepalive_interval",
    "network",
    "security",
    "streams_per_connection",
    "sweep",
];

// Not `#[serde(flatten)]`: a flattened struct is read from a buffered copy of the table, so a bad
// value loses its line in the error, and `deny_unknown_fields` no longer lists the keys. Instead
// the table is read once: the own keys are taken out as they come, and every other key goes to
// `Settings`' own (derived, `deny_unknown_fields`) reader, straight from the TOML reader, so
// errors keep their line and key.
impl<'de> Deserialize<'de> for ScenarioSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct("ScenarioSpec", &SCENARIO_KEYS, ScenarioVisitor)
    }
}

struct ScenarioVisitor;

impl<'de> Visitor<'de> for ScenarioVisitor {
    type Value = ScenarioSpec;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a [[scenario]] table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ScenarioSpec, A::Error> {
        let mut own = OwnKeys::default();
        let settings = Settings::deserialize(MapAccessDeserializer::new(SettingsKeys {
            map: &mut map,
            own: &mut own,
        }))?;
        Ok(ScenarioSpec {
            name: own.name.ok_or_else(|| A::Error::missing_field("name"))?,
            kind: own.kind.ok_or_else(|| A::Error::missing_field("kind"))?,
            about: own.about,
            settings,
            sweep: own.sweep,
        })
    }
}

/// The own keys' values, filled in while [`Settings`] reads the rest.
#[derive(Default)]
struct OwnKeys {
    name: Option<String>,
    kind: Option<Kind>,
    about: Option<String>,
    sweep: Option<Sweep>,
}

/// A scenario's table as [`Settings`] sees it: the own keys are read into [`OwnKeys`] and
/// skipped.
struct SettingsKeys<'a, A> {
    map: &'a mut A,
    own: &'a mut OwnKeys,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for SettingsKeys<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let mut seed = Some(seed);
        while let Some(key) = self.map.next_key_seed(ScenarioKeySeed(&mut seed))? {
            match key {
                ScenarioKey::Setting(k) => return Ok(Some(k)),
                ScenarioKey::Own("name") => self.own.name = Some(self.map.next_value()?),
                ScenarioKey::Own("kind") => self.own.kind = Some(self.map.next_value()?),
                ScenarioKey::Own("about") => self.own.about = Some(self.map.next_value()?),
                ScenarioKey::Own("sweep") => self.own.sweep = Some(self.map.next_value()?),
                ScenarioKey::Own(other) => unreachable!("{other} is not in OWN_KEYS"),
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A key of a scenario's table: one of [`OWN_KEYS`], or a setting as `Settings` names it.
enum ScenarioKey<K> {
    Own(&'static str),
    Setting(K),
}

/// Reads one key; a setting's key is handed to `Settings`' key reader (the seed, used once).
struct ScenarioKeySeed<'s, S>(&'s mut Option<S>);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for ScenarioKeySeed<'_, S> {
    type Value = ScenarioKey<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let key = String::deserialize(d)?;
        if let Some(own) = OWN_KEYS.iter().find(|k| **k == key) {
            return Ok(ScenarioKey::Own(own));
        }
        if !SCENARIO_KEYS.contains(&key.as_str()) {
            return Err(D::Error::unknown_field(&key, &SCENARIO_KEYS));
        }
        let seed = self.0.take().expect("a settings key is read once per call");
        seed.deserialize(IntoDeserializer::<D::Error>::into_deserializer(key))
            .map(ScenarioKey::Setting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_keys_are_the_own_keys_around_every_setting() {
        // `Settings`' reader lists its fields when it meets an unknown one: the same list, in the
        // same order, must stand between `about` and `sweep` in SCENARIO_KEYS.
        let err = toml::from_str::<Settings>("nope = 1")
            .unwrap_err()
            .to_string();
        let settings = &SCENARIO_KEYS[3..SCENARIO_KEYS.len() - 1];
        let listed: Vec<String> = settings.iter().map(|k| format!("`{k}`")).collect();
        assert!(
            err.contains(&format!("expected one of {}", listed.join(", "))),
            "{err}"
        );
        assert_eq!(
            [
                &SCENARIO_KEYS[..3],
                &SCENARIO_KEYS[SCENARIO_KEYS.len() - 1..]
            ]
            .concat(),
            OWN_KEYS
        );
    }
}
