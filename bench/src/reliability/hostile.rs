//! Hostile clients: connections that hold the server's resources without asking for anything.
//!
//! A slow-headers client and a crowd of TCP connections that never send a byte
//! ([`hostile_clients`](super::hostile_clients), which opens them): each holds a socket, a file
//! descriptor and the server's per-connection state, and a server that waits for them forever runs
//! out of all three. `rtlab-server` resets a connection that has sent nothing 10–11 s after
//! accepting it (`rtlab_server::http_listener::FIRST_BYTE_TIMEOUT` plus up to a second of
//! `FIRST_BYTE_JITTER`, timed per connection, so a crowd opened together is dropped a few at a
//! time) and answers a head still unfinished after 10 s with a 408 (actix-http's
//! `client_request_timeout`, `CLIENT_REQUEST_TIMEOUT`). The case starts them in a process of their
//! own (`rtlab hostile-clients`, on the client's core when the lab pins, at idle priority so that
//! its own work never preempts the measuring client), waits until they are all open, then
//! connects the healthy subscribers. Runs on fresh servers interleave the healthy
//! subscribers alone and with the hostile ones, a baseline first and last; the promise is that the
//! healthy p99 stays within 1.1× of the runs without them, judged beside their own spread
//! ([`P99Effect`]).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use super::hostile_clients::{Opened, SUBCOMMAND, Seen};
use super::lab::{Lab, client_config};
use super::p99_effect::{HealthyRun, P99Effect, interleaved};
use super::{Scale, Verdict};
use crate::client_run::report_of;
use crate::proc_sampler::{ProcSeries, read_sample};
use crate::server_process::find_program;

/// Most the healthy p99 may grow with the hostile connections open.
pub const P99_GOAL: f64 = 1.1;
/// How long after the healthy run the lab still waits for the hostile connections to drop.
const DROP_GRACE: Duration = Duration::from_secs(15);
/// How long the hostile process may take to open its connections.
const OPEN_TIMEOUT: Duration = Duration::from_secs(60);
/// The wrapper that starts the hostile process under `SCHED_IDLE`.
const CHRT: &str = "chrt";

/// One transport's hostile-client figures, over every run with the hostile connections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostileResult {
    /// The healthy subscribers' transport.
    pub transport: Option<Transport>,
    /// Healthy subscribers.
    pub clients: u64,
    /// Idle connections asked for, per run.
    pub idle_connections: u64,
    /// Idle connections opened, summed over the runs with them.
    pub idle_opened: u64,
    /// Of those, dropped by the server.
    pub idle_dropped: u64,
    /// When the server dropped them, seconds after each was opened: the earliest.
    pub idle_dropped_after_s_min: Option<f64>,
    /// And the latest.
    pub idle_dropped_after_s_max: Option<f64>,
    /// When the server dropped the slow-headers client, seconds after it connected: the latest
    /// over the runs (`None` if it outlived the run in any).
    pub slow_headers_dropped_after_s: Option<f64>,
    /// Bytes of its head it had sent by then (the most in a run).
    pub slow_headers_bytes_sent: u64,
    /// CPU time of the process holding the hostile connections, seconds: the most in a run.
    pub hostile_process_cpu_s: Option<f64>,
    /// Healthy p99s: the baselines without the hostile connections, and the runs with them.
    pub p99: Option<P99Effect>,
    /// What went wrong, if a run could not be measured.
    pub error: Option<String>,
}

impl HostileResult {
    /// Held: every hostile connection dropped, healthy p99 within [`P99_GOAL`].
    pub fn verdict(&self) -> Verdict {
        if let Some(e) = &self.error {
            return Verdict {
                held: false,
                why: format!("not measured: {e}"),
            };
        }
        let dropped = self.idle_opened > 0
            && self.idle_dropped == self.idle_opened
            && self.slow_headers_dropped_after_s.is_some();
        let p99_ok = self.p99.as_ref().is_some_and(|p| p.held(P99_GOAL));
        let when = |v: Option<f64>| v.map_or_else(|| "never".into(), |s| format!("{s:.1} s"));
        Verdict {
            held: dropped && p99_ok,
            why: format!(
                "{} of {} idle connections dropped (after {}–{}), slow headers dropped after {}; {}",
                self.idle_dropped,
                self.idle_opened,
                when(self.idle_dropped_after_s_min),
                when(self.idle_dropped_after_s_max),
                when(self.slow_headers_dropped_after_s),
                self.p99
                    .as_ref()
                    .map_or_else(|| "no healthy p99".into(), |p| p.clause(P99_GOAL))
            ),
        }
    }

    /// Folds in what the hostile connections saw in one run with them.
    fn absorb(&mut self, seen: &Seen, first: bool) {
        let drops: Vec<f64> = seen.idle_drops.iter().flatten().copied().collect();
        self.idle_opened += seen.idle_drops.len() as u64;
        self.idle_dropped += drops.len() as u64;
        let (lo, hi) = (self.idle_dropped_after_s_min, self.idle_dropped_after_s_max);
        self.idle_dropped_after_s_min = drops.iter().copied().chain(lo).reduce(f64::min);
        self.idle_dropped_after_s_max = drops.iter().copied().chain(hi).reduce(f64::max);
        // Dropped in every run, or "never" once it outlived one.
        self.slow_headers_dropped_after_s = match (first, self.slow_headers_dropped_after_s) {
            (true, _) => seen.slow_headers_dropped_after_s,
            (false, Some(a)) => seen.slow_headers_dropped_after_s.map(|b| a.max(b)),
            (false, None) => None,
        };
        self.slow_headers_bytes_sent = self
            .slow_headers_bytes_sent
            .max(seen.slow_headers_bytes_sent);
        self.hostile_process_cpu_s = seen
            .cpu_s
            .into_iter()
            .chain(self.hostile_process_cpu_s)
            .reduce(f64::max);
    }
}

/// Runs the case with healthy subscribers on `transport`.
pub async fn run(lab: &Lab, scale: &Scale, transport: Transport) -> HostileResult {
    let mut result = HostileResult {
        transport: Some(transport),
        clients: scale.clients,
        idle_connections: scale.idle_connections,
        ..HostileResult::default()
    };
    let runs = interleaved(scale.p99_faulted_runs, |hostile| {
        healthy_run(lab, scale, transport, hostile)
    })
    .await;
    let (p99, _, seen) = match runs {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    result.p99 = Some(p99);
    for (i, seen) in seen.iter().flatten().enumerate() {
        result.absorb(seen, i == 0);
    }
    result
}

/// One run of the healthy subscribers on a fresh server, the hostile connections opened first
/// (by their own process) if `hostile`: the healthy p99 and the server's load while they ran,
/// and what the hostile ones saw.
async fn healthy_run(
    lab: &Lab,
    scale: &Scale,
    transport: Transport,
    hostile: bool,
) -> Result<(HealthyRun, Option<Seen>), String> {
    let mut server = lab
        .server(scale.hostile_rate, 64, None)
        .await
        .map_err(|e| e.to_string())?;
    let within = Duration::from_secs_f64(scale.clients as f64 / scale.connect_rate)
        + scale.warmup
        + scale.hostile_window
        + DROP_GRACE;
    let crowd = if hostile {
        match HostileProcess::start(lab, server.http, scale.idle_connections, within).await {
            Ok(c) => Some(c),
            Err(e) => {
                server.stop().await;
                return Err(e);
            }
        }
    } else {
        None
    };
    let config = client_config(
        &server,
        transport,
        scale.clients,
        scale.warmup,
        scale.hostile_window,
        scale.connect_rate,
    );
    // Two readings are all a share needs (no sampler task on the measuring client's runtime).
    let before = read_sample(server.pid()).ok();
    let run = rtlab_client::run(config).await;
    let after = read_sample(server.pid()).ok();
    let server_busy = ProcSeries {
        samples: before.into_iter().chain(after).collect(),
    }
    .core_share();
    let seen = match crowd {
        Some(c) => Some(c.finish(within).await),
        None => None,
    };
    server.stop().await;
    let report = report_of(run)?;
    let healthy = HealthyRun {
        p99_us: report.latency_us.p99,
        server_busy,
    };
    Ok((healthy, seen.transpose()?))
}

/// The `rtlab hostile-clients` child holding the hostile connections.
struct HostileProcess {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl HostileProcess {
    /// Starts it against `http` with `idle` idle connections for at most `within`, and waits
    /// until it says they are open.
    async fn start(
        lab: &Lab,
        http: SocketAddr,
        idle: u64,
        within: Duration,
    ) -> Result<Self, String> {
        // On the measuring client's core the hostile process's own bookkeeping (a wake-up and a
        // read for each connection the server resets, 5 000 within a second) would delay the
        // healthy subscribers' reads, and the lab would blame the server for it. Under
        // `SCHED_IDLE` it runs only when that core has nothing else to do; the server's resets
        // are what they are, and the times it records are late by at most what the client had
        // queued. `chrt` is util-linux's, on every Linux.
        let chrt = find_program(CHRT).ok_or_else(|| {
            format!("cannot find {CHRT} (util-linux) to start the hostile process at idle priority")
        })?;
        let mut child = Command::new(chrt)
            .args(["--idle", "0"])
            .arg(&lab.rtlab_bin)
            .args([SUBCOMMAND, "--http", &http.to_string(), "--idle"])
            .arg(idle.to_string())
            .arg("--within-ms")
            .arg(within.as_millis().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {} {SUBCOMMAND}: {e}", lab.rtlab_bin.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("the hostile process has no stdout")?;
        let mut this = Self {
            child,
            lines: BufReader::new(stdout).lines(),
        };
        let opened: Opened = this.next_line(OPEN_TIMEOUT).await?;
        if opened.idle == 0 || !opened.slow_headers {
            return Err(format!("the hostile connections did not open: {opened:?}"));
        }
        Ok(this)
    }

    /// Waits for what the hostile connections saw (they end by `within` at the latest).
    async fn finish(mut self, within: Duration) -> Result<Seen, String> {
        let seen = self.next_line(within + Duration::from_secs(10)).await;
        let _ = self.child.wait().await;
        seen
    }

    /// The next JSON line on the child's stdout, within `timeout`.
    async fn next_line<T: serde::de::DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<T, String> {
        let line = tokio::time::timeout(timeout, self.lines.next_line())
            .await
            .map_err(|_| format!("the hostile process said nothing for {timeout:?}"))?
            .map_err(|e| format!("cannot read the hostile process: {e}"))?
            .ok_or("the hostile process exited early")?;
        serde_json::from_str(&line).map_err(|e| format!("the hostile process said {line:?}: {e}"))
    }
}
