//! The one place the runner talks to the client library: a case's settings become a
//! [`rtlab_client::RunConfig`], and the client's [`crate::RunReport`] comes back.
//!
//! The client runs **in process**, on the runner's tokio runtime, pinned with the runner to the
//! client core. It connects `clients` subscribers at [`CONNECT_RATE`] per second (fast enough that
//! 10 000 subscribers are up in two seconds, slow enough not to look like a SYN flood), waits the
//! warm-up, measures the window and returns.
//!
//! With `rtlab run --client-shards N` (N > 1) the subscribers are split over N child processes
//! instead, each this executable's hidden `client-shard` subcommand (they inherit the runner's
//! pinning to the client core), and their measurements are merged exactly into one report
//! (`rtlab_client::shards`). That lifts the open-files limit of one process; on a 2-core
//! machine it does not add CPU. Their process ids go to the caller, which samples their CPU.

use std::net::SocketAddr;
use std::time::Duration;

use rtlab_client::{RunConfig, ShardProgram};
use rtlab_wire::Transport;
use tokio::sync::mpsc::UnboundedSender;

use crate::RunReport;
use crate::case::Case;

/// New subscriber connections per second while ramping up.
pub const CONNECT_RATE: f64 = 5_000.0;
/// Longest a subscriber may take to connect before it counts as failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The `timeout_ms` long polls ask for: shorter than the default so a quiet feed cannot keep the
/// client waiting long after its window.
pub const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// The base URL the client is given for a transport: `http://ADDR` or, for the raw-TCP baseline,
/// `tcp://ADDR`.
pub fn base_url(transport: Transport, http: SocketAddr, tcp: SocketAddr) -> String {
    match transport {
        Transport::Tcp => format!("tcp://{tcp}"),
        _ => format!("http://{http}"),
    }
}

/// The client configuration of one case.
pub fn config(case: &Case, http: SocketAddr, tcp: SocketAddr) -> RunConfig {
    let p = &case.params;
    let mut c = RunConfig::new(case.transport, base_url(case.transport, http, tcp));
    c.control_url = Some(format!("http://{http}"));
    c.clients = p.clients;
    c.duration = Duration::from_secs_f64(p.duration_s);
    c.warmup = Duration::from_secs_f64(p.warmup_s);
    c.poll_interval = Duration::from_secs_f64(p.poll_interval_ms / 1e3);
    // A keep-alive scenario's interval is also how long an idle long poll waits.
    c.long_poll_timeout = p
        .keepalive_interval_ms
        .map_or(LONG_POLL_TIMEOUT, |ms| Duration::from_secs_f64(ms / 1e3));
    c.publish_rate = p.publish_rate;
    c.network = p.network.filter(|l| l.is_shaped()).map(|l| l.network());
    c.connect_rate = CONNECT_RATE;
    c.connect_timeout = CONNECT_TIMEOUT;
    c.progress = false;
    c
}

/// The client processes a case runs in with `--client-shards shards`: a case with fewer
/// subscribers than shards gets one process per subscriber.
pub fn processes(case: &Case, shards: u32) -> u32 {
    shards.min(u32::try_from(case.params.clients).unwrap_or(u32::MAX))
}

/// How long after [`run_client`] is called the client's run starts (its first connection): at
/// once in process; a sharded run fixes its start a moment ahead, so that every shard process
/// is up by then (`rtlab_client::shards::start_lead`). The runner places the window after it.
pub fn start_delay(case: &Case, http: SocketAddr, tcp: SocketAddr, shards: u32) -> Duration {
    if processes(case, shards) > 1 {
        rtlab_client::shards::start_lead(&config(case, http, tcp))
    } else {
        Duration::ZERO
    }
}

/// The hidden subcommand of `rtlab` that runs one client shard.
pub const SHARD_SUBCOMMAND: &str = "client-shard";

/// Runs the client for one case against a server listening on `http` and `tcp`: in this
/// process, or split over `shards` child processes (at most one per subscriber) whose ids are
/// sent to `shard_pids`.
pub async fn run_client(
    case: &Case,
    http: SocketAddr,
    tcp: SocketAddr,
    shards: u32,
    shard_pids: UnboundedSender<u32>,
) -> Result<RunReport, String> {
    let config = config(case, http, tcp);
    let shards = processes(case, shards);
    let run = if shards > 1 {
        let program = ShardProgram::current_exe(&[SHARD_SUBCOMMAND])
            .map_err(|e| format!("cannot find this executable to start client shards: {e}"))?
            .with_pids(shard_pids);
        rtlab_client::run_sharded(config, shards, program).await
    } else {
        rtlab_client::run(config).await
    };
    run.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Suite;

    #[test]
    fn tcp_gets_a_tcp_url_and_an_http_control_url() {
        let suite = Suite::load("quick").unwrap();
        let case = suite
            .cases
            .iter()
            .find(|c| c.transport == Transport::Tcp)
            .unwrap();
        let http: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let tcp: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        let c = config(case, http, tcp);
        assert_eq!(c.url, "tcp://127.0.0.1:2000");
        assert_eq!(c.control_url.as_deref(), Some("http://127.0.0.1:1000"));
        assert_eq!(c.clients, case.params.clients);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn shards_are_at_most_one_per_subscriber_and_start_a_moment_ahead() {
        let suite = Suite::load("quick").unwrap();
        let case = suite.cases.iter().find(|c| c.params.clients == 3).unwrap();
        assert_eq!(
            (processes(case, 1), processes(case, 2), processes(case, 8)),
            (1, 2, 3)
        );
        let http: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let tcp: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        assert_eq!(start_delay(case, http, tcp, 1), Duration::ZERO);
        assert_eq!(
            start_delay(case, http, tcp, 2),
            rtlab_client::shards::START_LEAD
        );
    }
}
