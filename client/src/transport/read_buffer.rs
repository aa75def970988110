//! The read buffer the SSE and raw-TCP subscribers own: bytes read from the socket but not yet
//! decoded, doubled when a chunk or line does not fit, up to a limit; and the receive loop both
//! run over it ([`receive_buffered`]).
//!
//! Owning the buffer (rather than reading through a buffered reader) is what lets those two
//! subscribers say exactly how many received bytes are still undecoded at a phase boundary,
//! which makes their byte accounting exact. A production client would also shrink it again after
//! one large event; the lab keeps the high-water size.

use tokio::io::{AsyncRead, AsyncReadExt};

use super::SubError;
use crate::subscriber::Subscriber;
use crate::subscriber::meter::Meter;
use crate::tls::NetStream;
use crate::wire_counter::WireCounter;

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

/// A subscriber that reads its connection into a [`ReadBuffer`] of its own and decodes from it;
/// its `unconsumed` is what that buffer (and its decoder) still holds.
pub trait BufferedReader: Subscriber + Send {
    /// The error when the server ends the connection ("event stream ended by server", …).
    const ENDED_BY_SERVER: &'static str;

    /// The buffer and the connection it is filled from.
    fn buffer_and_stream(&mut self) -> (&mut ReadBuffer, &mut WireCounter<NetStream>);

    /// Hands every complete unit in the buffer (a chunk, a line) to `meter` and consumes it.
    fn decode(&mut self, meter: &mut Meter) -> Result<(), SubError>;
}

/// `Subscriber::receive` of a [`BufferedReader`]: decodes what set-up left in the buffer, then
/// reads and decodes until the meter is done. Boundaries are crossed at idle moments (the
/// undecoded bytes moving with their events to the next phase), or right after a read once one
/// is overdue because the stream never goes idle.
pub async fn receive_buffered<R: BufferedReader>(
    reader: &mut R,
    meter: &mut Meter,
) -> Result<(), SubError> {
    let boundary = tokio::time::sleep_until(meter.boundary().into());
    tokio::pin!(boundary);
    reader.decode(meter)?;
    loop {
        tokio::select! {
            biased;
            n = async {
                let (buf, stream) = reader.buffer_and_stream();
                buf.read_from(stream).await
            } => {
                if n? == 0 {
                    return Err(SubError::Closed(R::ENDED_BY_SERVER.into()));
                }
                reader.decode(meter)?;
                if meter.overdue() && meter.cross(reader.unconsumed()) {
                    return Ok(());
                }
            }
            () = &mut boundary => {
                if meter.cross(reader.unconsumed()) {
                    return Ok(());
                }
                boundary.as_mut().reset(meter.boundary().into());
            }
        }
    }
}
