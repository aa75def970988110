//! Why a run could not produce a report.
//!
//! A load test distinguishes two kinds of trouble. A *request* that fails in the middle of a run
//! (a refused connection among thousands, a 503, a server that drops one subscriber) is **data**:
//! it is counted by kind in [`RunReport::errors`](crate::RunReport::errors) and the run goes on.
//! A *run* fails only when no measurement is possible at all: the configuration makes no sense,
//! no subscriber could connect, the server does not speak the contract, or every subscriber is
//! gone before the window ends. Those are the [`RunError`]s, one line each, so the binary can
//! print them and exit with 1 (or 2 for a usage mistake).

use std::io;

/// A run that could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration is unusable (no clients, a URL this transport cannot use, …).
    /// The binary maps this to exit code 2, like a command-line mistake.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The server's address could not be resolved.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The host name that failed.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// Not a single subscriber could connect and set up.
    #[error("no subscriber could connect to {url}: {reason}")]
    Connect {
        /// The URL the subscribers tried.
        url: String,
        /// The first failure, e.g. "connection refused".
        reason: String,
    },
    /// The server answered, but not in the wire contract (non-JSON frame, missing `seq`, wrong
    /// status or content type).
    #[error("the server at {url} does not speak the rtlab contract: {reason}")]
    Protocol {
        /// The URL the subscribers used.
        url: String,
        /// What was wrong, from the first subscriber that saw it.
        reason: String,
    },
    /// Every subscriber lost its connection before the measured window ended (for example all
    /// disconnected as lagging: the rate was more than the transport could carry).
    #[error("every subscriber was disconnected before the run ended: {reason}")]
    AllDisconnected {
        /// The first disconnect's reason.
        reason: String,
        /// What was measured until then (no `/stats` window), for callers that chart where a
        /// transport gave up.
        partial: Option<Box<crate::RunReport>>,
    },
    /// One shard of a sharded run (`--shards`) failed: it could not start, measured nothing,
    /// or gave no answer in time. The run fails with it, because a merge without it would not
    /// be the run asked for.
    #[error("shard {index} of {shards} failed: {reason}")]
    Shard {
        /// The shard's number, from 0.
        index: u32,
        /// How many shards the run has.
        shards: u32,
        /// What went wrong, on one line.
        reason: String,
    },
    /// A subscriber task panicked or was lost: a bug in the client, not in the server.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RunError {
    /// Whether this is a usage mistake (exit code 2) rather than a failed run (exit code 1).
    pub fn is_usage(&self) -> bool {
        matches!(self, RunError::Config(_))
    }
}
