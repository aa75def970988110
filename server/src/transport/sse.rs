//! Server-Sent Events (`GET /sse`): one HTTP response that never ends, one text block per event.
//!
//! SSE (WHATWG HTML §9.2) is the simplest push: the client makes one ordinary GET, the server
//! answers `Content-Type: text/event-stream` and keeps writing to the body. The body is a series of
//! blocks separated by a blank line; each line is `field: value`. The feed uses two fields:
//!
//! ```text
//! id: 42
//! data: {"seq":42,"ts":1763769600123456789,"data":"..."}
//!
//! ```
//!
//! `id` is what makes SSE resumable for free: the browser's `EventSource` remembers the last id
//! and, when the connection drops, reconnects by itself with a `Last-Event-ID: 42` header. The
//! server replays the history after 42, then continues live (`?after=N` does the same for clients
//! that build the URL themselves). A line starting with `:` is a comment; the server sends `:\n\n`
//! as a heartbeat after `--heartbeat-interval` of silence, so proxies and the client's own idle
//! timers see traffic on quiet streams.
//!
//! Because the body has no length, HTTP/1.1 sends it chunked: actix wraps every block in
//! `<hex size>\r\n … \r\n`. Each block is one chunk, written as soon as it exists; nothing here may
//! buffer (which is why the app installs no `Compress` middleware).
//!
//! A slow SSE reader is cut off like any subscriber: its stream simply ends, and `EventSource`
//! reconnects with its last id, losing nothing if it comes back within the history window.
//! Production SSE would also send `retry:` to tune the reconnect delay and would disable proxy
//! buffering at the edge (the `X-Accel-Buffering: no` header below does that for nginx).

use std::collections::VecDeque;

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use rtlab_wire::framing::SSE_HEARTBEAT;
use rtlab_wire::{Seq, Transport};
use tokio::time::{Instant, Interval, interval_at};

use super::AfterQuery;
use super::body_stream::{ChunkSource, body_stream};
use crate::counters::ConnectionGuard;
use crate::error::ApiError;
use crate::hub::{EventRef, Subscription};
use crate::state::{Admission, AppState};

/// The header `EventSource` sends when it reconnects, holding the last `id:` it saw.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// `GET /sse[?after=N]`, honouring `Last-Event-ID` (which wins over `?after`, since a browser
/// reconnects to the same URL with a newer id); admitted by [`AppState::admit`] (403, 503).
pub async fn handler(
    req: HttpRequest,
    query: web::Query<AfterQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let after = last_event_id(req.headers())?.or(query.after);
    let Admission { guard, cors } = state.admit(&req, Some(Transport::Sse))?;
    let (backlog, sub) = state.hub.subscribe_after(Transport::Sse, after);
    let heartbeat_every = state.config.heartbeat_interval;
    let stream = SseStream {
        backlog: backlog.into(),
        sub,
        guard,
        heartbeat: interval_at(Instant::now() + heartbeat_every, heartbeat_every),
        state: state.get_ref().clone(),
        last_sent: 0,
    };
    let mut response = HttpResponse::Ok();
    cors.apply(&mut response);
    Ok(response
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body_stream(stream)))
}

/// Parses the `Last-Event-ID` header: absent is `None`, a non-number is a 400.
pub fn last_event_id(headers: &HeaderMap) -> Result<Option<Seq>, ApiError> {
    let Some(value) = headers.get(LAST_EVENT_ID) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    text.parse::<Seq>().map(Some).map_err(|_| {
        ApiError::BadRequest(format!(
            "Last-Event-ID must be an event seq (a non-negative integer), got {text:?}"
        ))
    })
}

/// One SSE response body: backlog first, then live events, heartbeats when idle.
struct SseStream {
    backlog: VecDeque<EventRef>,
    sub: Subscription,
    guard: ConnectionGuard,
    heartbeat: Interval,
    state: AppState,
    last_sent: Seq,
}

impl ChunkSource for SseStream {
    /// The next block to write, or `None` to end the response (shutdown or lagging).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        while let Some(event) = self.backlog.pop_front() {
            if let Some(block) = self.block(&event) {
                return Some(block);
            }
        }
        loop {
            tokio::select! {
                biased;
                // Shutdown: every event already published and not yet sent, one block per
                // call, then the end of the body, so a client loses nothing that existed before
                // the signal (as the WebSocket's `close_after_published`).
                () = self.state.shutdown.cancelled() => return self.published_before_end(),
                next = self.sub.recv() => match next {
                    Ok(event) => if let Some(block) = self.block(&event) {
                        return Some(block);
                    },
                    Err(ended) => {
                        tracing::debug!(%ended, "sse stream ended");
                        return None;
                    }
                },
                _ = self.heartbeat.tick() => {
                    self.count(0, SSE_HEARTBEAT.len());
                    return Some(Bytes::from_static(SSE_HEARTBEAT));
                }
            }
        }
    }
}

impl SseStream {
    /// At shutdown: the next event still queued for this stream, as its block, or `None` (end
    /// the body) once there is none.
    fn published_before_end(&mut self) -> Option<Bytes> {
        while let Ok(Some(event)) = self.sub.try_recv() {
            if let Some(block) = self.block(&event) {
                return Some(block);
            }
        }
        None
    }

    /// The event's shared SSE block, unless already sent (resumption seam guard).
    fn block(&mut self, event: &EventRef) -> Option<Bytes> {
        if event.seq() <= self.last_sent {
            return None;
        }
        self.last_sent = event.seq();
        // Traffic resets the idle timer: heartbeats only ever go out on quiet streams.
        self.heartbeat.reset();
        let block = event.sse_frame().clone();
        self.count(1, block.len());
        Some(block)
    }

    fn count(&self, events: u64, bytes: usize) {
        if let Some(c) = self.guard.counters() {
            c.delivered(events, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    #[test]
    fn last_event_id_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(last_event_id(&h).unwrap(), None);
        h.insert(
            header::HeaderName::from_static(LAST_EVENT_ID),
            HeaderValue::from_static("17"),
        );
        assert_eq!(last_event_id(&h).unwrap(), Some(17));
        h.insert(
            header::HeaderName::from_static(LAST_EVENT_ID),
            HeaderValue::from_static("x"),
        );
        assert!(last_event_id(&h).is_err());
    }
}
