//! Errors of the contract: the JSON error body every failed request carries, and what can go wrong
//! when decoding what a server sent.

use serde::{Deserialize, Serialize};

/// The body of every error response: `{"error":"<what was wrong>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A sentence for a person: what was wrong with the request.
    pub error: String,
}

impl ErrorBody {
    /// An error body with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            error: message.into(),
        }
    }
}

/// Why received bytes are not what the contract promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not an event JSON object (or array of them): not JSON, a missing key, a wrong type.
    #[error("not a contract event: {0}")]
    BadEvent(String),
    /// A transport name that is none of ws, sse, long-poll, short-poll, tcp.
    #[error("unknown transport {0:?} (expected ws, sse, long-poll, short-poll or tcp)")]
    UnknownTransport(String),
}
