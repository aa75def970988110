//! The read buffer the SSE and raw-TCP subscribers own: bytes read from the socket but not yet
//! decoded, doubled when a chunk or line does not fit, up to a limit.
//!
//! Owning the buffer (rather than reading through a buffered reader) is what lets those two
//! subscribers say exactly how many received bytes are still undecoded at a phase boundary,
//! which makes their byte accounting exact. A production client would also shrink it again after
//! one large event; the lab keeps the high-water size.

use tokio::io::{AsyncRead, AsyncReadExt};

use super::SubError;

/// Received bytes, decoded from the front (`consume`) and filled at the back (`read_from`).
pub struct ReadBuffer {
    bytes: Vec<u8>,
    filled: usize,
    /// The size past which it does not grow, and the protocol error that says so.
    max: usize,
    too_long: &'static str,
}

impl ReadBuffer {
    /// An empty buffer of `initial` bytes that may double up to `max`; a read into a full buffer
    /// of `max` bytes fails with `SubError::Protocol(too_long)`.
    pub fn new(initial: usize, max: usize, too_long: &'static str) -> Self {
        Self {
            bytes: vec![0; initial],
            filled: 0,
            max,
            too_long,
        }
    }

    /// The bytes read and not yet consumed.
    pub fn filled(&self) -> &[u8] {
        &self.bytes[..self.filled]
    }

    /// Reads once from `source` (doubling the buffer first when it is full); `Ok(0)` at EOF.
    /// Cancel-safe as long as `source`'s read is: nothing is counted until bytes arrive.
    pub async fn read_from<R: AsyncRead + Unpin>(
        &mut self,
        source: &mut R,
    ) -> Result<usize, SubError> {
        if self.filled == self.bytes.len() {
            if self.bytes.len() >= self.max {
                return Err(SubError::Protocol(self.too_long.into()));
            }
            self.bytes.resize(self.bytes.len() * 2, 0);
        }
        let n = source
            .read(&mut self.bytes[self.filled..])
            .await
            .map_err(|e| SubError::Closed(e.to_string()))?;
        self.filled += n;
        Ok(n)
    }

    /// Drops the first `n` buffered bytes (decoded).
    pub fn consume(&mut self, n: usize) {
        self.bytes.copy_within(n..self.filled, 0);
        self.filled -= n;
    }
}
