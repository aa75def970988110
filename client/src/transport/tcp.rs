//! Raw-TCP baseline subscriber: connect, then read lines.
//!
//! **What it costs.** Nothing but the event JSON and a `\n` per event: no handshake, no headers,
//! no framing beyond the newline (1 byte). It is not a web transport (no browser can open it, no
//! proxy understands it) and is here only as the floor: the latency and the bytes that any web
//! transport spends above this line are what its web-friendliness costs.
//!
//! **How.** The subscriber owns its read buffer, so it knows exactly how many received bytes are
//! still unparsed; phase boundaries subtract them, which makes its byte accounting exact even
//! when events arrive back to back.

use rtlab_wire::framing::TCP_LINE_OVERHEAD;

use crate::subscriber::Subscriber;
use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::Meter;
use crate::subscriber::open::open_stream;
use crate::tls::NetStream;
use crate::transport::read_buffer::{BufferedReader, ReadBuffer, receive_buffered};
use crate::transport::{SubError, parse_event};
use crate::wire_counter::WireCounter;

/// First read buffer size; doubled when a line does not fit (payloads up to 64 KiB).
const INITIAL_BUFFER: usize = 16 * 1024;
/// Longest line accepted: a 64 KiB payload JSON-escaped, with room to spare.
const MAX_LINE: usize = 1024 * 1024;

/// A subscriber on the raw-TCP listener.
pub struct TcpSubscriber {
    stream: WireCounter<NetStream>,
    buf: ReadBuffer,
}

impl Subscriber for TcpSubscriber {
    async fn connect(ctx: &Ctx, meter: &mut Meter) -> Result<Self, SubError> {
        let stream = open_stream(ctx, meter).await?;
        // No handshake: set-up is the TCP connect alone, zero bytes.
        meter.set_up_idle(0);
        Ok(Self {
            stream,
            buf: ReadBuffer::new(INITIAL_BUFFER, MAX_LINE, "a line longer than 1 MiB"),
        })
    }

    async fn receive(&mut self, _ctx: &Ctx, meter: &mut Meter) -> Result<(), SubError> {
        receive_buffered(self, meter).await
    }

    fn unconsumed(&self) -> usize {
        self.buf.filled().len()
    }
}

impl BufferedReader for TcpSubscriber {
    const ENDED_BY_SERVER: &'static str = "connection closed by server";

    fn buffer_and_stream(&mut self) -> (&mut ReadBuffer, &mut WireCounter<NetStream>) {
        (&mut self.buf, &mut self.stream)
    }

    /// Every complete line is an event.
    fn decode(&mut self, meter: &mut Meter) -> Result<(), SubError> {
        let mut start = 0;
        let bytes = self.buf.filled();
        while let Some(nl) = bytes[start..].iter().position(|&b| b == b'\n') {
            let line = &bytes[start..start + nl];
            let ev = parse_event(line, "a TCP line")?;
            meter.event(&ev, line.len(), Some(TCP_LINE_OVERHEAD));
            start += nl + 1;
        }
        if start > 0 {
            self.buf.consume(start);
        }
        Ok(())
    }
}
