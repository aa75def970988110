//! How a suite is run: which server binary, whether to pin, whether to show progress, and the
//! limit every case shares.

use std::path::PathBuf;
use std::time::Duration;

use crate::certificate::TlsFiles;

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
    /// Client processes each case's subscribers are split over (1: the client runs in this
    /// process; see `client_run.rs`).
    pub client_shards: u32,
    /// The certificate of the cases over TLS, made by [`run_suite`](super::run_suite) in the
    /// run's folder when the suite has one (leave `None`).
    pub tls: Option<TlsFiles>,
}
