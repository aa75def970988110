//! One case end to end: start a fresh server, measure, stop it, and record how it went.
//!
//! A case never fails as a function: a server that does not start, dies, or a client error is
//! written into the [`CaseResult`] (status, error, the server's last words), so the suite goes on.

use std::time::Instant;

use tokio::sync::watch;

use crate::case::Case;
use crate::case_result::{CaseResult, CaseStatus, SCHEMA_VERSION};
use crate::scenario::Kind;
use crate::server_process::ServerProcessError;

use super::measuring::Measuring;
use super::options::RunOptions;
use super::server::CaseServer;
use super::{client_case, memory_case};

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
        calibration: None,
    };
    match CaseServer::start(case, opts).await {
        Err(e) => {
            result.error = Some(e.to_string());
            if let ServerProcessError::Startup { tail, .. } = &e {
                result.server_stderr_tail = Some(tail.clone());
            }
        }
        Ok(server) => {
            let measuring = Measuring {
                case,
                server,
                opts,
                interrupt,
                result: &mut result,
                started,
            };
            if case.kind == Kind::Memory {
                memory_case::run(measuring).await;
            } else {
                client_case::run(measuring).await;
            }
        }
    }
    result.wall_s = started.elapsed().as_secs_f64();
    result
}
