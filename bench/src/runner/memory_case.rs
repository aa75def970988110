//! A memory case: no client; idle connections opened in steps up to the case's `clients`
//! ([`memory_steps`]), the server's RSS read after each (`crate::connection_memory`), and the
//! memory per connection taken as the slope of RSS against connections.

use crate::case_result::CaseStatus;
use crate::connection_memory;

use super::case::Measuring;
use super::options::CASE_TIMEOUT_SLACK;

/// Opens the connections in steps against `server`, stops it, and fills in `result`: status, the
/// RSS points and their slope, or the error, and the server's cost.
pub(super) async fn run(measuring: Measuring<'_>) {
    let Measuring {
        case,
        server,
        opts,
        interrupt,
        result,
        ..
    } = measuring;
    let steps = memory_steps(case.params.clients);
    let limit = case.estimated_once() + CASE_TIMEOUT_SLACK;
    let measure = tokio::time::timeout(
        limit,
        connection_memory::measure(
            server.process.pid(),
            server.process.http,
            server.process.tcp,
            case.transport,
            &steps,
        ),
    );
    let outcome = tokio::select! {
        m = measure => Some(m.unwrap_or(Err(connection_memory::MemoryError::Timeout(limit)))),
        status = server.process.exited() => {
            result.error = Some(format!("the server died mid-case ({status})"));
            None
        }
        _ = interrupt.wait_for(|stop| *stop) => {
            result.status = CaseStatus::Interrupted;
            result.error = Some("interrupted (Ctrl-C)".into());
            None
        }
    };
    let (process, _, mut cost) = server.stop(opts.pin).await;
    match outcome {
        Some(Ok(memory)) => {
            result.status = CaseStatus::Ok;
            result.connection_memory = Some(memory);
        }
        Some(Err(e)) => {
            result.error = Some(e.to_string());
            result.server_stderr_tail = Some(process.tail());
        }
        None => {}
    }
    cost.memory_per_connection_bytes = result
        .connection_memory
        .as_ref()
        .map(|m| m.bytes_per_connection);
    result.server = Some(cost);
}

/// The connection counts a memory case steps through: five equal steps up to `clients`.
pub fn memory_steps(clients: u64) -> Vec<u64> {
    let steps = connection_memory::STEPS.len() as u64;
    (1..=steps).map(|i| (clients * i / steps).max(1)).collect()
}
