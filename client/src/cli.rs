//! The command line of `rtlab-client`, with clap's derive API: each flag's `///` comment is its
//! `--help` text, each unit-bearing value has a parser with unit tests, and the whole thing turns
//! into one [`RunConfig`] (or the `trace` subcommand).
//!
//! Values read the way people write them: durations as `10s`, `100ms`, `1m30s` (humantime) or a
//! bare number of seconds; rates as `500/s`, `30/min` or a bare number per second.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use rtlab_wire::Transport;

use crate::RunConfig;
use crate::config::HttpVersion;
use crate::network::NetworkArgs;
use crate::tls::TlsTrust;
use crate::trace::TraceArgs;

pub use rtlab_wire::usage::one_line_error;

/// Load generator for real-time web transports: opens N subscribers of one transport against a
/// server speaking the rtlab wire contract, and reports latency percentiles, throughput, loss
/// and the bytes each event really cost on the wire.
#[derive(Debug, Parser)]
#[command(
    name = "rtlab-client",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  rtlab-client --transport ws --clients 100 --duration 10s\n  rtlab-client -t short-poll --poll-interval 250ms --json out.json --hgrm out.hgrm\n  rtlab-client -t tcp --url tcp://127.0.0.1:8081 --control-url http://127.0.0.1:8080\n  rtlab-client trace ws --url http://127.0.0.1:8080\n  rtlab-client -t long-poll --network mobile\n  rtlab-client -t ws --rtt 100ms --jitter 10ms --bandwidth 2mbit\n  rtlab-client -t ws --url wss://127.0.0.1:8443 --insecure\n  rtlab-client -t short-poll --url https://127.0.0.1:8443 --ca cert.pem --http 2\n\nWith a shaped network, /stats goes straight (its reads mark the window); give --warmup a few\nround trips on slow links.\n\nExit status: 0 measured, 1 the run failed, 2 bad usage, 3 the run ended early (the server\nshut down or dropped every subscriber; the report is written all the same, marked ended_early)."
)]
pub struct Cli {
    /// Inspect one connection instead of running a load.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Transport to measure.
    #[arg(long, short, value_enum, required = true)]
    pub transport: Option<Transport>,

    /// Server base URL: http://HOST:PORT, or tcp://HOST:PORT for the tcp transport; over TLS
    /// https://HOST:PORT (wss:// too for ws) and tls://HOST:PORT for tcp (then --ca or
    /// --insecure) [default: http://127.0.0.1:8080, tcp://127.0.0.1:8081 for tcp]
    #[arg(long, value_parser = parse_url)]
    pub url: Option<String>,

    /// The server's HTTP side, for /stats and /publish, when --url is not it (tcp)
    #[arg(long, value_parser = parse_url, value_name = "URL")]
    pub control_url: Option<String>,

    /// Concurrent subscribers
    #[arg(long, short, default_value = "1", value_parser = parse_clients, value_name = "N")]
    pub clients: u64,

    /// Length of the measured window
    #[arg(long, short, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Duration,

    /// Unmeasured time after the last connection opened, before the window
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub warmup: Duration,

    /// Short polling: time between two polls of one subscriber
    #[arg(long, default_value = "100ms", value_parser = parse_duration, value_name = "DURATION")]
    pub poll_interval: Duration,

    /// Long polling: how long the server may park one request (timeout_ms; at most 60s)
    #[arg(long, default_value = "25s", value_parser = parse_duration, value_name = "DURATION")]
    pub long_poll_timeout: Duration,

    /// Also publish, per subscriber per second (over its WebSocket, else POST /publish), and
    /// measure each publish's round trip from its scheduled send time
    #[arg(long, value_parser = parse_rate, value_name = "RATE")]
    pub publish_rate: Option<f64>,

    /// New connections per second while ramping up
    #[arg(long, default_value = "500/s", value_parser = parse_rate, value_name = "RATE")]
    pub connect_rate: f64,

    /// Longest a subscriber may take to connect and set up
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,

    /// Seed of the run's random choices (each short-poll subscriber's start phase, the shaped
    /// network's jitter); the JSON
    /// report records the seed used, so passing it back repeats them [default: a fresh one]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// The shaped network (`--network`, `--rtt`, `--jitter`, `--bandwidth`): every connection
    /// of the measurement goes through a shaper; `/stats` does not.
    #[command(flatten)]
    pub shaping: NetworkArgs,

    /// Of the --clients subscribers, N (ws or sse) stop reading after their first event and
    /// keep the socket open; after the window they read what is buffered, to see how the server
    /// cut them (close 1008, the stream's end). They are reported apart ("stalled"), and the
    /// other figures are the healthy subscribers' alone
    #[arg(long, default_value = "0", value_name = "N")]
    pub stalled: u64,

    /// Churn: the --clients subscribers loop connect → first event → disconnect until CYCLES
    /// cycles in all (or --duration passes); the report gives cycles/s, the connect →
    /// first-event times and the errors by kind
    #[arg(long, value_name = "CYCLES")]
    pub churn: Option<u64>,

    /// Do not reconnect: a subscriber whose connection drops (the server closes or resets it,
    /// or dies) is lost at once, as before reconnecting existed
    #[arg(long)]
    pub no_reconnect: bool,

    /// A subscriber whose connection drops reconnects with backoff (50 ms doubling to 2 s, full
    /// jitter) and resumes after the last seq it saw (?after=N, Last-Event-ID; tcp cannot
    /// resume); it gives up, and is lost, after this many milliseconds without success
    #[arg(
        long,
        default_value = "10000",
        value_name = "MS",
        conflicts_with = "no_reconnect"
    )]
    pub reconnect_give_up_ms: u64,

    /// TLS: trust the root certificate(s) in this PEM file (e.g. the lab's self-signed cert)
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,

    /// TLS: accept any server certificate (the handshake is unchanged; only the check is
    /// skipped)
    #[arg(long)]
    pub insecure: bool,

    /// HTTP version for sse and the polls: 2 needs TLS (ALPN h2)
    #[arg(long, value_enum, default_value = "1.1", value_name = "VERSION")]
    pub http: HttpVersion,

    /// HTTP/2: subscribers per connection, each on its own stream (connections =
    /// clients / N, rounded up); sse and the polls
    #[arg(long, default_value = "1", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub streams_per_connection: u32,

    /// Write the full report as JSON to FILE ("-" for stdout)
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write the latency percentile distribution (HdrHistogram .hgrm text, ms) to FILE
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,

    /// No table on stdout and no progress bar
    #[arg(long, short)]
    pub quiet: bool,

    /// Split the subscribers over N client processes (this binary, started N times) that share
    /// one clock, and merge what they measured exactly into one report: a process may hold only
    /// so many open files, and one process on one core may be the bottleneck. At most one per
    /// client, at most 64
    #[arg(long, default_value = "1", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::shards::MAX_SHARDS)))]
    pub shards: u32,

    /// A further server of the same feed (a cluster node), repeatable: with --shards N, shard k
    /// dials the k-th of --url and these, round robin, so no one server holds every connection
    #[arg(long = "spread-url", value_name = "URL", requires = "shards")]
    pub spread_urls: Vec<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open one real connection and print, annotated, the bytes that cross it
    Trace(TraceArgs),
    /// Run one shard of a sharded run: a spec on stdin, the measurement on stdout (internal:
    /// started by `--shards`)
    #[command(hide = true)]
    ShardWorker,
}

impl Cli {
    /// The run these flags ask for (`None` with a subcommand).
    pub fn run_config(&self) -> Option<RunConfig> {
        let transport = self.transport?;
        let url = self.url.clone().unwrap_or_else(|| match transport {
            Transport::Tcp => format!("tcp://{}", rtlab_wire::defaults::TCP_ADDR),
            _ => format!("http://{}", rtlab_wire::defaults::HTTP_ADDR),
        });
        Some(RunConfig {
            control_url: self.control_url.clone(),
            clients: self.clients,
            duration: self.duration,
            warmup: self.warmup,
            poll_interval: self.poll_interval,
            long_poll_timeout: self.long_poll_timeout,
            publish_rate: self.publish_rate,
            connect_rate: self.connect_rate,
            connect_timeout: self.connect_timeout,
            progress: !self.quiet,
            seed: self.seed,
            network: self.shaping.network(),
            stalled: self.stalled,
            churn: self.churn,
            tls: TlsTrust {
                ca: self.ca.clone(),
                insecure: self.insecure,
            },
            http: self.http,
            streams_per_connection: self.streams_per_connection,
            reconnect_give_up: (!self.no_reconnect)
                .then(|| Duration::from_millis(self.reconnect_give_up_ms)),
            spread_urls: self.spread_urls.clone(),
            ..RunConfig::new(transport, url)
        })
    }
}

/// Parses a duration: `10s`, `100ms`, `1m30s`, or a bare number of seconds (`2.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("{s:?} is not a duration of zero or more seconds"));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration like 10s or 250ms ({e})"))
}

/// Parses a rate per second: `500/s`, `500`, `30/min`, `2.5/s`. Must be positive.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, unit)) => (n.trim(), unit.trim()),
        None => (t, "s"),
    };
    let seconds = match per {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        "ms" => 0.001,
        other => {
            return Err(format!(
                "{s:?}: unknown rate unit {other:?} (use /s or /min)"
            ));
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a rate like 500/s"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("{s:?}: a rate must be more than 0"));
    }
    Ok(n / seconds)
}

/// Parses a number of clients: a whole number of at least 1.
pub fn parse_clients(s: &str) -> Result<u64, String> {
    match s.trim().replace('_', "").parse::<u64>() {
        Ok(0) => Err("at least 1 client is needed".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

/// Checks a server URL's shape: `http(s)://HOST[:PORT]`, `ws(s)://…` or `tcp://`/`tls://HOST:PORT`
/// (whether it suits the transport is the run configuration's check).
pub fn parse_url(s: &str) -> Result<String, String> {
    let transport = if s.starts_with("tcp://") || s.starts_with("tls://") {
        Transport::Tcp
    } else {
        Transport::Ws
    };
    crate::config::Target::parse(s, transport)
        .map(|_| s.to_owned())
        .map_err(|e| match e {
            crate::RunError::Config(m) => m,
            other => other.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Link, Network, Profile};
    use clap::CommandFactory;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("500/s"), Ok(500.0));
        assert_eq!(parse_rate("500"), Ok(500.0));
        assert_eq!(parse_rate("30/min"), Ok(0.5));
        assert_eq!(parse_rate(" 2.5 / s "), Ok(2.5));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-3/s").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("5/fortnight").is_err());
    }

    #[test]
    fn clients() {
        assert_eq!(parse_clients("10_000"), Ok(10_000));
        assert!(parse_clients("0").is_err());
        assert!(parse_clients("-1").is_err());
        assert!(parse_clients("many").is_err());
    }

    #[test]
    fn urls() {
        assert!(parse_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_url("tcp://127.0.0.1:8081").is_ok());
        assert!(parse_url("tcp://127.0.0.1").is_err());
        assert!(parse_url("localhost:8080").is_err());
        assert!(parse_url("https://example.org").is_ok());
        assert!(parse_url("wss://127.0.0.1:8443").is_ok());
        assert!(parse_url("tls://127.0.0.1:8444").is_ok());
        assert!(parse_url("tls://127.0.0.1").is_err());
        assert!(parse_url("ftp://example.org").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_become_a_run_config() {
        let cli = Cli::try_parse_from([
            "rtlab-client",
            "-t",
            "short-poll",
            "-c",
            "20",
            "--duration",
            "3s",
            "--poll-interval",
            "250ms",
            "--connect-rate",
            "100/s",
            "--seed",
            "42",
            "--quiet",
        ])
        .unwrap();
        let c = cli.run_config().unwrap();
        assert_eq!(c.transport, Transport::ShortPoll);
        assert_eq!(c.url, "http://127.0.0.1:8080");
        assert_eq!((c.clients, c.duration), (20, Duration::from_secs(3)));
        assert_eq!(c.poll_interval, Duration::from_millis(250));
        assert_eq!(c.connect_rate, 100.0);
        assert!(!c.progress);
        assert_eq!(c.seed, Some(42));
        let tcp = Cli::try_parse_from(["rtlab-client", "-t", "tcp"]).unwrap();
        assert_eq!(tcp.run_config().unwrap().url, "tcp://127.0.0.1:8081");
    }

    #[test]
    fn a_network_is_a_profile_or_its_values_never_both() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["rtlab-client", "-t", "ws"].iter().chain(args))
                .map(|c| c.run_config().unwrap().network)
        };
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(
            parse(&["--network", "slow-mobile"]).unwrap(),
            Some(Network::profile(Profile::SlowMobile))
        );
        let custom = parse(&["--rtt", "100ms", "--jitter", "10ms", "--bandwidth", "2mbit"])
            .unwrap()
            .unwrap();
        assert_eq!(custom.profile, None);
        assert_eq!(
            custom.link,
            Some(Link {
                rtt: Duration::from_millis(100),
                jitter: Duration::from_millis(10),
                bandwidth_bps: Some(2_000_000),
            })
        );
        assert_eq!(
            parse(&["--bandwidth", "1mbit"])
                .unwrap()
                .unwrap()
                .link
                .unwrap()
                .rtt,
            Duration::ZERO
        );
        assert!(parse(&["--network", "mobile", "--rtt", "100ms"]).is_err());
        assert!(parse(&["--network", "mobile", "--bandwidth", "1mbit"]).is_err());
        assert!(parse(&["--jitter", "10ms"]).is_err(), "jitter needs an rtt");
        assert!(parse(&["--network", "dial-up"]).is_err());
        assert!(parse(&["--bandwidth", "fast"]).is_err());
    }

    #[test]
    fn reconnecting_is_the_default_and_can_be_bounded_or_turned_off() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["rtlab-client", "-t", "sse"].iter().chain(args))
                .map(|c| c.run_config().unwrap().reconnect_give_up)
        };
        assert_eq!(parse(&[]).unwrap(), Some(Duration::from_secs(10)));
        assert_eq!(
            parse(&["--reconnect-give-up-ms", "2500"]).unwrap(),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parse(&["--no-reconnect"]).unwrap(), None);
        assert!(parse(&["--no-reconnect", "--reconnect-give-up-ms", "5"]).is_err());
        assert!(parse(&["--reconnect-give-up-ms", "-1"]).is_err());
    }

    #[test]
    fn transport_is_required_except_for_trace() {
        assert!(Cli::try_parse_from(["rtlab-client"]).is_err());
        let t = Cli::try_parse_from(["rtlab-client", "trace", "ws"]).unwrap();
        assert!(matches!(t.command, Some(Command::Trace(_))));
        assert!(t.run_config().is_none());
        assert!(Cli::try_parse_from(["rtlab-client", "-t", "ws", "--clients", "0"]).is_err());
        // Flags without --transport are clap's usage error, never a run without a transport.
        let missing = Cli::try_parse_from(["rtlab-client", "--clients", "5"]).unwrap_err();
        assert_eq!(
            missing.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
        assert!(one_line_error(&missing).contains("--transport"));
        assert!(!one_line_error(&missing).contains('\n'));
        let worker = Cli::try_parse_from(["rtlab-client", "shard-worker"]).unwrap();
        assert!(matches!(worker.command, Some(Command::ShardWorker)));
    }

    #[test]
    fn shards_are_one_to_sixty_four() {
        let shards = |n: &str| {
            Cli::try_parse_from(["rtlab-client", "-t", "ws", "-c", "100", "--shards", n])
                .map(|c| c.shards)
        };
        assert_eq!(shards("4").unwrap(), 4);
        assert_eq!(
            Cli::try_parse_from(["rtlab-client", "-t", "ws"])
                .unwrap()
                .shards,
            1
        );
        for bad in ["0", "65", "two"] {
            assert!(shards(bad).is_err(), "{bad}");
        }
    }
}
