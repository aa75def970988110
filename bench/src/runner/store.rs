//! Writing a run as it goes: `run.json` at the start and the end, each case's file and histogram
//! as soon as the case ends, so an interrupted run keeps everything measured so far.
//!
//! File writes are blocking, so they run on tokio's blocking pool rather than on a runtime worker
//! (where they would stall the client's connections in the next case's set-up).

use std::path::PathBuf;

use crate::case_result::CaseResult;
use crate::hgrm;
use crate::results::{ResultsError, RunDir, RunInfo, write_file};

/// Runs blocking file work on tokio's blocking pool, never on a runtime worker.
pub async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ResultsError> + Send + 'static,
) -> Result<T, ResultsError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ResultsError::Io {
            path: PathBuf::from("(blocking task)"),
            cause: std::io::Error::other(e.to_string()),
        })
    })
}

/// Writes `run.json`.
pub async fn save_run(dir: &RunDir, info: &RunInfo) -> Result<(), ResultsError> {
    let (dir, info) = (dir.clone(), info.clone());
    off_runtime(move || dir.write_json(&dir.run_json(), &info)).await
}

/// Writes `cases/<id>.json` and, when the client recorded latencies, `hgrm/<id>.hgrm`.
pub async fn save_case(dir: &RunDir, result: &CaseResult) -> Result<(), ResultsError> {
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
            write_file(&dir.hgrm(&result.id), &text)?;
        }
        Ok(())
    })
    .await
}
