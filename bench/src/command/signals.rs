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
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return "interrupted";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = term.recv() => "terminated (SIGTERM)",
        _ = hup.recv() => "hung up (SIGHUP)",
    }
}
