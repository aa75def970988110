//! What a started case is measured with: the case, its fresh server, the suite's options, Ctrl-C
//! and the result to fill in. The runner builds it once the server is up and hands it to the
//! measuring side, `client_case` (a client run) or `memory_case` (idle connections in steps);
//! both watch the same server and Ctrl-C, and fill in the same result.

use std::time::Instant;

use tokio::sync::watch;

use crate::case::Case;
use crate::case_result::CaseResult;

use super::options::RunOptions;
use super::server::CaseServer;

/// A started case, handed to the side that measures it.
pub(super) struct Measuring<'a> {
    /// The case.
    pub case: &'a Case,
    /// Its fresh server, stopped by the measuring side.
    pub server: CaseServer,
    /// How the suite is run (pinning, for the stop).
    pub opts: &'a RunOptions,
    /// Turns true on Ctrl-C.
    pub interrupt: &'a mut watch::Receiver<bool>,
    /// Filled in: status, error, figures, the server's cost.
    pub result: &'a mut CaseResult,
    /// When the case began (for the client's log of how long it took).
    pub started: Instant,
}
