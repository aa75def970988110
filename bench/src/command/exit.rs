//! The exit policy of `rtlab`: what the exit code says about a run.
//!
//! Scripts and CI read the code, not the output: `0` every case ran and succeeded, `1` the run
//! finished but some case failed (its report says which and why), `130` it was interrupted
//! (128 + SIGINT, as shells report it; the partial results are kept), and [`ERROR_CODE`] (`2`)
//! nothing useful ran (a bad suite, no server binary, an unreadable folder).

use crate::runner::RunOutcome;

/// The exit code when a command could not do its work at all.
pub const ERROR_CODE: u8 = 2;

/// How a command that did its work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for ran and succeeded.
    Success,
    /// The run finished, but at least one case failed.
    CasesFailed,
    /// The run was stopped by Ctrl-C, SIGTERM or SIGHUP.
    Interrupted,
}

impl Exit {
    /// How a suite run ended.
    pub fn of_run(outcome: &RunOutcome) -> Exit {
        if outcome.info.status == crate::results::RunStatus::Interrupted {
            Exit::Interrupted
        } else if outcome.all_ok() {
            Exit::Success
        } else {
            Exit::CasesFailed
        }
    }

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::CasesFailed => 1,
            Exit::Interrupted => 130,
        }
    }
}
