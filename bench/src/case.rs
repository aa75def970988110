//! Cases: what one run of the server and client is started with.
//!
//! A scenario of a suite becomes one **case** per transport, and one per swept
//! value too: the payload sweep `[16, 64, 256]` over five transports is fifteen cases, each
//! starting its own fresh server. This file resolves a scenario's settings against the suite's
//! `[defaults]` (and the lab's own defaults below), refuses values the server or client would
//! refuse, and names each case (`payload-p16-ws`) so that its result files can be found again.

use std::time::Duration;

use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

use crate::link::LinkParams;
use crate::scenario::{Dur, Kind, MAX_REPEAT, ScenarioSpec, Settings};
use crate::security::Security;

/// The swept setting of a case and its value, for labels, charts and file names.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "key", content = "value", rename_all = "snake_case")]
pub enum Point {
    /// Number of clients.
    Clients(u64),
    /// Events per second.
    Rate(u64),
    /// Payload bytes.
    PayloadBytes(u64),
    /// Poll interval, in milliseconds.
    PollIntervalMs(f64),
    /// The link between client and server.
    Network(LinkParams),
    /// How connections are carried.
    Security(Security),
    /// Subscribers per HTTP/2 connection.
    StreamsPerConnection(u32),
}

impl Point {
    /// Short label for file names: `c100`, `r1000`, `p16`, `i10ms`, `mobile`, `tls-h2`, `s10`.
    pub fn label(&self) -> String {
        match self {
            Point::Clients(n) => format!("c{n}"),
            Point::Rate(n) => format!("r{n}"),
            Point::PayloadBytes(n) => format!("p{n}"),
            Point::PollIntervalMs(ms) => format!("i{ms}ms"),
            Point::Network(link) => link.label(),
            Point::Security(s) => s.as_str().to_owned(),
            Point::StreamsPerConnection(n) => format!("s{n}"),
        }
    }

    /// The value as a number, for chart axes (a link: its round-trip time in ms; how
    /// connections are carried: its place in [`Security::ALL`]).
    pub fn value(&self) -> f64 {
        match *self {
            Point::Clients(n) | Point::Rate(n) | Point::PayloadBytes(n) => n as f64,
            Point::PollIntervalMs(ms) => ms,
            Point::Network(link) => link.rtt_ms,
            Point::Security(s) => Security::ALL.iter().position(|&x| x == s).unwrap_or(0) as f64,
            Point::StreamsPerConnection(n) => f64::from(n),
        }
    }
}

/// Fully resolved settings of one case: what the server and the client are started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseParams {
    /// Concurrent subscribers.
    pub clients: u64,
    /// Ticker events per second.
    pub rate: u64,
    /// Filler bytes per ticker event.
    pub payload_bytes: u64,
    /// Short-poll interval, in milliseconds.
    pub poll_interval_ms: f64,
    /// Publishes per second per client, if any.
    pub publish_rate: Option<f64>,
    /// Measured window, in seconds.
    pub duration_s: f64,
    /// Warm-up, in seconds.
    pub warmup_s: f64,
    /// Server per-subscriber queue, in events, if set.
    pub subscriber_queue: Option<u64>,
    /// Ping and heartbeat interval of the server, and the long polls' timeout, in
    /// milliseconds, if set (absent from case files written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_interval_ms: Option<f64>,
    /// The link the client imitates (see [`crate::link`]); absent: loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<LinkParams>,
    /// How connections are carried (see [`crate::security`]); absent: in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    /// Subscribers per HTTP/2 connection; absent: one each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams_per_connection: Option<u32>,
}

/// One run: one scenario, one swept value, one transport, one fresh server.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Scenario name.
    pub scenario: String,
    /// Scenario kind.
    pub kind: Kind,
    /// The swept value, if the scenario sweeps.
    pub point: Option<Point>,
    /// The transport.
    pub transport: Transport,
    /// Resolved settings.
    pub params: CaseParams,
    /// How many times the case runs, each with a fresh server (see the `repeat` module).
    pub repeat: u32,
}

impl Case {
    /// Unique id, also the stem of its result files: `payload-p16-ws`, `latency-sse`.
    pub fn id(&self) -> String {
        match &self.point {
            Some(p) => format!("{}-{}-{}", self.scenario, p.label(), self.transport),
            None => format!("{}-{}", self.scenario, self.transport),
        }
    }

    /// Rough wall time of this case, every repetition: warm-up, window, and
    /// start-up/connect/teardown slack, times `repeat`.
    pub fn estimated(&self) -> Duration {
        self.estimated_once() * self.repeat.max(1)
    }

    /// Rough wall time of one repetition. A shaped link adds its round trips: calibration
    /// through two shapers (`rtlab_client::network::calibrate`, 2 × 7), connecting (2) and the
    /// drain after the window (up to 3 transits for a long poll), about 20 in all.
    pub fn estimated_once(&self) -> Duration {
        let connect = self.params.clients as f64 / 5_000.0;
        let link = self.params.network.map_or(0.0, |l| 20.0 * l.rtt_ms / 1e3);
        Duration::from_secs_f64(
            self.params.warmup_s + self.params.duration_s + 0.6 + connect + link,
        )
    }
}

/// Expands one scenario into its cases: swept values × transports.
pub(crate) fn expand(s: &ScenarioSpec, defaults: &Settings) -> Result<Vec<Case>, String> {
    let own = s.settings.clone();
    let def = defaults.clone();
    let repeat = own.repeat.or(def.repeat).unwrap_or(1);
    if !(1..=MAX_REPEAT).contains(&repeat) {
        return Err(format!("`repeat` must be 1 to {MAX_REPEAT}, not {repeat}"));
    }
    let transports = own
        .transports
        .or(def.transports)
        .unwrap_or_else(|| Transport::ALL.to_vec());
    if transports.is_empty() {
        return Err("`transports` is empty".into());
    }
    let base = CaseParams {
        clients: own.clients.or(def.clients).unwrap_or(10),
        rate: own.rate.or(def.rate).unwrap_or(100),
        payload_bytes: own.payload_bytes.or(def.payload_bytes).unwrap_or(64),
        poll_interval_ms: ms(own
            .poll_interval
            .or(def.poll_interval)
            .unwrap_or(Dur(Duration::from_millis(100)))),
        publish_rate: own.publish_rate.or(def.publish_rate),
        duration_s: own
            .duration
            .or(def.duration)
            .unwrap_or(Dur(Duration::from_secs(2)))
            .0
            .as_secs_f64(),
        warmup_s: own
            .warmup
            .or(def.warmup)
            .unwrap_or(Dur(Duration::from_secs(1)))
            .0
            .as_secs_f64(),
        subscriber_queue: own.subscriber_queue.or(def.subscriber_queue),
        keepalive_interval_ms: own.keepalive_interval.or(def.keepalive_interval).map(ms),
        network: own.network.or(def.network).map(|l| l.0),
        security: own.security.or(def.security),
        streams_per_connection: own.streams_per_connection.or(def.streams_per_connection),
    };
    check(&base)?;
    let points: Vec<Option<Point>> = match &s.sweep {
        None => vec![None],
        Some(sw) => {
            let mut found: Vec<Vec<Point>> = Vec::new();
            if let Some(v) = &sw.clients {
                found.push(v.iter().map(|&n| Point::Clients(n)).collect());
            }
            if let Some(v) = &sw.rate {
                found.push(v.iter().map(|&n| Point::Rate(n)).collect());
            }
            if let Some(v) = &sw.payload_bytes {
                found.push(v.iter().map(|&n| Point::PayloadBytes(n)).collect());
            }
            if let Some(v) = &sw.poll_interval {
                found.push(v.iter().map(|&d| Point::PollIntervalMs(ms(d))).collect());
            }
            if let Some(v) = &sw.network {
                found.push(v.iter().map(|l| Point::Network(l.0)).collect());
            }
            if let Some(v) = &sw.security {
                found.push(v.iter().map(|&s| Point::Security(s)).collect());
            }
            if let Some(v) = &sw.streams_per_connection {
                found.push(v.iter().map(|&n| Point::StreamsPerConnection(n)).collect());
            }
            match found.len() {
                1 if !found[0].is_empty() => found.remove(0).into_iter().map(Some).collect(),
                1 => return Err("the sweep has no values".into()),
                0 => return Err("`sweep` names no setting".into()),
                _ => return Err("`sweep` may vary one setting only".into()),
            }
        }
    };
    let mut cases = Vec::new();
    for point in points {
        let mut params = base.clone();
        match point {
            Some(Point::Clients(n)) => params.clients = n,
            Some(Point::Rate(n)) => params.rate = n,
            Some(Point::PayloadBytes(n)) => params.payload_bytes = n,
            Some(Point::PollIntervalMs(v)) => params.poll_interval_ms = v,
            Some(Point::Network(l)) => params.network = Some(l),
            Some(Point::Security(s)) => params.security = Some(s),
            Some(Point::StreamsPerConnection(n)) => params.streams_per_connection = Some(n),
            None => {}
        }
        check(&params)?;
        let security = params.security.unwrap_or(Security::Plain);
        let carried: Vec<Transport> = transports
            .iter()
            .copied()
            .filter(|&t| security.carries(t))
            .collect();
        if carried.is_empty() {
            return Err(format!(
                "`security = \"{security}\"` carries none of the scenario's transports \
                 (HTTP/2 carries sse, long-poll and short-poll)"
            ));
        }
        for transport in carried {
            cases.push(Case {
                scenario: s.name.clone(),
                kind: s.kind,
                point,
                transport,
                params: params.clone(),
                repeat,
            });
        }
    }
    Ok(cases)
}

fn ms(d: Dur) -> f64 {
    d.0.as_secs_f64() * 1e3
}

/// Values the server or client would refuse, caught before anything starts.
fn check(p: &CaseParams) -> Result<(), String> {
    if p.clients == 0 {
        return Err("`clients` must be at least 1".into());
    }
    if p.duration_s <= 0.0 {
        return Err("`duration` must be positive".into());
    }
    if p.poll_interval_ms <= 0.0 {
        return Err("`poll_interval` must be positive".into());
    }
    // The server takes ping and heartbeat intervals from 1 ms to a day, and long polls wait
    // at most a minute.
    let longest = rtlab_wire::defaults::LONG_POLL_TIMEOUT_MAX_MS as f64;
    if p.keepalive_interval_ms
        .is_some_and(|k| !(1.0..=longest).contains(&k))
    {
        return Err("`keepalive_interval` must be from 1ms to 60s".into());
    }
    if p.publish_rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err("`publish_rate` must be a positive number".into());
    }
    match p.streams_per_connection {
        Some(0) => return Err("`streams_per_connection` must be at least 1".into()),
        // Only HTTP/2 puts several requests on one connection at once.
        Some(n) if n > 1 && p.security != Some(Security::TlsH2) => {
            return Err(
                "`streams_per_connection` above 1 needs `security = \"tls-h2\"` (only HTTP/2 \
                 multiplexes)"
                    .into(),
            );
        }
        _ => {}
    }
    Ok(())
}
