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
//! A case with `repeat = N` goes through steps 1–3 N times, each with a fresh server, and is
//! written with every repetition's headline figures ([`crate::repeat`]). The repetitions are not
//! run in a row: the first pass runs every case once, and each later pass the repeated cases
//! again, so that a case's range spans the whole run and shows the machine's drift.
//!
//! **Failure isolation.** A server that does not start or dies mid-case, or a client error, marks
//! *that* case failed (with the server's last output lines) and the suite goes on; the exit code
//! says something failed. Ctrl-C stops the current case's server, marks the run interrupted and
//! still writes the report from what was measured.
//!
//! | file | part |
//! |---|---|
//! | [`calibration`] | the models' inputs, measured once before the first case |
//! | [`case`] | one case end to end: start the server, measure, record how it went |
//! | [`measuring`] | a started case, as handed to the side that measures it |
//! | [`server`] | a case's started server: process, `/proc` sampler, baseline RSS, cost |
//! | [`client_case`] | the client run and the server's CPU in the window |
//! | [`memory_case`] | idle connections in steps and the RSS slope |
//! | [`options`] | how a suite is run, and the limit every case shares |
//! | [`store`] | `run.json` and each case's files written as soon as they are known |
//! | [`progress`] | the progress bar and one line per case |

pub mod calibration;
pub mod case;
pub mod client_case;
pub mod measuring;
pub mod memory_case;
pub mod options;
pub mod progress;
pub mod server;
pub mod store;

use std::path::Path;

use tokio::sync::watch;

pub use case::run_case;
pub use options::RunOptions;

use crate::case::Case;
use crate::case_result::{CaseResult, CaseStatus, SCHEMA_VERSION};
use crate::certificate::TlsFiles;
use crate::machine::{self, MachineInfo};
use crate::repeat;
use crate::results::{
    ResultsError, RunDir, RunInfo, RunStatus, ScenarioInfo, check_reference_provenance,
};
use crate::security::Security;
use crate::suite::Suite;
use store::{off_runtime, save_case, save_run};

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
    out: &Path,
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
    let git_commit = tokio::task::spawn_blocking(machine::git_commit)
        .await
        .unwrap_or_else(|_| "unknown".into());
    // Before the folder is created: creating it replaces an earlier run of the same name.
    check_reference_provenance(name.as_deref(), &git_commit)?;
    let dir = off_runtime(move || RunDir::create(&root, &suite_name, name.as_deref())).await?;
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
    // The cases over TLS share one certificate (see `certificate.rs`), made in a temporary
    // folder and removed after the last case: a private key has no place among the results.
    let mut opts = opts.clone();
    let tls_dir = std::env::temp_dir().join(format!("rtlab-run-tls-{}", std::process::id()));
    if suite
        .cases
        .iter()
        .any(|c| c.params.security.is_some_and(Security::is_tls))
    {
        let tls_dir = tls_dir.clone();
        opts.tls = Some(
            off_runtime(move || {
                TlsFiles::generate(&tls_dir).map_err(|e| ResultsError::Io {
                    path: tls_dir.clone(),
                    cause: std::io::Error::other(e.to_string()),
                })
            })
            .await?,
        );
    }
    let opts = &opts;

    let total_ms = suite.estimated().as_millis() as u64;
    let bar = progress::bar(total_ms, opts.progress);
    // The models' inputs, measured apart from every case (see `crate::calibration`).
    bar.set_message("calibration");
    let calibration = match calibration::calibrate(opts).await {
        Ok(c) => {
            progress::println(&bar, progress::calibration_line(&c));
            Some(c)
        }
        Err(e) => {
            progress::println(
                &bar,
                format!("calibration failed ({e}): the report leaves out the models that need it"),
            );
            None
        }
    };
    bar.inc(crate::calibration::ESTIMATED.as_millis() as u64);
    // Pass 0 runs every case once, in the suite's order; each later pass runs again only the
    // cases that repeat. So a case's repetitions lie minutes apart, spread over the whole run, and
    // their range shows how the machine drifts over the time a suite takes, not only the noise of
    // a few windows in a row (which agree with each other better than two runs of the suite do).
    let n = suite.cases.len();
    let passes = suite
        .cases
        .iter()
        .map(|c| c.repeat.max(1))
        .max()
        .unwrap_or(1);
    let mut runs: Vec<Vec<CaseResult>> = vec![Vec::new(); n];
    'passes: for pass in 0..passes {
        for (i, case) in suite.cases.iter().enumerate() {
            if case.repeat.max(1) <= pass {
                continue;
            }
            if *interrupt.borrow() {
                break 'passes;
            }
            bar.set_message(case.id());
            let result = run_case(case, opts, &mut interrupt).await;
            let stopped = result.status == CaseStatus::Interrupted;
            let line = progress::case_line(i + 1, n, &result);
            runs[i].push(result);
            // Written after every repetition, folded, so an interrupted run keeps what it has.
            if let Some(mut folded) = repeat::fold(runs[i].clone()) {
                folded.calibration = calibration.clone();
                save_case(&dir, &folded).await?;
            }
            progress::println(
                &bar,
                if pass == 0 {
                    line
                } else {
                    format!("{line}  (repetition {}/{})", pass + 1, case.repeat)
                },
            );
            bar.inc(case.estimated_once().as_millis() as u64);
            if stopped {
                break 'passes;
            }
        }
    }
    let mut cases = Vec::new();
    for r in runs {
        let Some(mut result) = repeat::fold(r) else {
            continue;
        };
        result.calibration = calibration.clone();
        match result.status {
            CaseStatus::Ok => info.cases_ok += 1,
            _ => info.cases_failed += 1,
        }
        cases.push(result);
    }
    bar.finish_and_clear();
    if opts.tls.is_some() {
        let _ = tokio::fs::remove_dir_all(&tls_dir).await;
    }
    info.finished = Some(now_rfc3339());
    info.status = if *interrupt.borrow() {
        RunStatus::Interrupted
    } else {
        RunStatus::Complete
    };
    save_run(&dir, &info).await?;
    Ok(RunOutcome { dir, info, cases })
}

/// Now, as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
