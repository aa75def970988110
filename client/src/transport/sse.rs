//! Server-Sent Events subscriber: one request, then an endless response.
//!
//! **What it costs.** One ordinary HTTP/1.1 GET with `Accept: text/event-stream`, answered by a
//! `200` whose body never ends. The body has no length, so HTTP/1.1 sends it with chunked
//! transfer coding: every write is prefixed by its size in hex and `\r\n` and followed by
//! `\r\n`. The server writes one chunk per event, `id: <seq>\ndata: <json>\n\n`, so an event of
//! `J` bytes costs `13 + digits(seq)` bytes of SSE fields plus `hex_digits(size) + 4` bytes of
//! chunking (`rtlab_wire::framing::streaming_overhead`): about 22 bytes for a 64-byte event, ten
//! times WebSocket's 2, but through every proxy that speaks HTTP, with automatic resumption
//! (`Last-Event-ID`) built into browsers. Heartbeat comments (`:\n\n`, one chunk of 3 bytes,
//! 8 on the wire) are keep-alive, not framing. Upstream there is nothing: to publish, a second
//! connection POSTs.
//!
//! **How.** hyper's `client::conn::http1` over the counted socket; the body's frames are the
//! de-chunked bytes, which [`EventStreamParser`] splits into blocks. The `Connection` future is
//! polled in this task, between two polls of the body, so that "the body has nothing more"
//! really means every byte read has been parsed (the condition for crossing a phase boundary
//! exactly; see `transport/mod.rs`).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::Empty;
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use rtlab_wire::framing::{chunk_overhead, streaming_overhead};
use rtlab_wire::{EventView, Transport, paths};
use tokio::net::TcpStream;

use crate::event_stream::{Block, EventStreamParser};
use crate::transport::{Ctx, FORCE_CROSS_AFTER, Meter, Phase, SubError, Subscriber};
use crate::wire_counter::WireCounter;

type Io = TokioIo<WireCounter<TcpStream>>;

/// A subscriber on `GET /sse`.
pub struct SseSubscriber {
    // Kept so hyper does not wind the connection down after this one response.
    _sender: SendRequest<Empty<Bytes>>,
    conn: Pin<Box<Connection<Io, Empty<Bytes>>>>,
    conn_done: bool,
    body: Incoming,
    parser: EventStreamParser,
}

enum Step {
    Data(Bytes),
    End,
    Failed(String),
    Boundary,
}

impl Subscriber for SseSubscriber {
    async fn connect(ctx: &Ctx, meter: &mut Meter) -> Result<Self, SubError> {
        let stream = ctx.connect(meter.bytes.clone()).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| SubError::Closed(e.to_string()))?;
        let mut conn = Box::pin(conn);
        let req = Request::get(ctx.target.path(paths::SSE))
            .header(header::HOST, &ctx.target.authority)
            .header(header::ACCEPT, "text/event-stream")
            .body(Empty::new())
            .map_err(|e| SubError::Protocol(format!("cannot build request: {e}")))?;
        // Drive the connection while waiting for the response head. If the connection ends
        // first, the response future still says why (e.g. the answer was not HTTP).
        let mut conn_done = false;
        let mut send = std::pin::pin!(sender.send_request(req));
        let resp = tokio::select! {
            biased;
            r = &mut send => r,
            r = conn.as_mut() => {
                conn_done = true;
                r.map_err(super::http::hyper_error)?;
                send.await
            }
        }
        .map_err(super::http::hyper_error)?;
        if resp.status() != StatusCode::OK {
            return Err(SubError::Status(resp.status().as_u16()));
        }
        let is_event_stream = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_event_stream {
            return Err(SubError::Protocol(
                "GET /sse did not answer with text/event-stream".into(),
            ));
        }
        meter.set_up();
        Ok(Self {
            _sender: sender,
            conn,
            conn_done,
            body: resp.into_body(),
            parser: EventStreamParser::new(),
        })
    }

    async fn receive(mut self, _ctx: &Ctx, meter: &mut Meter) -> Result<(), SubError> {
        let result = self.run(meter).await;
        meter.finish(self.parser.buffered());
        result
    }
}

impl SseSubscriber {
    async fn run(&mut self, meter: &mut Meter) -> Result<(), SubError> {
        if meter.phase() == Phase::Done {
            return Ok(());
        }
        let boundary = tokio::time::sleep_until(meter.boundary().into());
        tokio::pin!(boundary);
        loop {
            let step = poll_fn(|cx| {
                let body_step =
                    |body: &mut Incoming, cx: &mut std::task::Context<'_>| match Pin::new(body)
                        .poll_frame(cx)
                    {
                        Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                            Ok(data) => Poll::Ready(Step::Data(data)),
                            Err(_trailers) => Poll::Ready(Step::Data(Bytes::new())),
                        },
                        Poll::Ready(Some(Err(e))) => Poll::Ready(Step::Failed(e.to_string())),
                        Poll::Ready(None) => Poll::Ready(Step::End),
                        Poll::Pending => Poll::Pending,
                    };
                if let Poll::Ready(s) = body_step(&mut self.body, cx) {
                    return Poll::Ready(s);
                }
                if !self.conn_done
                    && let Poll::Ready(r) = self.conn.as_mut().poll(cx)
                {
                    self.conn_done = true;
                    if let Err(e) = r {
                        return Poll::Ready(Step::Failed(e.to_string()));
                    }
                }
                // The connection may just have handed the body a frame: look again, so that
                // "idle" below really means nothing is waiting.
                if let Poll::Ready(s) = body_step(&mut self.body, cx) {
                    return Poll::Ready(s);
                }
                if boundary.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Step::Boundary);
                }
                Poll::Pending
            })
            .await;
            match step {
                Step::Data(data) => {
                    self.on_data(&data, meter)?;
                    if meter.overdue() && meter.cross(self.parser.buffered()) {
                        return Ok(());
                    }
                }
                Step::End => return Err(SubError::Closed("event stream ended by server".into())),
                Step::Failed(e) => return Err(SubError::Closed(e)),
                Step::Boundary => {
                    let buffered = self.parser.buffered();
                    if buffered > 0
                        && meter.phase() != Phase::Setup
                        && Instant::now() < meter.boundary() + FORCE_CROSS_AFTER
                    {
                        // Half an event is buffered: its bytes would straddle the boundary.
                        // Try again in a moment (and give up waiting after a while).
                        let retry = tokio::time::Instant::now() + Duration::from_millis(1);
                        boundary.as_mut().reset(retry);
                        continue;
                    }
                    // Approximate when forced: the chunk header of the partial block is
                    // counted on the near side.
                    if meter.cross(buffered) {
                        return Ok(());
                    }
                    boundary.as_mut().reset(meter.boundary().into());
                }
            }
        }
    }

    /// One body frame (normally one chunk, i.e. one event block or one heartbeat).
    fn on_data(&mut self, data: &[u8], meter: &mut Meter) -> Result<(), SubError> {
        let was_empty = self.parser.buffered() == 0;
        let mut comment_bytes = 0usize;
        let mut only_comments = true;
        self.parser.feed(data, |block, raw_len| {
            match block {
                Block::Event { data: json, .. } => {
                    only_comments = false;
                    let ev =
                        EventView::parse(json).map_err(|e| SubError::Protocol(e.to_string()))?;
                    let analytic = streaming_overhead(Transport::Sse, ev.seq, json.len());
                    meter.event(&ev, json.len(), analytic);
                }
                Block::Comment => comment_bytes += raw_len,
                Block::Other => only_comments = false,
            }
            Ok::<(), SubError>(())
        })?;
        if comment_bytes > 0 {
            // A chunk holding nothing but heartbeats: its chunk framing is keep-alive too.
            let whole_chunk = was_empty && only_comments && self.parser.buffered() == 0;
            let chunking = if whole_chunk {
                chunk_overhead(data.len())
            } else {
                0
            };
            meter.keepalive(comment_bytes + chunking, 0);
        }
        Ok(())
    }
}
