//! WebSocket (`GET /ws`): one text frame per event, both directions on one connection.
//!
//! After an HTTP/1.1 upgrade handshake (RFC 6455 §4), client and server exchange *frames*: a 2–10
//! byte header (opcode, length) and a payload. Every event leaves as one unmasked text frame holding
//! the event JSON, which is the cheapest framing of the web transports (2 bytes for a small event).
//! The connection is full duplex, so a text frame *from* the client is published as a new event.
//!
//! **One body, both directions.** actix-web does the handshake; after it, this connection is a
//! single state machine, `WsFeed`, which is the upgrade response's *body*: a stream that
//! actix's connection task polls whenever the socket can take more, exactly as it polls an SSE
//! body. No task, channel or lock stands between the hub and the socket:
//!
//! - **Events out.** A server → client frame is unmasked, so every subscriber gets the same bytes:
//!   the hub encodes each event's whole frame once ([`crate::hub::EncodedEvent::ws_frame`]) and the
//!   body hands that buffer over as it is, with no per-subscriber encoding or copy. When several
//!   events are ready (a burst, or a slow reader catching up) they leave in one buffer, as the
//!   raw-TCP floor batches its lines.
//! - **Frames in.** The same state machine reads the client's frames through actix-ws (the request
//!   payload is the rest of the connection): text is published, a ping is answered with a pong, a
//!   close or a broken rule ends the connection with the right code. Pings, pongs and close frames
//!   are encoded here ([`rtlab_wire::framing::ws_frame`]), so one place decides the order of
//!   everything on the wire.
//!
//! (actix-ws's own `Session` would put a 32-message channel, a second task's wake-up, and a header
//! encoding plus payload copy between the hub and the socket for every frame; measured with 1 000
//! subscribers, that made our WebSocket saturate at about a third of the raw-TCP floor, a fact
//! about our server that the charts presented as a fact about RFC 6455. A reader task and a
//! control channel of its own cost about 2 KiB per connection more than this single body.)
//!
//! Three things a WebSocket server must do by hand, and how:
//!
//! - **Keep-alive.** A TCP connection whose peer vanished (laptop lid closed, NAT entry expired)
//!   looks open forever. The server sends a ping every `--ping-interval`; any frame from the peer
//!   (the pong, usually) proves it alive, and a peer silent for [`MISSED_PINGS`] intervals is
//!   closed (1008 "ping timeout"). The client's own pings are answered with pongs.
//! - **Backpressure.** The body is polled only when actix's write buffer has room, so a client
//!   that stops reading simply stops it; its cursor falls behind, the hub cuts it off at
//!   `--subscriber-queue` events, and it gets close 1008 "lagging" after what was already written,
//!   if it ever reads again. A healthy client beside it is never slowed.
//! - **Shutdown.** On SIGTERM every feed socket gets the events already published and then close
//!   1001 "going away".
//!
//! What the client sends is held to RFC 6455 exactly as on `/ws/echo` ([`super::ws_message`]):
//! masked frames, no reserved bits or opcodes, well-formed fragmentation and close frames (else
//! 1002), UTF-8 text also across fragments (else 1007), and one message, reassembled, at most
//! `--max-publish-bytes` (else 1009), the same limit as `POST /publish`. A client's close is
//! answered with its own code, after which nothing more is sent.
//!
//! Resumption: `?after=N` replays the history after N, then continues live. The backlog and the
//! live subscription are taken atomically from the hub, and the connection still drops any seq it has
//! already sent, so the seam has neither gap nor duplicate.
//!
//! In production one would add per-message compression negotiation, authentication on the
//! handshake and a write timeout at the socket level; none of them change what is measured here.

use std::collections::VecDeque;

use actix_web::body::{BodyStream, BoxBody};
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::CloseCode;
use bytes::{Bytes, BytesMut};
use rtlab_wire::framing::{ws_close_frame, ws_frame, ws_opcode};
use rtlab_wire::{Seq, Transport, defaults};
use tokio::time::{Instant, Interval, interval_at};

use super::body_stream::{ChunkSource, body_stream};
use super::ws_message::{Incoming, Messages, upgrade};
use super::{AfterQuery, MAX_BATCH_BYTES};
use crate::counters::{ConnectionGuard, TransportCounters};
use crate::error::ApiError;
use crate::hub::{EventRef, Origin, Subscription, SubscriptionEnded};
use crate::state::AppState;

/// Ping intervals a peer may stay silent before it is considered gone and closed.
pub const MISSED_PINGS: u32 = 2;

/// Events taken from the hub under one lock while filling a batch.
const BATCH_EVENTS: usize = 256;

/// Payload of the server's pings (any bytes would do; a name helps in packet captures).
const PING_PAYLOAD: &[u8] = b"rtlab";

/// `GET /ws[?after=N]`: validates the handshake (JSON 400 otherwise), is admitted by
/// [`AppState::admit`] (JSON 503 or 403), and answers the upgrade with the connection's state
/// machine as the body.
pub async fn handler(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<AfterQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (response, session, messages) = upgrade(&req, body, state.config.max_publish_bytes)?;
    // Frames go out through the body below, never through actix-ws's session.
    drop(session);
    let guard = state.admit(&req, Some(Transport::Ws))?.guard;
    let (backlog, sub) = state.hub.subscribe_after(Transport::Ws, query.after);
    // actix-ws's response body is kept, unpolled, inside ours: actix-ws ends the message
    // stream when that body is dropped, i.e. exactly when this connection's response ends.
    let (response, actix_ws_body) = response.into_parts();
    let ping_every = state.config.ping_interval;
    let feed = WsFeed {
        backlog: backlog.into(),
        sub,
        messages,
        pings: interval_at(Instant::now() + ping_every, ping_every),
        last_heard: Instant::now(),
        guard,
        state: state.get_ref().clone(),
        last_sent: 0,
        closed: false,
        _actix_ws_body: actix_ws_body,
    };
    Ok(response
        .set_body(BodyStream::new(body_stream(feed)))
        .map_into_boxed_body())
}

/// The upgrade response's body: one `/ws` connection, both directions.
struct WsFeed {
    /// Events taken (the `?after` replay, or the hub's ready events) but not yet written.
    backlog: VecDeque<EventRef>,
    sub: Subscription,
    /// The client's frames, checked against RFC 6455 (see [`super::ws_message`]).
    messages: Messages,
    pings: Interval,
    /// When the client last sent anything (a pong, usually).
    last_heard: Instant,
    guard: ConnectionGuard,
    state: AppState,
    last_sent: Seq,
    /// A close frame has been written: the body ends.
    closed: bool,
    _actix_ws_body: BoxBody,
}

impl ChunkSource for WsFeed {
    /// The next bytes to write, or `None` to end the response (after a close, or when the peer is
    /// gone).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.closed {
            return None;
        }
        while let Some(first) = self.backlog.pop_front() {
            if first.seq() > self.last_sent {
                return Some(self.frames(first));
            }
        }
        loop {
            // Priority: with a busy feed `sub.recv()` is always ready, so it comes last: the
            // client's frames (its pongs above all) and our pings must not wait behind events,
            // or a healthy peer would be closed for "silence".
            tokio::select! {
                biased;
                () = self.state.shutdown.cancelled() => {
                    return Some(self.close_after_published(CloseCode::Away, "server shutting down"));
                }
                msg = self.messages.recv() => {
                    self.last_heard = Instant::now();
                    match msg {
                        Some(Ok(Incoming::Text(text))) => {
                            match &self.state.feed.broker {
                                Some(broker) => broker.publish_in_background(String::from(text)).await,
                                None => {
                                    self.state.hub.publish(String::from(text), Origin::Client);
                                }
                            }
                        }
                        Some(Ok(Incoming::Ping(payload))) => {
                            return Some(self.control_frame(ws_opcode::PONG, &payload));
                        }
                        // Pongs only prove liveness (noted above); binary is not the feed.
                        Some(Ok(Incoming::Pong(_) | Incoming::Binary(_))) => {}
                        // §5.5.1: answer with the same code; a close without one with 1000.
                        Some(Ok(Incoming::Close(reason))) => {
                            let code = reason.map_or(CloseCode::Normal, |r| r.code);
                            return Some(self.close(code, ""));
                        }
                        Some(Err(violation)) => {
                            return Some(self.close(violation.close_code(), violation.reason()));
                        }
                        // The socket is gone (read EOF or error).
                        None => return None,
                    }
                }
                _ = self.pings.tick() => {
                    let silence_limit = self.state.config.ping_interval * MISSED_PINGS;
                    if self.last_heard.elapsed() > silence_limit {
                        return Some(self.close(CloseCode::Policy, "ping timeout"));
                    }
                    return Some(self.control_frame(ws_opcode::PING, PING_PAYLOAD));
                }
                next = self.sub.recv() => match next {
                    Ok(event) => {
                        if event.seq() > self.last_sent {
                            return Some(self.frames(event));
                        }
                    }
                    Err(SubscriptionEnded::Lagged) => {
                        let code = CloseCode::from(defaults::LAGGING_CLOSE_CODE);
                        return Some(self.close(code, defaults::LAGGING_CLOSE_REASON));
                    }
                    Err(SubscriptionEnded::Closed) => return None,
                },
            }
        }
    }
}

impl WsFeed {
    /// `first`'s frame and those of whatever else is ready (the backlog, then the hub), up to
    /// [`MAX_BATCH_BYTES`], as one buffer; a lone event's shared frame goes out without a copy.
    fn frames(&mut self, first: EventRef) -> Bytes {
        self.last_sent = first.seq();
        let mut events = 1;
        let out = if self.backlog.is_empty() && !self.refill() {
            first.ws_frame().clone()
        } else {
            // Sized to what is staged, not to the cap: at high rates a batch is often two or three
            // small frames, and this buffer is allocated once per batch.
            let staged = first.ws_frame().len() * (self.backlog.len() + 1);
            let mut buf = BytesMut::with_capacity(staged.min(MAX_BATCH_BYTES));
            buf.extend_from_slice(first.ws_frame());
            while buf.len() < MAX_BATCH_BYTES {
                let Some(event) = self.backlog.pop_front() else {
                    if self.refill() {
                        continue;
                    }
                    break;
                };
                if event.seq() > self.last_sent {
                    buf.extend_from_slice(event.ws_frame());
                    self.last_sent = event.seq();
                    events += 1;
                }
            }
            buf.freeze()
        };
        if let Some(c) = self.guard.counters() {
            c.delivered(events, out.len());
        }
        out
    }

    /// Moves the events the hub has ready into the backlog; false when there were none (or the
    /// subscriber was kicked, which the next `recv` reports).
    fn refill(&mut self) -> bool {
        matches!(self.sub.try_recv_many(BATCH_EVENTS, &mut self.backlog), Ok(n) if n > 0)
    }

    fn control_frame(&self, opcode: u8, payload: &[u8]) -> Bytes {
        let frame = ws_frame(opcode, payload);
        count_bytes(self.guard.counters(), frame.len());
        frame
    }

    fn close(&mut self, code: CloseCode, reason: &str) -> Bytes {
        self.closed = true;
        tracing::debug!(?code, reason, "websocket feed closing");
        let frame = ws_close_frame(code.into(), reason);
        count_bytes(self.guard.counters(), frame.len());
        frame
    }

    /// At shutdown: every event already published and not yet sent, then the close frame, so a
    /// client loses nothing that existed before the signal.
    fn close_after_published(&mut self, code: CloseCode, reason: &str) -> Bytes {
        let mut buf = BytesMut::new();
        let mut events = 0;
        while let Some(event) = self.backlog.pop_front().or_else(|| {
            self.refill();
            self.backlog.pop_front()
        }) {
            if event.seq() > self.last_sent {
                buf.extend_from_slice(event.ws_frame());
                self.last_sent = event.seq();
                events += 1;
            }
        }
        if let Some(c) = self.guard.counters() {
            c.delivered(events, buf.len());
        }
        buf.extend_from_slice(&self.close(code, reason));
        buf.freeze()
    }
}

fn count_bytes(counters: Option<&TransportCounters>, bytes: usize) {
    if let Some(c) = counters {
        c.add_bytes(bytes);
    }
}
