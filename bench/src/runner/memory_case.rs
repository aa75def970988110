//! A memory case: no client; idle connections opened in steps up to the case's `clients`
//! ([`memory_steps`]), the server's RSS read after each (`crate::connection_memory`), and the
//! memory per connection taken as the slope of RSS against connections.

use crate::case_result::CaseStatus;
use crate::connection_memory;

use super::measuring::Measuring;
use super::options::CASE_TIMEOUT_SLACK;

/// Opens the connections in steps against `server`, stops it, and fills in `result`: status, the
/// RSS points and their slope, or the error, and the server's cost.
pub(super) async fn run(m: Measuring<'_>) {
    let steps = memory_steps(m.case.params.clients);
    let limit = m.case.estimated_once() + CASE_TIMEOUT_SLACK;
    let measure = tokio::time::timeout(
        limit,
        connection_memory::measure(
            m.server.process.pid(),
            m.server.process.http,
            m.server.process.tcp,
            m.case.transport,
            &steps,
        ),
    );
    let outcome = tokio::select! {
        measured = measure => Some(measured.unwrap_or(Err(connection_memory::MemoryError::Timeout(limit)))),
        status = m.server.process.exited() => {
            m.result.error = Some(format!("the server died mid-case ({status})"));
            None
        }
        _ = m.interrupt.wait_for(|stop| *stop) => {
            m.result.status = CaseStatus::Interrupted;
            m.result.error = Some("interrupted (Ctrl-C)".into());
            None
        }
    };
    let (process, _, mut cost) = m.server.stop(m.opts.pin).await;
    match outcome {
        Some(Ok(memory)) => {
            m.result.status = CaseStatus::Ok;
            m.result.connection_memory = Some(memory);
        }
        Some(Err(e)) => {
            m.result.error = Some(e.to_string());
            m.result.server_stderr_tail = Some(process.tail());
        }
        None => {}
    }
    cost.memory_per_connection_bytes = m
        .result
        .connection_memory
        .as_ref()
        .map(|cm| cm.bytes_per_connection);
    m.result.server = Some(cost);
}

/// The connection counts a memory case steps through: five equal steps up to `clients`.
pub fn memory_steps(clients: u64) -> Vec<u64> {
    let steps = connection_memory::STEPS.len() as u64;
    (1..=steps).map(|i| (clients * i / steps).max(1)).collect()
}
