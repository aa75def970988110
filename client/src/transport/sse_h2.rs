//! Server-Sent Events over HTTP/2 (`--http 2`): the same event stream, as one stream of an
//! HTTP/2 connection.
//!
//! **What changes on the wire.** There is no chunked transfer coding: each write of the
//! server's becomes a `DATA` frame with a 9-byte frame header, so an event costs its SSE fields
//! (`id:`, `data:`, the blank line) plus 9 bytes where HTTP/1.1 paid 4–9 bytes of chunk size
//! and CRLFs; the request and response heads are HPACK-compressed; and the client grants the
//! server flow-control credit with `WINDOW_UPDATE` frames, a few bytes *up* per window's worth
//! of data down, which HTTP/1.1 never sends. Many subscribers may share one connection
//! (`--streams-per-connection`, see `h2_pool.rs`), which is what lets a browser open more than
//! six EventSources to one origin.
//!
//! **How.** hyper's HTTP/2 client ([`HttpClient`]) sends `GET /sse`; the response body's data
//! frames are fed to the same [`EventStreamParser`] as HTTP/1.1's chunks. hyper's connection
//! task reads ahead of the body, so at a phase boundary the bytes it holds cannot be moved to
//! their events' side: the boundaries here are exact to within the frames in flight, and the
//! analytic framing figure is not given (the model is HTTP/1.1's chunking).

use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rtlab_wire::paths;

use crate::event_stream::EventStreamParser;
use crate::feed_epoch::epoch_of;
use crate::subscriber::Subscriber;
use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::Meter;
use crate::transport::SubError;
use crate::transport::http::{HttpClient, hyper_error};
use crate::transport::long_poll::open_first;
use crate::transport::sse::on_data;

/// A subscriber on `GET /sse` over HTTP/2.
pub struct SseH2Subscriber {
    /// Kept so that the connection lives as long as the stream.
    _client: HttpClient,
    body: Incoming,
    parser: EventStreamParser,
}

impl Subscriber for SseH2Subscriber {
    async fn connect(ctx: &Ctx, meter: &mut Meter) -> Result<Self, SubError> {
        let mut client = open_first(ctx, meter).await?;
        // After a drop, resume after the last seq seen (`?after=N`, as `Last-Event-ID` would).
        let resume = meter
            .resume_after()
            .map_or_else(String::new, |n| format!("?after={n}"));
        let path = format!("{}{resume}", ctx.target.path(paths::SSE));
        let resp = client
            .send(Method::GET, &path, Bytes::new(), Some("text/event-stream"))
            .await?;
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
        meter.answered(epoch_of(resp.headers()))?;
        // Set-up is the connection's (TLS, preface, SETTINGS), the request and the response
        // head; its bytes are taken at the first idle moment.
        meter.set_up();
        Ok(Self {
            _client: client,
            body: resp.into_body(),
            parser: EventStreamParser::new(),
        })
    }

    async fn receive(&mut self, _ctx: &Ctx, meter: &mut Meter) -> Result<(), SubError> {
        let boundary = tokio::time::sleep_until(meter.boundary().into());
        tokio::pin!(boundary);
        loop {
            tokio::select! {
                biased;
                frame = self.body.frame() => {
                    match frame {
                        None => {
                            return Err(SubError::Closed("event stream ended by server".into()));
                        }
                        Some(Err(e)) => return Err(hyper_error(e)),
                        Some(Ok(frame)) => {
                            if let Some(data) = frame.data_ref() {
                                on_data(&mut self.parser, data, None, meter)?;
                            }
                        }
                    }
                    if meter.overdue() && meter.cross(self.parser.buffered()) {
                        return Ok(());
                    }
                }
                () = &mut boundary => {
                    if meter.cross(self.parser.buffered()) {
                        return Ok(());
                    }
                    boundary.as_mut().reset(meter.boundary().into());
                }
            }
        }
    }

    fn unconsumed(&self) -> usize {
        self.parser.buffered()
    }
}
