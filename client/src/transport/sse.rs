//! Server-Sent Events subscriber: one request, then an endless response.
//!
//! **What it costs.** One ordinary HTTP/1.1 GET with `Accept: text/event-stream`, answered by a
//! `200` whose body never ends. The body has no length, so HTTP/1.1 sends it with chunked
//! transfer coding: every write is prefixed by its size in hex and `\r\n` and followed by
//! `\r\n`. The server writes one chunk per event, `id: <seq>\ndata: <json>\n\n`, so an event of
//! `J` bytes costs `13 + digits(seq)` bytes of SSE fields plus `hex_digits(size) + 4` bytes of
//! chunking (`rtlab_wire::framing::streaming_overhead`): about 22 bytes for a 64-byte event, ten
//! times WebSocket's 2, and 25 at 64 KiB (a 5-hex-digit chunk size), but through every proxy
//! that speaks HTTP, with automatic resumption (`Last-Event-ID`) built into browsers. Heartbeat
//! comments (`:\n\n`, one chunk of 3 bytes, 8 on the wire) are keep-alive, not framing.
//! In HTTP/1.1, chunk boundaries carry no meaning: a sender may cut its body anywhere, and
//! proxies may re-chunk it. The analytic model counts one chunk per event because that is what
//! the contract's server writes (captured with `curl -N --raw` at 64 KiB: `1003A\r\n` and the
//! whole 65 594-byte block in one chunk); a server that split its events would really cost more,
//! and this subscriber would measure that, not the model.
//! Upstream there is nothing: to publish, a second connection POSTs.
//!
//! **How, and why not hyper.** One request and one endless response need no HTTP client: the
//! subscriber writes the request itself, reads the head (the tracer's [`Head`] parser), and
//! decodes the chunked body from a buffer it owns ([`parse_chunk`]), feeding each chunk's data to
//! [`EventStreamParser`]. Owning the buffer is what makes the byte accounting exact, as for the
//! tcp subscriber: at a phase boundary the bytes read but not yet turned into events are known
//! (the incomplete chunk in the buffer, plus any half block in the parser) and are moved to the
//! far side. hyper reads ahead into a buffer of its own that a socket counter cannot see; at an
//! idle moment that buffer is empty, but a saturated stream has no idle moment, and a boundary
//! forced mid-stream then put up to a whole 64 KiB event's bytes on the wrong side (the lab
//! measured 311 B of "framing" per event instead of 25). A production client would use an HTTP
//! library (and get HTTP/2, proxies); a meter that must be exact to the byte cannot. Over
//! HTTP/2 (`--http 2`) there is no way around one: `sse_h2.rs` reads the stream through
//! hyper, and pays that inexactness at phase boundaries.

use rtlab_wire::framing::streaming_overhead;
use rtlab_wire::{Transport, paths};
use tokio::io::AsyncWriteExt;

use crate::event_stream::{Block, EventStreamParser};
use crate::feed_epoch::{EPOCH_HEADER, parse_epoch};
use crate::subscriber::Subscriber;
use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::Meter;
use crate::subscriber::open::open_stream;
use crate::tls::NetStream;
use crate::trace::http::{BodyFraming, Head, parse_chunk};
use crate::transport::read_buffer::{BufferedReader, ReadBuffer, receive_buffered};
use crate::transport::{SubError, parse_event};
use crate::wire_counter::WireCounter;

/// First read buffer size; doubled when a chunk does not fit (events up to 64 KiB and more).
const INITIAL_BUFFER: usize = 8 * 1024;
/// Longest response head or chunk accepted.
const MAX_BUFFER: usize = 1024 * 1024;

/// A subscriber on `GET /sse`.
pub struct SseSubscriber {
    stream: WireCounter<NetStream>,
    buf: ReadBuffer,
    /// Chunked transfer coding (HTTP/1.1), or the raw body until close (an HTTP/1.0 server).
    chunked: bool,
    parser: EventStreamParser,
}

impl Subscriber for SseSubscriber {
    async fn connect(ctx: &Ctx, meter: &mut Meter) -> Result<Self, SubError> {
        let mut stream = open_stream(ctx, meter).await?;
        // After a drop, resume as a browser's EventSource does: with the last id seen.
        let resume = meter
            .resume_after()
            .map_or_else(String::new, |n| format!("Last-Event-ID: {n}\r\n"));
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n{resume}\r\n",
            ctx.target.path(paths::SSE),
            ctx.target.authority
        );
        stream.write_all(request.as_bytes()).await.map_err(closed)?;
        let mut s = Self {
            stream,
            buf: ReadBuffer::new(
                INITIAL_BUFFER,
                MAX_BUFFER,
                "a response head or chunk longer than 1 MiB",
            ),
            chunked: true,
            parser: EventStreamParser::new(),
        };
        let head = loop {
            let parsed = Head::parse(s.buf.filled()).map_err(not_http)?;
            if let Some(head) = parsed {
                break head;
            }
            s.read_more().await?;
        };
        let status = head.status().ok_or_else(|| not_http("no status line"))?;
        if status != 200 {
            return Err(SubError::Status(status));
        }
        let is_event_stream = head
            .header("content-type")
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_event_stream {
            return Err(SubError::Protocol(
                "GET /sse did not answer with text/event-stream".into(),
            ));
        }
        s.chunked = match head.body_framing() {
            BodyFraming::Chunked => true,
            BodyFraming::UntilClose => false,
            other => {
                return Err(SubError::Protocol(format!(
                    "an event stream must not have a fixed length ({other:?})"
                )));
            }
        };
        meter.answered(
            head.header(EPOCH_HEADER)
                .and_then(|v| parse_epoch(v.as_bytes())),
        )?;
        s.buf.consume(head.len);
        // Set-up is the request and the response head; whatever came with the head is the
        // stream's and moves to the next phase with its events.
        meter.set_up_idle(s.buf.filled().len());
        Ok(s)
    }

    async fn receive(&mut self, _ctx: &Ctx, meter: &mut Meter) -> Result<(), SubError> {
        // Starts with the bytes read along with the response head.
        receive_buffered(self, meter).await
    }

    /// Bytes read but not yet turned into events: the incomplete chunk in the buffer and any
    /// half block in the parser (exact when, as from the contract's server, every block is one
    /// chunk; a block split over chunks would leave its earlier chunks' framing on the near side).
    fn unconsumed(&self) -> usize {
        self.buf.filled().len() + self.parser.buffered()
    }
}

impl SseSubscriber {
    /// Reads once more into the buffer (for the head).
    async fn read_more(&mut self) -> Result<(), SubError> {
        if self.buf.read_from(&mut self.stream).await? == 0 {
            return Err(SubError::Closed(
                "connection closed before the response head".into(),
            ));
        }
        Ok(())
    }
}

impl BufferedReader for SseSubscriber {
    const ENDED_BY_SERVER: &'static str = super::SSE_ENDED_BY_SERVER;

    fn buffer_and_stream(&mut self) -> (&mut ReadBuffer, &mut WireCounter<NetStream>) {
        (&mut self.buf, &mut self.stream)
    }

    /// Decodes every complete chunk in the buffer (or, without chunking, every byte).
    fn decode(&mut self, meter: &mut Meter) -> Result<(), SubError> {
        let mut pos = 0;
        let bytes = self.buf.filled();
        if !self.chunked {
            on_data(&mut self.parser, bytes, Some(0), meter)?;
            pos = bytes.len();
        }
        while self.chunked {
            let parsed =
                parse_chunk(&bytes[pos..]).map_err(|e| SubError::Protocol(e.to_string()))?;
            let Some(chunk) = parsed else { break };
            if chunk.size == 0 {
                return Err(SubError::Closed(Self::ENDED_BY_SERVER.into()));
            }
            let data = &bytes[pos + chunk.data.start..pos + chunk.data.end];
            on_data(&mut self.parser, data, Some(chunk.overhead()), meter)?;
            pos += chunk.len;
        }
        if pos > 0 {
            self.buf.consume(pos);
        }
        Ok(())
    }
}

/// One chunk's data (normally one event block or one heartbeat), whose chunk framing cost
/// `chunking` bytes; `None` over HTTP/2, whose DATA frames the connection task strips unseen
/// (and for which the analytic model has no figure).
pub(crate) fn on_data(
    parser: &mut EventStreamParser,
    data: &[u8],
    chunking: Option<usize>,
    meter: &mut Meter,
) -> Result<(), SubError> {
    let was_empty = parser.buffered() == 0;
    let mut comment_bytes = 0usize;
    let mut only_comments = true;
    parser.feed(data, |block, raw_len| {
        match block {
            Block::Event { data: json, .. } => {
                only_comments = false;
                let ev = parse_event(json, "an SSE event's data")?;
                let analytic =
                    chunking.and_then(|_| streaming_overhead(Transport::Sse, ev.seq, json.len()));
                meter.event(&ev, json.len(), analytic);
            }
            Block::Comment => comment_bytes += raw_len,
            Block::Other => only_comments = false,
        }
        Ok::<(), SubError>(())
    })?;
    if comment_bytes > 0 {
        // A chunk holding nothing but heartbeats: its chunk framing is keep-alive too.
        let whole_chunk = was_empty && only_comments && parser.buffered() == 0;
        let framing = if whole_chunk {
            chunking.unwrap_or(0)
        } else {
            0
        };
        meter.keepalive(comment_bytes + framing, 0);
    }
    Ok(())
}

fn closed(e: std::io::Error) -> SubError {
    SubError::Closed(e.to_string())
}

fn not_http(e: impl std::fmt::Display) -> SubError {
    SubError::Protocol(format!("the server's answer is not HTTP/1.1: {e}"))
}
