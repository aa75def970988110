//! What to run: [`RunConfig`], the one input of [`run`](crate::run).
//!
//! The command line (`cli.rs`) and the lab runner (`rtlab-bench`) both build a `RunConfig`; the
//! engine only ever sees this struct. It is plain data with public, documented fields and a
//! [`RunConfig::new`] with the defaults of the command line, so code can write
//! `RunConfig { clients: 100, ..RunConfig::new(Transport::Ws, "http://127.0.0.1:8080") }`.
//!
//! [`Target`] (`config/target.rs`) is the parsed, checked form of a URL, plain or TLS; here the
//! run's TLS settings ([`TlsTrust`], [`HttpVersion`], streams per connection) are checked
//! against it and turned into the run's TLS connectors.

use std::time::Duration;

use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

use crate::RunError;
use crate::network::Network;
use crate::tls::{ALPN_H2, ALPN_HTTP1, TlsConnector, TlsTrust};

mod target;
pub use target::Target;

/// The HTTP version the subscribers speak (`--http`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum HttpVersion {
    /// HTTP/1.1: one request at a time per connection, heads in plain text.
    #[default]
    #[value(name = "1.1")]
    #[serde(rename = "1.1")]
    Http1,
    /// HTTP/2 over TLS (ALPN `h2`): binary frames, HPACK-compressed heads, many streams on one
    /// connection. For sse and the polls.
    #[value(name = "2")]
    #[serde(rename = "2")]
    Http2,
}

impl HttpVersion {
    /// How the report and the table name it: `1.1` or `2`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http1 => "1.1",
            HttpVersion::Http2 => "2",
        }
    }
}

/// One load run: which transport, against which server, how hard and how long. Serializable,
/// because a sharded run hands it to each shard process as JSON (see [`crate::shards`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The transport every subscriber uses.
    pub transport: Transport,
    /// The server's base URL: `http://HOST:PORT` (an optional path prefix is kept) for the web
    /// transports, `tcp://HOST:PORT` for the raw-TCP baseline; over TLS `https://HOST:PORT`
    /// (`wss://` too for ws) and `tls://HOST:PORT` for tcp.
    pub url: String,
    /// Base URL of the server's HTTP side, for `GET /stats` and `POST /publish`. `None` means
    /// [`url`](Self::url) for the HTTP transports; for `tcp` it means "no HTTP side": the events
    /// published in the window are then taken from the seq range seen, and publishing is not
    /// possible.
    pub control_url: Option<String>,
    /// Concurrent subscribers to open (at least 1).
    pub clients: u64,
    /// Length of the measured window.
    pub duration: Duration,
    /// Time between the last connection being opened and the measured window: lets the server's
    /// caches, the kernel's buffers and the subscribers' positions settle. Not measured.
    pub warmup: Duration,
    /// Short polling: time between two requests of one subscriber.
    pub poll_interval: Duration,
    /// Long polling: the `timeout_ms` asked of the server for each parked request.
    pub long_poll_timeout: Duration,
    /// Publishes per second *per subscriber* (`None`: subscribers only listen). Over the
    /// subscriber's own WebSocket for `ws`, via `POST /publish` otherwise; the round trip of
    /// each publish back to its sender is measured from its scheduled send time.
    pub publish_rate: Option<f64>,
    /// New connections opened per second while ramping up, so that a ramp of thousands of
    /// subscribers is not mistaken for (or turned into) a server failure.
    pub connect_rate: f64,
    /// Longest a subscriber may take to connect and set up before it counts as failed.
    pub connect_timeout: Duration,
    /// Show a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// Seed of the run's random choices: the short-poll start phases (see
    /// [`crate::poll_phase`]) and the shaped network's jitter (see [`crate::network`]). `None`
    /// draws a fresh one; either way the report records the seed used, so a run's choices can
    /// be repeated.
    pub seed: Option<u64>,
    /// The network to imitate between client and server (see [`crate::network`]): every
    /// connection opened for the measurement goes through a shaper, `/stats` does not. `None`
    /// (or the `loopback` profile) connects straight.
    pub network: Option<Network>,
    /// Subscribers (ids `0 .. stalled`, ws or sse) that stop reading after their first event
    /// and keep their socket open for the rest of the run, to see how the server cuts them
    /// (see `subscriber/stalled.rs`). They are out of every other figure. 0: none.
    #[serde(default)]
    pub stalled: u64,
    /// Churn instead of a steady run: `clients` subscribers loop connect → first event →
    /// disconnect until this many cycles in all (see `churn.rs`); `duration` bounds the churn's
    /// time. `None`: an ordinary run.
    #[serde(default)]
    pub churn: Option<u64>,
    /// Which certificates a TLS URL accepts (`--ca`, `--insecure`); unused without TLS.
    #[serde(default)]
    pub tls: TlsTrust,
    /// HTTP/1.1 or HTTP/2 (over TLS, for sse and the polls).
    #[serde(default)]
    pub http: HttpVersion,
    /// HTTP/2: subscribers sharing one connection, each its own stream (1: a connection each).
    #[serde(default = "one")]
    pub streams_per_connection: u32,
    /// A subscriber whose connection drops reconnects, with backoff, and resumes after the last
    /// seq it saw (see `subscriber/reconnect.rs`), giving up after this long without success;
    /// `None` (`--no-reconnect`): a dropped subscriber is lost at once. Churn cycles and
    /// stalled subscribers never reconnect.
    #[serde(default = "default_reconnect_give_up")]
    pub reconnect_give_up: Option<Duration>,
    /// Further servers of the same feed (the nodes of a cluster), beside `url`: a sharded run's
    /// shard *k* dials the *k*-th of `url` and these, round robin (`--spread-url`), so no one
    /// server holds every connection. Unused by an unsharded run.
    #[serde(default)]
    pub spread_urls: Vec<String>,
}

fn one() -> u32 {
    1
}

/// How long a dropped subscriber keeps trying to reconnect by default.
pub const RECONNECT_GIVE_UP: Duration = Duration::from_secs(10);

fn default_reconnect_give_up() -> Option<Duration> {
    Some(RECONNECT_GIVE_UP)
}

impl RunConfig {
    /// A configuration with the command line's defaults: 1 client, 10 s measured after 2 s of
    /// warm-up, 100 ms short-poll interval, 25 s long-poll timeout, no publishing, 500
    /// connections/s, 5 s connect timeout, no progress bar, a fresh seed, no shaped network,
    /// reconnecting after a drop for up to 10 s.
    pub fn new(transport: Transport, url: impl Into<String>) -> Self {
        Self {
            transport,
            url: url.into(),
            control_url: None,
            clients: 1,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            poll_interval: Duration::from_millis(100),
            long_poll_timeout: Duration::from_millis(rtlab_wire::defaults::LONG_POLL_TIMEOUT_MS),
            publish_rate: None,
            connect_rate: 500.0,
            connect_timeout: Duration::from_secs(5),
            progress: false,
            seed: None,
            network: None,
            stalled: 0,
            churn: None,
            tls: TlsTrust::default(),
            http: HttpVersion::Http1,
            streams_per_connection: 1,
            reconnect_give_up: default_reconnect_give_up(),
            spread_urls: Vec::new(),
        }
    }

    /// Checks the values that no type rules out (zero clients, a zero window, bad URLs).
    pub fn validate(&self) -> Result<(), RunError> {
        let bad = |m: String| Err(RunError::Config(m));
        if self.clients == 0 {
            return bad("--clients must be at least 1".into());
        }
        if self.duration.is_zero() {
            return bad("--duration must be longer than 0".into());
        }
        if !(self.connect_rate.is_finite() && self.connect_rate > 0.0) {
            return bad("--connect-rate must be a positive number per second".into());
        }
        if self.transport == Transport::ShortPoll && self.poll_interval.is_zero() {
            return bad("--poll-interval must be longer than 0".into());
        }
        if self.long_poll_timeout.as_millis()
            > u128::from(rtlab_wire::defaults::LONG_POLL_TIMEOUT_MAX_MS)
        {
            return bad("the long-poll timeout may not exceed 60 s (the contract's limit)".into());
        }
        if let Some(rate) = self.publish_rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return bad("--publish-rate must be a positive number per second".into());
        }
        if self.stalled > 0 {
            if !matches!(self.transport, Transport::Ws | Transport::Sse) {
                return bad(
                    "--stalled applies to ws and sse (streams a client can stop reading)".into(),
                );
            }
            if self.stalled >= self.clients {
                return bad(
                    "--stalled must leave at least one healthy subscriber (fewer than --clients)"
                        .into(),
                );
            }
        }
        if let Some(cycles) = self.churn {
            if cycles == 0 {
                return bad("--churn must be at least 1 cycle".into());
            }
            if self.stalled > 0 || self.publish_rate.is_some() {
                return bad("--churn runs alone: without --stalled or --publish-rate".into());
            }
        }
        let target = Target::parse(&self.url, self.transport)?;
        let control = self.control_target()?;
        self.validate_tls(&target, control.as_ref())?;
        if self.publish_rate.is_some() && control.is_none() {
            return bad(
                "--publish-rate with tcp needs --control-url (the server's HTTP side)".into(),
            );
        }
        Ok(())
    }

    /// The TLS, HTTP/2 and stream flags agree with the URLs and the transport.
    fn validate_tls(&self, target: &Target, control: Option<&Target>) -> Result<(), RunError> {
        let bad = |m: &str| Err(RunError::Config(m.into()));
        let any_tls = target.tls || control.is_some_and(|c| c.tls);
        if any_tls && !self.tls.is_set() {
            return bad(
                "a TLS URL needs --ca FILE (the server's root certificate, PEM) or --insecure",
            );
        }
        if self.tls.is_set() && !any_tls {
            return bad("--ca and --insecure need a TLS URL (https://, wss:// or tls://)");
        }
        if self.tls.ca.is_some() && self.tls.insecure {
            return bad("--ca and --insecure exclude each other");
        }
        if self.http == HttpVersion::Http2 {
            if matches!(self.transport, Transport::Ws | Transport::Tcp) {
                return bad(
                    "--http 2 is for sse and the polls (WebSocket and tcp stay on their own connection)",
                );
            }
            if !target.tls {
                return bad("--http 2 needs TLS (ALPN h2): give an https:// URL");
            }
        }
        if self.streams_per_connection == 0 {
            return bad("--streams-per-connection must be at least 1");
        }
        if self.streams_per_connection > 1 && self.http != HttpVersion::Http2 {
            return bad("--streams-per-connection above 1 needs --http 2");
        }
        if self.stalled > 0 && self.http == HttpVersion::Http2 {
            // HTTP/2 flow control stalls a stream, not the socket the server would see stop.
            return bad("--stalled needs --http 1.1 (a stalled HTTP/2 stream is flow control)");
        }
        if self.churn.is_some() && self.streams_per_connection > 1 {
            return bad("--churn opens a connection per cycle: without --streams-per-connection");
        }
        Ok(())
    }

    /// The TLS connectors of a run: to `target` (ALPN `h2` for HTTP/2, `http/1.1` for the web
    /// transports, none for tcp) and to the HTTP side `control` (HTTP/1.1), each `None` when
    /// its URL is not a TLS one.
    pub fn tls_connectors(
        &self,
        target: &Target,
        control: Option<&Target>,
    ) -> Result<(Option<TlsConnector>, Option<TlsConnector>), RunError> {
        let alpn: &[&[u8]] = match (self.transport, self.http) {
            (Transport::Tcp, _) => &[],
            (_, HttpVersion::Http2) => &[ALPN_H2],
            (_, HttpVersion::Http1) => &[ALPN_HTTP1],
        };
        let main = match target.tls {
            true => Some(TlsConnector::new(&self.tls, &target.host, alpn)?),
            false => None,
        };
        let control = match control {
            Some(c) if c.tls => Some(TlsConnector::new(&self.tls, &c.host, &[ALPN_HTTP1])?),
            _ => None,
        };
        Ok((main, control))
    }

    /// The HTTP side of the server, for `/stats` and `/publish`, if there is one.
    pub fn control_target(&self) -> Result<Option<Target>, RunError> {
        match (&self.control_url, self.transport) {
            (Some(url), _) => Target::parse_http(url).map(Some),
            (None, Transport::Tcp) => Ok(None),
            // A ws:// or wss:// base URL names the same HTTP side, plain or over TLS.
            (None, Transport::Ws) => Target::parse(&self.url, Transport::Ws).map(Some),
            (None, _) => Target::parse_http(&self.url).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_and_http2_flags_must_agree_with_the_urls() {
        let insecure = TlsTrust {
            ca: None,
            insecure: true,
        };
        let check = |c: RunConfig| c.validate().map_err(|e| e.to_string());
        let https = |t| RunConfig {
            tls: insecure.clone(),
            ..RunConfig::new(t, "https://127.0.0.1:1")
        };
        assert!(check(https(Transport::Sse)).is_ok());
        let no_trust = check(RunConfig::new(Transport::Sse, "https://127.0.0.1:1")).unwrap_err();
        assert!(no_trust.contains("--ca FILE") && no_trust.contains("--insecure"));
        let needless = check(RunConfig {
            tls: insecure.clone(),
            ..RunConfig::new(Transport::Sse, "http://127.0.0.1:1")
        })
        .unwrap_err();
        assert!(needless.contains("need a TLS URL"), "{needless}");
        let h2 = |t| RunConfig {
            http: HttpVersion::Http2,
            ..https(t)
        };
        for t in [Transport::Sse, Transport::LongPoll, Transport::ShortPoll] {
            assert!(check(h2(t)).is_ok(), "{t}");
        }
        assert!(
            check(h2(Transport::Ws))
                .unwrap_err()
                .contains("--http 2 is for sse")
        );
        let plain_h2 = RunConfig {
            http: HttpVersion::Http2,
            ..RunConfig::new(Transport::Sse, "http://127.0.0.1:1")
        };
        assert!(check(plain_h2).unwrap_err().contains("needs TLS"));
        let streams = |http| RunConfig {
            streams_per_connection: 10,
            http,
            ..https(Transport::Sse)
        };
        assert!(check(streams(HttpVersion::Http2)).is_ok());
        assert!(
            check(streams(HttpVersion::Http1))
                .unwrap_err()
                .contains("needs --http 2")
        );
        let tcp = RunConfig {
            tls: insecure.clone(),
            ..RunConfig::new(Transport::Tcp, "tls://127.0.0.1:1")
        };
        assert!(check(tcp).is_ok());
        let stalled_h2 = RunConfig {
            clients: 4,
            stalled: 1,
            ..h2(Transport::Sse)
        };
        assert!(check(stalled_h2).unwrap_err().contains("--stalled"));
        let churn_shared = RunConfig {
            churn: Some(10),
            ..streams(HttpVersion::Http2)
        };
        assert!(check(churn_shared).unwrap_err().contains("--churn"));
    }

    #[test]
    fn validation_rejects_what_types_allow() {
        let ok = RunConfig::new(Transport::Ws, "http://127.0.0.1:1");
        assert!(ok.validate().is_ok());
        assert!(
            RunConfig {
                clients: 0,
                ..ok.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            RunConfig {
                duration: Duration::ZERO,
                ..ok.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            RunConfig {
                connect_rate: 0.0,
                ..ok.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            RunConfig {
                publish_rate: Some(-1.0),
                ..ok.clone()
            }
            .validate()
            .is_err()
        );
        let tcp = RunConfig::new(Transport::Tcp, "tcp://127.0.0.1:1");
        assert!(tcp.validate().is_ok());
        assert!(
            RunConfig {
                publish_rate: Some(1.0),
                ..tcp.clone()
            }
            .validate()
            .is_err()
        );
        let with_control = RunConfig {
            publish_rate: Some(1.0),
            control_url: Some("http://127.0.0.1:2".into()),
            ..tcp
        };
        assert!(with_control.validate().is_ok());
    }
}
