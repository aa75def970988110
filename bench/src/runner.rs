//! Running a suite: one fresh server per case, the client in process, the cost from `/proc`.
//!
//! For each case (scenario × swept value × transport) the runner
//! 1. starts `rtlab-server` with the case's settings ([`crate::server_process`]) and reads its
//!    RSS before any client connects (the baseline for memory per connection);
//! 2. samples the server's CPU and RSS every 100 ms ([`crate::proc_sampler`]);
//! 3. runs the client library (`rtlab_client::run`) for warm-up + window, while watching for the
//!    server dying and for Ctrl-C;
//! 4. stops the server (SIGTERM, then SIGKILL) and writes `cases/<id>.json` and its `.hgrm` at
//!    once, so an interrupted run keeps everything measured so far.
//!
//! A case with `repeat = N` goes through steps 1–3 N times in a row, each with a fresh server, and
//! is written once with every repetition's headline figures ([`crate::repeat`]).
//!
//! **Failure isolation.** A server that does not start or dies mid-case, or a client error, marks
//! *that* case failed (with the server's last output lines) and the suite goes on; the exit code
//! says something failed. Ctrl-C stops the current case's server, marks the run interrupted and
//! still writes the report from what was measured.
//!
//! **Server CPU in the window.** The client opens its connections at a known rate, waits the
//! warm-up, then measures for `duration`; the runner places the window the same way from the
//! moment it started the client (never past the client's return), and interpolates the server's
//! CPU seconds at both ends from the samples. Set-up, warm-up and teardown are not counted.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use crate::case::Case;
use crate::case_result::{CaseResult, CaseStatus, SCHEMA_VERSION, ServerCost};
use crate::client_run::{CONNECT_RATE, run_client};
use crate::connection_memory;
use crate::proc_sampler::{Sampler, read_sample};
use crate::results::{ResultsError, RunDir, RunInfo, RunStatus, ScenarioInfo};
use crate::scenario::Kind;
use crate::server_process::{ServerOptions, ServerProcess};
use crate::suite::Suite;
use crate::{hgrm, machine::MachineInfo, repeat};

/// Least server CPU time in a window for "CPU per 1 000 events" to be reported: `/proc` counts in
/// 10 ms ticks, so 50 ms keeps the error under about 20 %.
pub const MIN_CPU_SECONDS: f64 = 0.05;

/// Slack beyond a case's estimated time before the runner gives up on its client.
pub const CASE_TIMEOUT_SLACK: Duration = Duration::from_secs(60);

/// How to run a suite.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The server binary.
    pub server_bin: PathBuf,
    /// Pin server and client to separate cores.
    pub pin: bool,
    /// Show the progress bar (stderr).
    pub progress: bool,
}

/// What a run left behind.
#[derive(Debug)]
pub struct RunOutcome {
    /// The results folder.
    pub dir: RunDir,
    /// `run.json` as written.
    pub info: RunInfo,
    /// Every case that ran.
    pub cases: Vec<CaseResult>,
}

impl RunOutcome {
    /// Whether every planned case ran and succeeded.
    pub fn all_ok(&self) -> bool {
        self.info.status == RunStatus::Complete
            && self.cases.iter().all(|c| c.status == CaseStatus::Ok)
    }
}

/// Runs every case of `suite` into a new folder under `out` (named `name`, or by time and suite).
/// `interrupt` turns `true` on Ctrl-C.
pub async fn run_suite(
    suite: &Suite,
    out: &std::path::Path,
    name: Option<&str>,
    machine: MachineInfo,
    opts: &RunOptions,
    mut interrupt: watch::Receiver<bool>,
) -> Result<RunOutcome, ResultsError> {
    let (root, suite_name, name) = (
        out.to_path_buf(),
        suite.name.clone(),
        name.map(str::to_owned),
    );
    let dir = off_runtime(move || RunDir::create(&root, &suite_name, name.as_deref())).await?;
    let git_commit = tokio::task::spawn_blocking(crate::machine::git_commit)
        .await
        .unwrap_or_else(|_| "unknown".into());
    let mut info = RunInfo {
        schema_version: SCHEMA_VERSION,
        suite: suite.name.clone(),
        suite_source: suite.source.clone(),
        git_commit,
        machine,
        started: now_rfc3339(),
        finished: None,
        status: RunStatus::Running,
        cases: suite.cases.iter().map(Case::id).collect(),
        cases_ok: 0,
        cases_failed: 0,
        scenarios: suite
            .scenarios
            .iter()
            .map(|s| ScenarioInfo {
                name: s.name.clone(),
                kind: s.kind,
                about: s.about.clone(),
            })
            .collect(),
    };
    save_run(&dir, &info).await?;

    let total_ms: u64 = suite
        .cases
        .iter()
        .map(|c| c.estimated().as_millis() as u64)
        .sum();
    let bar = if opts.progress {
        ProgressBar::new(total_ms)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {percent:>3}% {elapsed} elapsed, ETA {eta}  {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut cases = Vec::new();
    let n = suite.cases.len();
    for (i, case) in suite.cases.iter().enumerate() {
        if *interrupt.borrow() {
            break;
        }
        bar.set_message(case.id());
        let Some(result) = run_repeats(case, opts, &mut interrupt).await else {
            break;
        };
        save_case(&dir, &result).await?;
        // One line per case: through the bar on a terminal, plainly otherwise (CI logs, pipes).
        let line = progress_line(i + 1, n, &result);
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
        bar.inc(case.estimated().as_millis() as u64);
        match result.status {
            CaseStatus::Ok => info.cases_ok += 1,
            _ => info.cases_failed += 1,
        }
        cases.push(result);
    }
    bar.finish_and_clear();
    info.finished = Some(now_rfc3339());
    info.status = if *interrupt.borrow() {
        RunStatus::Interrupted
    } else {
        RunStatus::Complete
    };
    save_run(&dir, &info).await?;
    Ok(RunOutcome { dir, info, cases })
}

/// Runs a case `case.repeat` times, each with a fresh server, and folds the repetitions into one
/// result ([`repeat::fold`]). A Ctrl-C stops after the repetition it interrupted; `None` only if
/// no repetition ran.
async fn run_repeats(
    case: &Case,
    opts: &RunOptions,
    interrupt: &mut watch::Receiver<bool>,
) -> Option<CaseResult> {
    let mut runs = Vec::new();
    for k in 0..case.repeat.max(1) {
        if k > 0 && *interrupt.borrow() {
            break;
        }
        let result = run_case(case, opts, interrupt).await;
        let stop = result.status == CaseStatus::Interrupted;
        runs.push(result);
        if stop {
            break;
        }
    }
    repeat::fold(runs)
}

/// Runs blocking file work on tokio's blocking pool, never on a runtime worker.
async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ResultsError> + Send + 'static,
) -> Result<T, ResultsError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ResultsError::Io {
            path: PathBuf::from("(blocking task)"),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

/// Writes `run.json`.
async fn save_run(dir: &RunDir, info: &RunInfo) -> Result<(), ResultsError> {
    let (dir, info) = (dir.clone(), info.clone());
    off_runtime(move || dir.write_json(&dir.run_json(), &info)).await
}

/// Writes `cases/<id>.json` and, when the client recorded latencies, `hgrm/<id>.hgrm`.
async fn save_case(dir: &RunDir, result: &CaseResult) -> Result<(), ResultsError> {
    let (dir, result) = (dir.clone(), result.clone());
    off_runtime(move || {
        dir.write_json(&dir.case_json(&result.id), &result)?;
        if let Some(h) = result
            .ok()
            .and_then(|r| hgrm::decode(&r.latency_histogram_b64))
        {
            let mut text = Vec::new();
            // Writing into a Vec cannot fail.
            let _ =
                rtlab_client::write_hgrm(&h, rtlab_client::printer::HGRM_SCALE_US_TO_MS, &mut text);
            crate::results::write_file(&dir.hgrm(&result.id), &text)?;
        }
        Ok(())
    })
    .await
}

/// One line per case for the progress output.
fn progress_line(i: usize, n: usize, r: &CaseResult) -> String {
    let width = n.to_string().len();
    match (r.status, r.ok()) {
        (CaseStatus::Ok, Some(c)) => format!(
            "[{i:>width$}/{n}] {:<34} ok   p50 {:>9}  p99 {:>9}  {:>10} ev/s{}",
            r.id,
            crate::format::micros(c.latency_us.p50),
            crate::format::micros(c.latency_us.p99),
            format!("{:.0}", c.events_per_s),
            if c.lost > 0 {
                format!("  LOST {}", c.lost)
            } else {
                String::new()
            },
        ),
        (status, _) => format!(
            "[{i:>width$}/{n}] {:<34} {}: {}",
            r.id,
            format!("{status:?}").to_uppercase(),
            r.error
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        ),
    }
}

/// Runs one case end to end. Never fails: failures are recorded in the result.
pub async fn run_case(
    case: &Case,
    opts: &RunOptions,
    interrupt: &mut watch::Receiver<bool>,
) -> CaseResult {
    let started = Instant::now();
    let mut result = CaseResult {
        schema_version: SCHEMA_VERSION,
        id: case.id(),
        scenario: case.scenario.clone(),
        kind: case.kind,
        transport: case.transport,
        point: case.point,
        params: case.params.clone(),
        status: CaseStatus::Failed,
        error: None,
        server_stderr_tail: None,
        wall_s: 0.0,
        server: None,
        client: None,
        client_cpu_utilisation: None,
        connection_memory: None,
        repeats: Vec::new(),
    };
    let server_opts = ServerOptions {
        rate: case.params.rate,
        payload_bytes: case.params.payload_bytes,
        subscriber_queue: case.params.subscriber_queue,
        max_connections: (case.params.clients * 2).max(1024),
        pin: opts.pin,
    };
    let mut server = match ServerProcess::start(&opts.server_bin, &server_opts).await {
        Ok(s) => s,
        Err(e) => {
            result.error = Some(e.to_string());
            if let crate::server_process::ServerError::Startup { tail, .. } = &e {
                result.server_stderr_tail = Some(tail.clone());
            }
            result.wall_s = started.elapsed().as_secs_f64();
            return result;
        }
    };
    let pid = server.pid();
    tracing::debug!(case = %case.id(), pid, http = %server.http, tcp = %server.tcp, "server started");
    let baseline = tokio::task::spawn_blocking(move || read_sample(pid))
        .await
        .ok()
        .and_then(Result::ok);
    let sampler = Sampler::start(pid);
    if case.kind == Kind::Memory {
        return run_memory_case(
            case, server, sampler, baseline, opts, interrupt, result, started,
        )
        .await;
    }

    enum Outcome {
        Client(Box<Result<crate::RunReport, String>>),
        ServerDied(std::process::ExitStatus),
        Interrupted,
    }
    // The client bounds itself; this is a last resort so that one stuck case cannot stall a suite.
    let limit = case.estimated_once() + CASE_TIMEOUT_SLACK;
    // The client runs in this process: its CPU is this process's, sampled like the server's.
    let client_sampler = Sampler::start(std::process::id());
    let client_start = Instant::now();
    let client = tokio::time::timeout(limit, run_client(case, server.http, server.tcp));
    let outcome = tokio::select! {
        r = client => Outcome::Client(Box::new(
            r.unwrap_or_else(|_| Err(format!("the client did not finish within {limit:?}"))),
        )),
        status = server.exited() => Outcome::ServerDied(status),
        _ = interrupt.wait_for(|stop| *stop) => Outcome::Interrupted,
    };
    let client_end = Instant::now();
    tracing::debug!(case = %case.id(), elapsed = ?started.elapsed(), "client finished; stopping the server");
    let series = sampler.finish().await;
    let client_series = client_sampler.finish().await;
    let exit = server.stop().await;

    let mut cost = ServerCost {
        pid: Some(pid),
        pinned: opts.pin,
        cpu_seconds_total: series.samples.last().map_or(0.0, |s| s.cpu_s),
        rss_baseline_bytes: baseline.map_or(0, |b| b.rss_bytes),
        rss_peak_bytes: series.rss_peak(),
        samples: series.samples.len(),
        exit: exit.map(|s| s.to_string()),
        ..ServerCost::default()
    };
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
    result.client_cpu_utilisation = client_series
        .cpu_between(window_start, window_end)
        .map(|cpu| cpu / case.params.duration_s);
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
                result.server_stderr_tail = Some(server.tail());
            }
        },
        Outcome::ServerDied(status) => {
            result.error = Some(format!("the server died mid-case ({status})"));
            result.server_stderr_tail = Some(server.tail());
        }
        Outcome::Interrupted => {
            result.status = CaseStatus::Interrupted;
            result.error = Some("interrupted (Ctrl-C)".into());
        }
    }
    result.server = Some(cost);
    result.wall_s = started.elapsed().as_secs_f64();
    result
}

/// A `memory` case: instead of the client, idle connections opened in steps up to the case's
/// `clients` ([`memory_steps`]), the server's RSS read after each ([`crate::connection_memory`]).
#[allow(clippy::too_many_arguments)] // one call site; the pieces are run_case's locals
async fn run_memory_case(
    case: &Case,
    mut server: ServerProcess,
    sampler: Sampler,
    baseline: Option<crate::proc_sampler::Sample>,
    opts: &RunOptions,
    interrupt: &mut watch::Receiver<bool>,
    mut result: CaseResult,
    started: Instant,
) -> CaseResult {
    let steps = memory_steps(case.params.clients);
    let limit = case.estimated_once() + CASE_TIMEOUT_SLACK;
    let measure = tokio::time::timeout(
        limit,
        connection_memory::measure(
            server.pid(),
            server.http,
            server.tcp,
            case.transport,
            &steps,
        ),
    );
    let outcome = tokio::select! {
        m = measure => Some(m.unwrap_or(Err(connection_memory::MemoryError::Timeout(limit)))),
        status = server.exited() => {
            result.error = Some(format!("the server died mid-case ({status})"));
            None
        }
        _ = interrupt.wait_for(|stop| *stop) => {
            result.status = CaseStatus::Interrupted;
            result.error = Some("interrupted (Ctrl-C)".into());
            None
        }
    };
    let series = sampler.finish().await;
    let exit = server.stop().await;
    match outcome {
        Some(Ok(memory)) => {
            result.status = CaseStatus::Ok;
            result.connection_memory = Some(memory);
        }
        Some(Err(e)) => {
            result.error = Some(e.to_string());
            result.server_stderr_tail = Some(server.tail());
        }
        None => {}
    }
    result.server = Some(ServerCost {
        pid: Some(server.pid()),
        pinned: opts.pin,
        cpu_seconds_total: series.samples.last().map_or(0.0, |s| s.cpu_s),
        rss_baseline_bytes: baseline.map_or(0, |b| b.rss_bytes),
        rss_peak_bytes: series.rss_peak(),
        memory_per_connection_bytes: result
            .connection_memory
            .as_ref()
            .map(|m| m.bytes_per_connection),
        samples: series.samples.len(),
        exit: exit.map(|s| s.to_string()),
        ..ServerCost::default()
    });
    result.wall_s = started.elapsed().as_secs_f64();
    result
}

/// The connection counts a memory case steps through: five equal steps up to `clients`.
pub fn memory_steps(clients: u64) -> Vec<u64> {
    let steps = connection_memory::STEPS.len() as u64;
    (1..=steps).map(|i| (clients * i / steps).max(1)).collect()
}

/// Now, as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
