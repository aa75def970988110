//! Graceful shutdown: how the server stops without losing what is in flight.
//!
//! A server that just exits on SIGTERM cuts every connection mid-frame: WebSocket clients see an
//! abnormal closure (1006), SSE clients a truncated chunk, parked long polls a reset. The contract
//! asks for better, in this order ([`crate::RunningServer::shutdown`]):
//!
//! 1. **Stop accepting.** actix's graceful stop command stops the HTTP acceptor at once and the
//!    TCP accept loop drops its listener; a request that slips in on an open connection is
//!    answered 503.
//! 2. **Tell every connection.** One [`CancellationToken`](tokio_util::sync::CancellationToken) is
//!    cancelled; every long-lived task races its waits against it. WebSockets send close 1001
//!    ("going away"), SSE streams end their chunked body cleanly, parked long polls answer with
//!    what they have (usually `[]`), TCP subscribers get a FIN, and the ticker stops.
//! 3. **Drain.** actix's graceful stop waits for in-flight responses to finish and closes idle
//!    keep-alive connections, bounded by [`SHUTDOWN_GRACE`], so the process exits within the
//!    contract's 5 s even if a client never reads its close frame.
//!
//! actix-web installs its own signal handlers by default and would race this order; the server
//! disables them (`disable_signals`) and [`ShutdownSignals`] listens with `tokio::signal` instead.
//! Production deployments usually add a readiness flag flipped first, so a load balancer stops
//! routing before connections are told to leave.

use std::time::Duration;

/// Longest time actix's graceful stop may wait for in-flight connections after they were told to
/// close; well under the contract's 5 s, so the process always exits in time.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// SIGINT and SIGTERM, listened for from the moment this is created.
///
/// Create it *before* announcing the server (the `listening` line): a signal that arrives earlier
/// would otherwise hit the default action and kill the process with no graceful shutdown at all.
#[derive(Debug)]
pub struct ShutdownSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Installs the handlers (needs a tokio runtime).
    pub fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Resolves on the first SIGINT or SIGTERM (Ctrl-C elsewhere). Returns the signal's name.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
