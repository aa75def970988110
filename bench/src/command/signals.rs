//! Stopping a run in order: Ctrl-C (SIGINT), SIGTERM and SIGHUP each stop the current case's
//! server and leave a partial report, so the server child is never left behind (only SIGKILL,
//! which no process can catch, could do that; the server's parent-death guard covers it).

use tokio::sync::watch;

/// Spawns a task that waits for a stop signal, says so on stderr, and turns the returned flag
/// `true`. Call inside the runtime.
pub fn watch_stop_signals() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let name = stop_signal().await;
        eprintln!(
            "\nrtlab: {name}: stopping the server and writing a partial report (results so far are kept)"
        );
        let _ = tx.send(true);
    });
    rx
}

/// Waits for Ctrl-C (SIGINT), SIGTERM or SIGHUP, and names the one that came.
async fn stop_signal() -> &'static str {
    match StopSignals::listen() {
        Ok(mut signals) => signals.recv().await,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted"
        }
    }
}

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP, caught from the moment [`listen`](Self::listen)
/// returns: a signal that comes before the first `await` is kept for [`recv`](Self::recv)
/// instead of taking its default action (ending the process at once). `rtlab shape` listens
/// before it prints where it listens, so whoever reads that line may signal it right away.
#[derive(Debug)]
pub(crate) struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts catching the three signals. Call inside the runtime.
    pub(crate) fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next of them, and names it.
    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "interrupted",
            _ = self.terminate.recv() => "terminated (SIGTERM)",
            _ = self.hangup.recv() => "hung up (SIGHUP)",
        }
    }
}
