//! The server's settings: one [`Config`], parsed from the command line or built in code.
//!
//! Every knob the lab turns is here, with its unit and default in the `--help` text. The same
//! struct is what tests and the lab runner build directly (`Config::default()` or
//! `Config::parse_from([...])`), so there is exactly one place that knows the defaults.
//!
//! Durations use humantime (`500ms`, `10s`, `1m`) so nobody has to guess the unit. Values that
//! would make the server panic or misbehave (a zero ping interval, a zero-sized queue) are
//! refused by [`Config::validate`], which [`crate::spawn`] calls before binding anything.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use rtlab_wire::defaults;

use crate::origin_policy::{AllowOrigin, parse_allow_origin};

pub use rtlab_wire::usage::one_line_error;

/// Default ticker rate, in events per second.
pub const DEFAULT_RATE: f64 = 10.0;
/// Default size of a ticker event's `data`, in bytes.
pub const DEFAULT_PAYLOAD_BYTES: usize = 64;
/// Default cap on the events one poll answer carries.
pub const DEFAULT_BATCH_MAX: usize = 1_000;
/// Default interval between WebSocket pings.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(10);
/// Default idle time after which an SSE stream gets a `:` comment heartbeat.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);
/// Default JetStream stream of the feed in cluster mode (`--broker-stream`).
pub const DEFAULT_BROKER_STREAM: &str = "rtlab";
/// Default per-subscriber queue, in events.
pub const DEFAULT_SUBSCRIBER_QUEUE: usize = 1_024;
/// Default cap on open streaming connections (WebSocket, SSE, TCP, echo).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default interval between two hand-backs of the allocator's free memory to the OS.
pub const DEFAULT_HEAP_RELEASE_INTERVAL: Duration = Duration::from_secs(10);
/// Longest ping or heartbeat interval accepted: beyond a day the keep-alive is pointless, and
/// absurd values (`1000years`) would overflow timer arithmetic.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// rtlab-server: one live feed over WebSocket, SSE, long polling, short polling and raw TCP.
///
/// On start it prints one line to stdout, `listening http=ADDR tcp=ADDR`, once both listeners are
/// bound (use port 0 to let the OS pick); with `--tls-cert`/`--tls-key` it serves HTTPS and WSS
/// instead and the line ends with `scheme=https` (and `tcp-tls=ADDR` with `--tcp-tls-addr`). Logs go to stderr; set `RUST_LOG` (e.g. `debug`) to see
/// more. SIGINT or SIGTERM shut it down gracefully. The line always ends with `mode=embedded` or
/// `mode=cluster` and `node=NAME`.
///
/// Every HTTP response of the feed carries `Rtlab-Epoch: N`, the feed's identity (ns since the
/// Unix epoch of its birth): the server's start without `--broker`, the broker stream's creation
/// with it, so it changes on a restart only when the history was lost.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(name = "rtlab-server", version, about, long_about)]
pub struct Config {
    /// HTTP listen address (WebSocket, SSE, polling, publish, stats, page); HTTPS with
    /// `--tls-cert`. Port 0 picks a free port.
    #[arg(long, default_value = defaults::HTTP_ADDR)]
    pub addr: SocketAddr,

    /// Raw-TCP baseline listen address: every event as its JSON plus `\n`. Port 0 picks a free port.
    #[arg(long, default_value = defaults::TCP_ADDR)]
    pub tcp_addr: SocketAddr,

    /// Ticker rate in events per second (fractions allowed, e.g. 0.5); 0 disables the ticker, so
    /// only `/publish` and WebSocket clients create events.
    #[arg(long, default_value_t = DEFAULT_RATE, value_parser = parse_rate)]
    pub rate: f64,

    /// Size of a ticker event's `data` field, in bytes of ASCII filler.
    #[arg(long, default_value_t = DEFAULT_PAYLOAD_BYTES)]
    pub payload_bytes: usize,

    /// Events kept in the history ring for resumption (`?after=`, `Last-Event-ID`) and polling; in
    /// cluster mode also the message limit of the broker stream this node creates.
    #[arg(long, default_value_t = defaults::HISTORY, value_parser = parse_at_least_one)]
    pub history: usize,

    /// Most events one poll answer (long or short) carries, oldest first; poll again with the
    /// last seq to get the rest.
    #[arg(long, default_value_t = DEFAULT_BATCH_MAX, value_parser = parse_at_least_one)]
    pub batch_max: usize,

    /// Interval between WebSocket pings (humantime: 500ms, 10s, 1m). A peer silent for two
    /// intervals is closed.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration)]
    pub ping_interval: Duration,

    /// Idle time after which an SSE stream gets a `:` comment heartbeat (humantime).
    #[arg(long, default_value = "15s", value_parser = parse_positive_duration)]
    pub heartbeat_interval: Duration,

    /// Per-subscriber queue in events (WebSocket, SSE, TCP). A subscriber that falls this far
    /// behind is disconnected as lagging (WebSocket close 1008 "lagging").
    #[arg(long, default_value_t = DEFAULT_SUBSCRIBER_QUEUE, value_parser = parse_at_least_one)]
    pub subscriber_queue: usize,

    /// Cap on open streaming connections (WebSocket, SSE, TCP, echo); above it: HTTP 503, or the
    /// TCP connection is closed at once.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Largest `POST /publish` body or WebSocket text message, in bytes; above it: 413 (HTTP) or
    /// close 1009 (WebSocket).
    #[arg(long, default_value_t = defaults::MAX_PUBLISH_BYTES)]
    pub max_publish_bytes: usize,

    /// Interval between two hand-backs of the allocator's free memory to the OS (humantime;
    /// `0s`: never). glibc keeps the pages a burst of connections freed, so RSS stays up after
    /// they are gone; each release (`malloc_trim`) returns them, as jemalloc's decay would. Its
    /// count and cost are in `/stats` `heap`.
    #[arg(long, default_value = "10s", value_parser = parse_interval_or_zero)]
    pub heap_release_interval: Duration,

    /// HTTP worker threads; 0 = one per CPU core.
    #[arg(long, default_value_t = 0)]
    pub workers: usize,

    /// A browser origin allowed besides the server's own, e.g. `http://localhost:3000`
    /// (repeatable). Requests without `Origin` (curl, native clients) and from the server's own
    /// origin are always served; any other origin gets 403. `*` allows every origin, which lets
    /// any web page the user visits read and publish into the feed (logged as a warning).
    #[arg(long = "allow-origin", value_name = "URL", value_parser = parse_allow_origin)]
    pub allow_origins: Vec<AllowOrigin>,

    /// PEM certificate chain (leaf first) for TLS on `--addr`: HTTPS and WSS, with HTTP/2 offered
    /// by ALPN beside HTTP/1.1 (WebSocket stays HTTP/1.1). Needs `--tls-key`. Make a self-signed
    /// pair for 127.0.0.1/localhost with `scripts/make-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`. Needs `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Cluster mode: the NATS server (JetStream enabled) whose stream carries the feed, e.g.
    /// `nats://127.0.0.1:4222`. Every event (ticker, `/publish`, WebSocket text frames) goes
    /// through the stream, whose sequence is the event's seq, and every node serves the whole
    /// feed: any node answers `?after=N` and `Last-Event-ID`. The broker must answer at start;
    /// while it is away later, feed requests get 503 `{"error":"broker unavailable"}`. Without
    /// this flag the feed lives in this process alone (embedded mode).
    #[arg(long, value_name = "URL", value_parser = parse_broker_url)]
    pub broker: Option<String>,

    /// The JetStream stream that carries the feed in cluster mode (created if missing, with
    /// `--history` as its message limit, on the subject `NAME.feed`). Nodes of one cluster give
    /// the same name.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_BROKER_STREAM,
          value_parser = parse_stream_name)]
    pub broker_stream: String,

    /// This server's name in `/stats` and on its `listening` line; defaults to the bound HTTP
    /// address (e.g. `127.0.0.1:8080`, or the port the OS picked for port 0).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,

    /// Also serve the raw-TCP baseline over TLS on this address (same certificate, no ALPN), so the
    /// floor pays the TLS cost too. Needs `--tls-cert` and `--tls-key`. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR", requires = "tls_cert")]
    pub tcp_tls_addr: Option<SocketAddr>,
}

impl Default for Config {
    /// The documented defaults, the same as running the binary without flags.
    fn default() -> Self {
        Self {
            addr: parse_default_addr(defaults::HTTP_ADDR, 8080),
            tcp_addr: parse_default_addr(defaults::TCP_ADDR, 8081),
            rate: DEFAULT_RATE,
            payload_bytes: DEFAULT_PAYLOAD_BYTES,
            history: defaults::HISTORY,
            batch_max: DEFAULT_BATCH_MAX,
            ping_interval: DEFAULT_PING_INTERVAL,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            heap_release_interval: DEFAULT_HEAP_RELEASE_INTERVAL,
            subscriber_queue: DEFAULT_SUBSCRIBER_QUEUE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_publish_bytes: defaults::MAX_PUBLISH_BYTES,
            workers: 0,
            allow_origins: Vec::new(),
            tls_cert: None,
            tls_key: None,
            tcp_tls_addr: None,
            broker: None,
            broker_stream: DEFAULT_BROKER_STREAM.to_owned(),
            node: None,
        }
    }
}

impl Config {
    /// The defaults, but both listeners on `127.0.0.1:0` (free ports): what tests want.
    pub fn ephemeral() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            addr: any,
            tcp_addr: any,
            ..Self::default()
        }
    }

    /// Checks what the type system cannot: values that would make the server panic or never
    /// deliver anything. Clap's parsers already enforce this for the command line; this catches
    /// configs built in code.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return Err(format!("rate must be >= 0 events/s, got {}", self.rate));
        }
        for (name, value) in [
            ("history", self.history),
            ("batch-max", self.batch_max),
            ("subscriber-queue", self.subscriber_queue),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        for (name, value) in [
            ("ping-interval", self.ping_interval),
            ("heartbeat-interval", self.heartbeat_interval),
        ] {
            if value.is_zero() || value > MAX_INTERVAL {
                return Err(format!("{name} must be greater than zero and at most 24h"));
            }
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => return Err("--tls-cert needs --tls-key".into()),
            (None, Some(_)) => return Err("--tls-key needs --tls-cert".into()),
            _ => {}
        }
        if self.tcp_tls_addr.is_some() && self.tls_cert.is_none() {
            return Err("--tcp-tls-addr needs --tls-cert and --tls-key".into());
        }
        Ok(())
    }

    /// This node's name: `--node`, or the HTTP listen address `addr` (the bound one, so that
    /// port 0 gives a name that tells nodes apart).
    pub fn node_name(&self, addr: SocketAddr) -> String {
        self.node.clone().unwrap_or_else(|| addr.to_string())
    }

    /// Whether `--addr` serves HTTPS and WSS (a certificate pair was given).
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some()
    }
}

fn parse_default_addr(text: &str, port: u16) -> SocketAddr {
    // The defaults are literals that always parse; the fallback only keeps this panic-free.
    text.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Parses `--broker`: a `nats://HOST:PORT` URL (the scheme is required, so a typo such as
/// `http://` is caught here rather than as a connection failure).
fn parse_broker_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("nats://")
        .ok_or_else(|| format!("{text:?} is not a nats://HOST:PORT URL"))?;
    if rest.is_empty() || rest.contains('/') {
        return Err(format!("{text:?} is not a nats://HOST:PORT URL"));
    }
    Ok(text.to_owned())
}

/// Parses `--broker-stream`: a JetStream stream name (letters, digits, `-` and `_`; it is also
/// the first token of the subject).
fn parse_stream_name(text: &str) -> Result<String, String> {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?}: a stream name is letters, digits, '-' and '_'"
        ))
    }
}

/// Parses a count that must be at least 1 (a zero-sized queue or history cannot work).
fn parse_at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{text:?}: {e}")),
    }
}

/// Parses a rate in events per second: a finite, non-negative number.
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of events per second"))?;
    if rate.is_finite() && rate >= 0.0 {
        Ok(rate)
    } else {
        Err(format!("rate must be >= 0 events/s, got {text}"))
    }
}

/// Parses a humantime duration that is not zero (a zero interval would spin or panic).
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_interval_or_zero(text)? {
        d if d.is_zero() => Err("must be greater than zero".into()),
        d => Ok(d),
    }
}

/// Parses a humantime duration of at most a day, where zero means "never".
fn parse_interval_or_zero(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e}"))?;
    if d > MAX_INTERVAL {
        Err("must be at most 24h".into())
    } else {
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_parsing_no_flags() {
        let parsed = Config::parse_from(["rtlab-server"]);
        assert_eq!(parsed, Config::default());
        assert!(parsed.validate().is_ok());
        assert_eq!(parsed.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(parsed.history, 10_000);
    }

    #[test]
    fn flags_parse_with_units() {
        let c = Config::try_parse_from([
            "rtlab-server",
            "--addr",
            "127.0.0.1:0",
            "--rate",
            "0.5",
            "--ping-interval",
            "250ms",
            "--heartbeat-interval",
            "1m",
            "--subscriber-queue",
            "4",
            "--heap-release-interval",
            "0s",
        ])
        .unwrap();
        assert_eq!(c.addr.port(), 0);
        assert_eq!(c.heap_release_interval, Duration::ZERO);
        assert_eq!(c.rate, 0.5);
        assert_eq!(c.ping_interval, Duration::from_millis(250));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(60));
        assert_eq!(c.subscriber_queue, 4);
    }

    #[test]
    fn allow_origin_repeats_and_refuses_non_origins() {
        let c = Config::try_parse_from([
            "rtlab-server",
            "--allow-origin",
            "http://localhost:3000",
            "--allow-origin",
            "*",
        ])
        .unwrap();
        assert_eq!(c.allow_origins.len(), 2);
        assert_eq!(c.allow_origins[1], AllowOrigin::Any);
        for bad in ["localhost:3000", "null", "http://localhost:3000/app"] {
            let argv = ["rtlab-server", "--allow-origin", bad];
            assert!(Config::try_parse_from(argv).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn nonsense_is_refused() {
        for args in [
            ["--rate", "-1"],
            ["--rate", "abc"],
            ["--ping-interval", "0s"],
            ["--ping-interval", "5"],
            ["--heartbeat-interval", "1000years"],
            ["--subscriber-queue", "0"],
            ["--history", "0"],
        ] {
            let argv = ["rtlab-server", args[0], args[1]];
            assert!(Config::try_parse_from(argv).is_err(), "{args:?} accepted");
        }
    }

    #[test]
    fn broker_flags_parse_and_refuse_non_nats_urls() {
        let c = Config::try_parse_from([
            "rtlab-server",
            "--broker",
            "nats://127.0.0.1:4222",
            "--broker-stream",
            "feed_2",
            "--node",
            "a",
        ])
        .unwrap();
        assert_eq!(c.broker.as_deref(), Some("nats://127.0.0.1:4222"));
        assert_eq!(c.broker_stream, "feed_2");
        assert_eq!(c.node_name(c.addr), "a");
        let d = Config::default();
        assert_eq!(d.broker_stream, "rtlab");
        assert_eq!(d.node_name(d.addr), "127.0.0.1:8080");
        for args in [
            ["--broker", "http://127.0.0.1:4222"],
            ["--broker", "nats://"],
            ["--broker", "127.0.0.1:4222"],
            ["--broker-stream", "a.b"],
            ["--broker-stream", ""],
        ] {
            let argv = ["rtlab-server", args[0], args[1]];
            assert!(Config::try_parse_from(argv).is_err(), "{args:?} accepted");
        }
    }

    #[test]
    fn tls_flags_come_in_pairs() {
        let ok = Config::try_parse_from([
            "rtlab-server",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--tcp-tls-addr",
            "127.0.0.1:0",
        ])
        .unwrap();
        assert!(ok.tls());
        assert!(ok.validate().is_ok());
        assert!(!Config::default().tls());
        for args in [
            &["--tls-cert", "c.pem"][..],
            &["--tls-key", "k.pem"],
            &["--tcp-tls-addr", "127.0.0.1:0"],
            &["--tcp-tls-addr", "127.0.0.1:0", "--tls-key", "k.pem"],
        ] {
            let argv = std::iter::once("rtlab-server").chain(args.iter().copied());
            let err = Config::try_parse_from(argv).expect_err("accepted");
            let line = one_line_error(&err);
            assert!(
                !line.contains('\n') && line.contains("--tls-"),
                "{args:?}: {line}"
            );
        }
        let c = Config {
            tls_cert: Some("c.pem".into()),
            ..Config::ephemeral()
        };
        assert!(c.validate().is_err());
        let c = Config {
            tcp_tls_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..Config::ephemeral()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn validate_catches_configs_built_in_code() {
        let mut c = Config::ephemeral();
        assert!(c.validate().is_ok());
        c.subscriber_queue = 0;
        assert!(c.validate().is_err());
        let c = Config {
            ping_interval: Duration::ZERO,
            ..Config::ephemeral()
        };
        assert!(c.validate().is_err());
        let c = Config {
            rate: f64::NAN,
            ..Config::ephemeral()
        };
        assert!(c.validate().is_err());
    }
}
