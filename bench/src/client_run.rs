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
use std::path::PathBuf;
use std::time::Duration;

use rtlab_client::config::HttpVersion;
use rtlab_client::tls::TlsTrust;
use rtlab_client::{RunConfig, ShardProgram};
use rtlab_wire::Transport;
use tokio::sync::mpsc::UnboundedSender;

use crate::RunReport;
use crate::case::Case;
use crate::security::Security;

/// New subscriber connections per second while ramping up.
pub const CONNECT_RATE: f64 = 5_000.0;
/// Longest a subscriber may take to connect before it counts as failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The `timeout_ms` long polls ask for: shorter than the default so a quiet feed cannot keep the
/// client waiting long after its window.
pub const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a case's server listens, and the certificate the client trusts when it speaks TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The HTTP listener (HTTPS when the server has a certificate).
    pub http: SocketAddr,
    /// The raw-TCP baseline.
    pub tcp: SocketAddr,
    /// The raw-TCP baseline over TLS, when the server has a certificate.
    pub tcp_tls: Option<SocketAddr>,
    /// The server's certificate, when it has one: the client's only trust anchor (`--ca`).
    pub ca: Option<PathBuf>,
}

impl Endpoints {
    /// A plain server's endpoints (no TLS).
    pub fn plain(http: SocketAddr, tcp: SocketAddr) -> Endpoints {
        Endpoints {
            http,
            tcp,
            tcp_tls: None,
            ca: None,
        }
    }

    /// The HTTP side's base URL: `https://ADDR` when the server has a certificate.
    pub fn http_url(&self) -> String {
        match self.ca {
            Some(_) => format!("https://{}", self.http),
            None => format!("http://{}", self.http),
        }
    }

    /// The base URL the client is given for a transport: the HTTP side's, or for the raw-TCP
    /// baseline `tcp://ADDR` (`tls://ADDR` over TLS).
    pub fn base_url(&self, transport: Transport) -> String {
        match (transport, self.tcp_tls) {
            (Transport::Tcp, Some(addr)) => format!("tls://{addr}"),
            (Transport::Tcp, None) => format!("tcp://{}", self.tcp),
            _ => self.http_url(),
        }
    }
}

/// The client configuration of one case.
pub fn config(case: &Case, at: &Endpoints) -> RunConfig {
    let p = &case.params;
    let mut c = RunConfig::new(case.transport, at.base_url(case.transport));
    c.control_url = Some(at.http_url());
    c.tls = TlsTrust {
        ca: at.ca.clone(),
        insecure: false,
    };
    if p.security == Some(Security::TlsH2) {
        c.http = HttpVersion::Http2;
    }
    c.streams_per_connection = p.streams_per_connection.unwrap_or(1);
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
    // A comparison case measures one connection per subscriber held through the window: a
    // subscriber that is dropped (cut as lagging at saturation, say) is a finding to count, not
    // one to hide behind a reconnect.
    c.reconnect_give_up = None;
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
pub fn start_delay(case: &Case, at: &Endpoints, shards: u32) -> Duration {
    if processes(case, shards) > 1 {
        rtlab_client::shards::start_lead(&config(case, at))
    } else {
        Duration::ZERO
    }
}

/// The hidden subcommand of `rtlab` that runs one client shard.
pub const SHARD_SUBCOMMAND: &str = "client-shard";

/// Runs the client for one case against a server listening `at`: in this process, or split over
/// `shards` child processes (at most one per subscriber) whose ids are sent to `shard_pids`.
pub async fn run_client(
    case: &Case,
    at: &Endpoints,
    shards: u32,
    shard_pids: UnboundedSender<u32>,
) -> Result<RunReport, String> {
    let config = config(case, at);
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

/// The client's report of a run, also of one every subscriber left early (its partial report
/// is still a measurement: a fault case's healthy p99, a failover's losses); otherwise why the
/// run failed, in one line.
pub fn report_of(run: Result<RunReport, rtlab_client::RunError>) -> Result<RunReport, String> {
    match run {
        Ok(r) => Ok(r),
        Err(rtlab_client::RunError::AllDisconnected {
            partial: Some(r), ..
        }) => Ok(*r),
        Err(e) => Err(e.to_string()),
    }
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
        let at = endpoints();
        let c = config(case, &at);
        assert_eq!(c.url, "tcp://127.0.0.1:2000");
        assert_eq!(c.control_url.as_deref(), Some("http://127.0.0.1:1000"));
        assert_eq!(c.clients, case.params.clients);
        assert!(c.validate().is_ok());
    }

    fn endpoints() -> Endpoints {
        Endpoints::plain(
            "127.0.0.1:1000".parse().unwrap(),
            "127.0.0.1:2000".parse().unwrap(),
        )
    }

    #[test]
    fn tls_cases_get_tls_urls_the_certificate_and_their_http_version() {
        let suite = Suite::load("quick").unwrap();
        let at = Endpoints {
            tcp_tls: Some("127.0.0.1:3000".parse().unwrap()),
            ca: Some(PathBuf::from("/run/cert.pem")),
            ..endpoints()
        };
        let of = |security: Security, transport: Transport| {
            let case = suite
                .cases
                .iter()
                .find(|c| c.params.security == Some(security) && c.transport == transport)
                .unwrap_or_else(|| panic!("quick has a {security} {transport} case"));
            config(case, &at)
        };
        let tcp = of(Security::Tls, Transport::Tcp);
        assert_eq!(tcp.url, "tls://127.0.0.1:3000");
        assert_eq!(tcp.control_url.as_deref(), Some("https://127.0.0.1:1000"));
        assert_eq!(
            tcp.tls.ca.as_deref(),
            Some(std::path::Path::new("/run/cert.pem"))
        );
        let sse = of(Security::TlsH2, Transport::Sse);
        assert_eq!(sse.url, "https://127.0.0.1:1000");
        assert_eq!(sse.http, HttpVersion::Http2);
        for c in [tcp, sse, of(Security::Tls, Transport::Ws)] {
            assert!(c.validate().is_ok(), "{:?}", c.validate());
        }
        assert_eq!(of(Security::Tls, Transport::Ws).http, HttpVersion::Http1);
    }

    #[test]
    fn shards_are_at_most_one_per_subscriber_and_start_a_moment_ahead() {
        let suite = Suite::load("quick").unwrap();
        let case = suite.cases.iter().find(|c| c.params.clients == 3).unwrap();
        assert_eq!(
            (processes(case, 1), processes(case, 2), processes(case, 8)),
            (1, 2, 3)
        );
        let at = endpoints();
        assert_eq!(start_delay(case, &at, 1), Duration::ZERO);
        assert_eq!(start_delay(case, &at, 2), rtlab_client::shards::START_LEAD);
    }
}
