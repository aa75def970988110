//! The command line: `rtlab run`, `rtlab plot DIR`, `rtlab compare A B`, `rtlab shape`.
//!
//! Plain `rtlab` (and so plain `cargo run --release` in the workspace) is `rtlab run` with the
//! default suite.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use rtlab_client::network::NetworkArgs;
use rtlab_wire::Transport;

/// rtlab: measure what WebSocket, SSE, long polling and short polling really cost, against a
/// raw-TCP baseline, and draw the trade-offs.
#[derive(Debug, Parser)]
#[command(
    name = "rtlab",
    version,
    propagate_version = true,
    after_help = "Examples:\n  \
    rtlab                                   run the default suite (same as `rtlab run`)\n  \
    rtlab run --suite quick                 a smoke run in seconds\n  \
    rtlab run --suite reliability           the reliability promises, measured (~13 min)\n  \
    rtlab run --suite cluster               proxies, scale-out, failover, 100 000 connections (~10 min)\n  \
    rtlab run --transports ws,sse --duration 5s\n  \
    rtlab run --suite quick --repeat 3      every case three times: median (min–max)\n  \
    rtlab run --dry-run                     list the cases and the estimated time\n  \
    rtlab plot results/latest               redraw charts and report from stored JSON\n  \
    rtlab compare results/reference results/latest\n  \
    rtlab shape --listen 127.0.0.1:9000 --upstream 127.0.0.1:8080 --network slow-mobile\n  \
    rtlab cluster --nodes 3 --proxy lab     a broker, three nodes and nginx in front, until Ctrl-C"
)]
pub struct Cli {
    /// What to do (default: `run` with the default suite).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a suite: start a fresh server per case, measure every transport, write results,
    /// charts and a report to `<out>/<UTC timestamp>-<suite>/` and point `<out>/latest` at it.
    Run(RunArgs),
    /// Redraw the charts, summary and report of an existing results folder, without re-running
    /// (a reliability or cluster run: its report, from its JSON).
    Plot(PlotArgs),
    /// Print the differences between two results folders (p50, p99, events/s, bytes/event).
    Compare(CompareArgs),
    /// Put a shaped link in front of a server, for a browser or any TCP client: listen on one
    /// loopback address, relay to another, adding the link's delay, jitter and rate limit.
    Shape(ShapeArgs),
    /// Start a cluster on this machine: nats-server (JetStream), N `rtlab-server` nodes sharing one
    /// feed through it, and optionally nginx in front; print one line saying where, and run until
    /// Ctrl-C or SIGTERM, which stop every process started.
    Cluster(ClusterArgs),
    /// Run one client shard of a case (internal: started by `rtlab run --client-shards N`): a
    /// spec on stdin, the measurement on stdout.
    #[command(hide = true)]
    ClientShard,
    /// Hold the reliability suite's hostile connections (internal: started by its hostile case):
    /// idle ones and a slow-headers client, two JSON lines on stdout.
    #[command(hide = true)]
    HostileClients(HostileClientsArgs),
}

/// Options of the hidden `rtlab hostile-clients`.
#[derive(Debug, Clone, Args)]
pub struct HostileClientsArgs {
    /// The server's HTTP address (loopback only).
    #[arg(long, value_name = "ADDR", value_parser = loopback_addr)]
    pub http: SocketAddr,
    /// Idle connections that never send a byte.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=19_000))]
    pub idle: u64,
    /// Give up on connections still open after this long, milliseconds.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub within_ms: u64,
}

/// `addr` if it is on loopback (127.0.0.0/8 or ::1; an IPv4-mapped address is refused too: it
/// is not what the lab means by loopback, and nothing needs it), else why not: the lab only ever
/// listens on and loads this machine.
pub fn on_loopback(addr: SocketAddr) -> Result<SocketAddr, String> {
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(format!(
            "{addr} is not a loopback address: the lab only listens on and loads 127.0.0.0/8 or ::1"
        ))
    }
}

/// A flag's value that must be a socket address on loopback ([`on_loopback`]).
fn loopback_addr(s: &str) -> Result<SocketAddr, String> {
    on_loopback(s.parse().map_err(|e| format!("{e}"))?)
}

/// Options of `rtlab run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Suite to run: `default` (the full comparison, a few minutes), `quick` (seconds),
    /// `network` (shaped links), `reliability` (slow subscribers, churn, shutdown under load,
    /// hostile clients; about 14 minutes), `cluster` (nginx and nats-server: through a proxy,
    /// scale-out, failover, 100 000 connections; about 10 minutes), or a path to a suite TOML
    /// file.
    #[arg(long, short, default_value = "default")]
    pub suite: String,
    /// Folder that receives the run's folder and the `latest` link.
    #[arg(long, short, default_value = "results")]
    pub out: PathBuf,
    /// Name the run's folder NAME instead of `<UTC timestamp>-<suite>` (e.g. `reference`); an
    /// earlier run of that name is replaced.
    #[arg(long)]
    pub name: Option<String>,
    /// Override every case's measured window (e.g. `5s`, `500ms`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Override every case's warm-up (e.g. `1s`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,
    /// Run only these transports (comma separated: ws,sse,long-poll,short-poll,tcp).
    #[arg(long, short, value_delimiter = ',')]
    pub transports: Vec<Transport>,
    /// Run only these scenarios, by name (comma separated); in the `reliability` suite, these
    /// cases: slow-subscriber, churn, shutdown, hostile.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Run every case N times, each with a fresh server (overrides the suite's `repeat`): the
    /// report then shows each headline figure as median (min–max).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=crate::scenario::MAX_REPEAT as i64))]
    pub repeat: Option<u32>,
    /// The `rtlab-server` binary (default: next to this executable).
    #[arg(long, env = "RTLAB_SERVER_BIN")]
    pub server_bin: Option<PathBuf>,
    /// Do not pin the server and the client to separate cores.
    #[arg(long)]
    pub no_pin: bool,
    /// Print the planned cases and the estimated time, then exit.
    #[arg(long)]
    pub dry_run: bool,
    /// Split each case's subscribers over N client processes; on this 2-core machine they
    /// share the client core, so this lifts the 20 000 open-files limit per process, not the
    /// CPU limit. A case with fewer subscribers uses one process per subscriber.
    #[arg(long, value_name = "N", default_value = "1",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(rtlab_client::shards::MAX_SHARDS)))]
    pub client_shards: u32,
}

impl Default for RunArgs {
    fn default() -> Self {
        RunArgs {
            suite: "default".into(),
            out: "results".into(),
            name: None,
            duration: None,
            warmup: None,
            transports: Vec::new(),
            scenarios: Vec::new(),
            repeat: None,
            server_bin: None,
            no_pin: false,
            dry_run: false,
            client_shards: 1,
        }
    }
}

/// Options of `rtlab plot`.
#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// A results folder (e.g. `results/latest`).
    pub dir: PathBuf,
}

/// Options of `rtlab compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The baseline results folder.
    pub a: PathBuf,
    /// The results folder compared with it.
    pub b: PathBuf,
}

/// Options of `rtlab shape`.
#[derive(Debug, Clone, Args)]
pub struct ShapeArgs {
    /// Address to listen on, on loopback (127.0.0.0/8 or `[::1]`); port 0 picks a free one, which
    /// the start-up line on stderr names.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The server to relay every connection to, on loopback (e.g. 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub upstream: SocketAddr,
    /// The link to imitate.
    #[command(flatten)]
    pub shaping: NetworkArgs,
    /// Seed of the jitter draws [default: a fresh one].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Stop after this long (e.g. `10m`) [default: until Ctrl-C].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
}

/// Options of `rtlab cluster`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Output: once every process answers, one line on stdout

  cluster front=http://ADDR nats=nats://ADDR nodes=ADDR/PID,ADDR/PID,...

front is the proxy (or the first node without --proxy), nats the broker (`none` with
--no-broker), nodes each node's HTTP address and process id, in order (node-1, node-2, ...).
With --json, the same as one JSON object. Progress goes to stderr.

Needs Debian's `nats-server` (and `nginx-light` for --proxy): `bash scripts/setup-test-deps`.
RTLAB_NATS_SERVER and RTLAB_NGINX may point at other builds of either.

Exit: 0 when Ctrl-C or SIGTERM stopped a cluster that was up; 130 when they came before it was
up; 2 on an error (a missing program, a process that did not start or died on its own).

Examples:
  rtlab cluster --nodes 3 --proxy lab
  rtlab cluster --nodes 1 --proxy naive --no-broker --rate 50
  rtlab cluster --nodes 2 -- --history 100000     (arguments after -- go to every node)")]
pub struct ClusterArgs {
    /// Server nodes to start.
    #[arg(long, value_name = "N", default_value = "2",
          value_parser = clap::value_parser!(u32).range(1..=crate::cluster::MAX_NODES))]
    pub nodes: u32,
    /// nginx in front, with the shipped `naive` or `lab` configuration (scripts/nginx/).
    #[arg(long, value_enum)]
    pub proxy: Option<crate::cluster::Proxy>,
    /// Where the proxy listens, on loopback [default: a free port].
    #[arg(long, value_name = "ADDR", requires = "proxy")]
    pub proxy_listen: Option<SocketAddr>,
    /// No broker: the nodes are independent embedded servers, each its own feed (for measuring
    /// a proxy alone; behind round-robin their seqs do not agree).
    #[arg(long)]
    pub no_broker: bool,
    /// Ticker events per second on every node (0 = none; only published events).
    #[arg(long, value_name = "EVENTS_PER_S", default_value = "10")]
    pub rate: u64,
    /// Filler bytes per ticker event.
    #[arg(long, value_name = "BYTES", default_value = "64")]
    pub payload_bytes: u64,
    /// Open streaming connections each node accepts.
    #[arg(long, value_name = "N", default_value = "10000")]
    pub max_connections: u64,
    /// The `rtlab-server` binary (default: next to this executable).
    #[arg(long, env = "RTLAB_SERVER_BIN")]
    pub server_bin: Option<PathBuf>,
    /// Print the start-up line as one JSON object instead.
    #[arg(long)]
    pub json: bool,
    /// Further arguments for every node's `rtlab-server`, after `--`.
    #[arg(last = true, value_name = "SERVER_ARGS")]
    pub server_args: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_overrides() {
        let cli = Cli::parse_from([
            "rtlab",
            "run",
            "--suite",
            "quick",
            "--duration",
            "500ms",
            "--transports",
            "ws,long-poll",
        ]);
        let Some(Command::Run(a)) = cli.command else {
            panic!("not run")
        };
        assert_eq!(a.duration, Some(Duration::from_millis(500)));
        assert_eq!(a.transports, [Transport::Ws, Transport::LongPoll]);
        assert!(Cli::try_parse_from(["rtlab", "run", "--duration", "soon"]).is_err());
        let Some(Command::Run(r)) = Cli::parse_from(["rtlab", "run", "--repeat", "3"]).command
        else {
            panic!("not run")
        };
        assert_eq!(r.repeat, Some(3));
        assert!(Cli::try_parse_from(["rtlab", "run", "--repeat", "0"]).is_err());
        assert!(Cli::try_parse_from(["rtlab", "run", "--repeat", "21"]).is_err());
        assert!(Cli::parse_from(["rtlab"]).command.is_none());
    }

    #[test]
    fn client_shards_default_to_one_and_are_bounded() {
        let shards = |args: &[&str]| {
            Cli::try_parse_from(["rtlab", "run"].iter().chain(args)).map(|c| match c.command {
                Some(Command::Run(a)) => a.client_shards,
                _ => panic!("not run"),
            })
        };
        assert_eq!(shards(&[]).unwrap(), 1);
        assert_eq!(shards(&["--client-shards", "4"]).unwrap(), 4);
        assert!(shards(&["--client-shards", "0"]).is_err());
        assert!(shards(&["--client-shards", "65"]).is_err());
        assert!(matches!(
            Cli::parse_from(["rtlab", "client-shard"]).command,
            Some(Command::ClientShard)
        ));
    }

    #[test]
    fn hostile_clients_only_target_loopback() {
        let parse = |http: &str| {
            Cli::try_parse_from([
                "rtlab",
                "hostile-clients",
                "--http",
                http,
                "--idle",
                "10",
                "--within-ms",
                "1000",
            ])
        };
        assert!(matches!(
            parse("127.0.0.5:8080").unwrap().command,
            Some(Command::HostileClients(HostileClientsArgs { idle: 10, .. }))
        ));
        let err = parse("10.0.0.1:80").unwrap_err().to_string();
        assert!(err.contains("not a loopback address"), "{err}");
    }
}
