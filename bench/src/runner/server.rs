//! A case's server once started: the process, its `/proc` sampler, and its memory before any
//! client connected.
//!
//! Both kinds of case — a client run and a memory case — start the server the same way and
//! record the same cost fields when they stop it, so that part is written once here. What each
//! case adds to the cost (CPU in the window, memory per connection) is its own.

use crate::case::Case;
use crate::case_result::ServerCost;
use crate::certificate::TlsFiles;
use crate::proc_sampler::{ProcSample, ProcSeries, Sampler, read_sample};
use crate::server_process::{ServerOptions, ServerProcess, ServerProcessError};

use super::options::RunOptions;

/// A started server and what is watching it.
#[derive(Debug)]
pub struct CaseServer {
    /// The server process.
    pub process: ServerProcess,
    /// Samples its CPU and RSS every 100 ms.
    sampler: Sampler,
    /// Its RSS once listening, before any client: the baseline of memory per connection.
    baseline: Option<ProcSample>,
    /// The certificate it serves TLS with, for a case over TLS.
    pub tls: Option<TlsFiles>,
}

impl CaseServer {
    /// Starts the server with the case's settings, reads its baseline, starts sampling it.
    pub async fn start(case: &Case, opts: &RunOptions) -> Result<Self, ServerProcessError> {
        let tls = match case.params.security {
            Some(s) if s.is_tls() => Some(opts.tls.clone().ok_or_else(|| {
                ServerProcessError::Startup {
                    reason: format!("case {} is over TLS but the run made no certificate", case.id()),
                    tail: String::new(),
                }
            })?),
            _ => None,
        };
        let server_opts = ServerOptions {
            rate: case.params.rate,
            payload_bytes: case.params.payload_bytes,
            subscriber_queue: case.params.subscriber_queue,
            keepalive_interval: case
                .params
                .keepalive_interval_ms
                .map(|ms| std::time::Duration::from_secs_f64(ms / 1e3)),
            max_connections: (case.params.clients * 2).max(1024),
            pin: opts.pin,
            tls: tls.clone(),
        };
        let process = ServerProcess::start(&opts.server_bin, &server_opts).await?;
        let pid = process.pid();
        tracing::debug!(case = %case.id(), pid, http = %process.http, tcp = %process.tcp, "server started");
        let baseline = tokio::task::spawn_blocking(move || read_sample(pid))
            .await
            .ok()
            .and_then(Result::ok);
        let sampler = Sampler::start(pid);
        Ok(CaseServer {
            process,
            sampler,
            baseline,
            tls,
        })
    }

    /// Ends the sampling, then stops the server (SIGTERM, then SIGKILL). Returns the process (for
    /// its last output lines), the samples, and the cost fields every case records.
    pub async fn stop(self, pinned: bool) -> (ServerProcess, ProcSeries, ServerCost) {
        let CaseServer {
            mut process,
            sampler,
            baseline,
            tls: _,
        } = self;
        let series = sampler.finish().await;
        let exit = process.stop().await;
        let cost = ServerCost {
            pid: Some(process.pid()),
            pinned,
            cpu_seconds_total: series.samples.last().map_or(0.0, |s| s.cpu_s),
            rss_baseline_bytes: baseline.map_or(0, |b| b.rss_bytes),
            rss_peak_bytes: series.rss_peak(),
            samples: series.samples.len(),
            exit: exit.map(|s| s.to_string()),
            ..ServerCost::default()
        };
        (process, series, cost)
    }
}
