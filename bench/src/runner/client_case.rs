//! A client case: the client library runs in this process against the case's server for warm-up
//! and window, while the runner watches for the server dying and for Ctrl-C.
//!
//! **Server CPU in the window.** The client opens its connections at a known rate, waits the
//! warm-up, then measures for `duration`; the runner places the window the same way from the
//! moment it started the client (never past the client's return), and interpolates the server's
//! CPU seconds at both ends from the samples. Set-up, warm-up and teardown are not counted. The
//! client's own CPU is sampled the same way, to tell a client-bound case apart: this process's,
//! plus, with `--client-shards`, each shard process's (sampled from its start to its exit).

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::RunReport;
use crate::case_result::CaseStatus;
use crate::client_run::{CONNECT_RATE, Endpoints, run_client, start_delay};
use crate::proc_sampler::{ProcSeries, Sampler};

use super::measuring::Measuring;
use super::options::CASE_TIMEOUT_SLACK;

/// Least server CPU time in a window for "CPU per 1 000 events" to be reported: `/proc` counts in
/// 10 ms ticks, so 50 ms keeps the error under about 20 %.
pub const MIN_CPU_SECONDS: f64 = 0.05;

/// Starts a sampler for each client shard process as its id arrives; the task ends, with the
/// samplers, once the client has returned (and dropped the sender).
fn sample_shards() -> (mpsc::UnboundedSender<u32>, JoinHandle<Vec<Sampler>>) {
    let (pids, mut arriving) = mpsc::unbounded_channel();
    let samplers = tokio::spawn(async move {
        let mut samplers = Vec::new();
        while let Some(pid) = arriving.recv().await {
            samplers.push(Sampler::start(pid));
        }
        samplers
    });
    (pids, samplers)
}

/// The shard processes' CPU series (each ends at its process's exit).
async fn finish_shards(samplers: JoinHandle<Vec<Sampler>>) -> Vec<ProcSeries> {
    let mut series = Vec::new();
    for s in samplers.await.unwrap_or_default() {
        series.push(s.finish().await);
    }
    series
}

/// How the client part of a case ended.
enum Outcome {
    Client(Box<Result<RunReport, String>>),
    ServerDied(std::process::ExitStatus),
    Interrupted,
}

/// Runs the client against `server`, stops the server, and fills in `result`: status, the
/// client's report or the error, the server's cost and the client's CPU share.
pub(super) async fn run(measuring: Measuring<'_>) {
    let Measuring {
        case,
        server,
        opts,
        interrupt,
        result,
        started,
    } = measuring;
    // The client bounds itself; this is a last resort so that one stuck case cannot stall a suite.
    let limit = case.estimated_once() + CASE_TIMEOUT_SLACK;
    // The client runs in this process and, when sharded, in child processes: its CPU is theirs
    // together, each sampled like the server's.
    let client_sampler = Sampler::start(std::process::id());
    let (shard_pids, shard_samplers) = sample_shards();
    let at = Endpoints {
        http: server.process.http,
        tcp: server.process.tcp,
        tcp_tls: server.process.tcp_tls,
        ca: server.tls.as_ref().map(|t| t.cert.clone()),
    };
    // A sharded client's clock starts a moment after it is called (its processes start first).
    let client_start = Instant::now() + start_delay(case, &at, opts.client_shards);
    let client = tokio::time::timeout(
        limit,
        run_client(case, &at, opts.client_shards, shard_pids),
    );
    let outcome = tokio::select! {
        r = client => Outcome::Client(Box::new(
            r.unwrap_or_else(|_| Err(format!("the client did not finish within {limit:?}"))),
        )),
        status = server.process.exited() => Outcome::ServerDied(status),
        _ = interrupt.wait_for(|stop| *stop) => Outcome::Interrupted,
    };
    let client_end = Instant::now();
    tracing::debug!(case = %case.id(), elapsed = ?started.elapsed(), "client finished; stopping the server");
    let client_series = client_sampler.finish().await;
    let shard_series = finish_shards(shard_samplers).await;
    let (process, series, mut cost) = server.stop(opts.pin).await;

    // The client opens its connections at CONNECT_RATE, waits the warm-up, then measures: the
    // window is placed from the client's start (its teardown after the window is not counted).
    let ramp = Duration::from_secs_f64(case.params.clients.saturating_sub(1) as f64 / CONNECT_RATE);
    let window = Duration::from_secs_f64(case.params.duration_s);
    let window_start = (client_start + ramp + Duration::from_secs_f64(case.params.warmup_s))
        .min(client_end.checked_sub(window).unwrap_or(client_start));
    let window_end = (window_start + window).min(client_end);
    if let Some(cpu) = series.cpu_between(window_start, window_end) {
        cost.cpu_seconds = cpu;
        cost.cpu_utilisation = cpu / case.params.duration_s;
    }
    result.client_cpu_utilisation =
        client_series
            .cpu_between(window_start, window_end)
            .map(|own| {
                let shards: f64 = shard_series
                    .iter()
                    .filter_map(|s| s.cpu_between(window_start, window_end))
                    .sum();
                (own + shards) / case.params.duration_s
            });
    cost.memory_per_connection_bytes = Some(
        cost.rss_peak_bytes.saturating_sub(cost.rss_baseline_bytes) as f64
            / case.params.clients as f64,
    );
    match outcome {
        Outcome::Client(r) => match *r {
            Ok(report) => {
                // Below a few clock ticks of CPU the ratio is noise (/proc counts in 10 ms ticks).
                if report.events_received > 0 && cost.cpu_seconds >= MIN_CPU_SECONDS {
                    cost.cpu_ms_per_1000_events =
                        Some(cost.cpu_seconds * 1e6 / report.events_received as f64);
                }
                result.status = CaseStatus::Ok;
                result.client = Some(report);
            }
            Err(e) => {
                result.error = Some(format!("client: {e}"));
                result.server_stderr_tail = Some(process.tail());
            }
        },
        Outcome::ServerDied(status) => {
            result.error = Some(format!("the server died mid-case ({status})"));
            result.server_stderr_tail = Some(process.tail());
        }
        Outcome::Interrupted => {
            result.status = CaseStatus::Interrupted;
            result.error = Some("interrupted (Ctrl-C)".into());
        }
    }
    result.server = Some(cost);
}
