//! WebSocket (`GET /ws`): one text frame per event, both directions on one connection.
//!
//! After an HTTP/1.1 upgrade handshake (RFC 6455 §4), client and server exchange *frames*: a 2–10
//! byte header (opcode, length) and a payload. Every event leaves as one unmasked text frame holding
//! the event JSON, which is the cheapest framing of the web transports (2 bytes for a small event).
//! The connection is full duplex, so a text frame *from* the client is published as a new event.
//!
//! Three things a WebSocket server must do by hand with actix-ws, and how this file does them:
//!
//! - **Keep-alive.** A TCP connection whose peer vanished (laptop lid closed, NAT entry expired)
//!   looks open forever. The server sends a ping every `--ping-interval`; any frame from the peer
//!   (the pong, usually) proves it alive, and a peer silent for [`MISSED_PINGS`] intervals is
//!   closed. actix-ws does not answer the *client's* pings either; this loop replies with pongs.
//! - **Backpressure.** actix-ws queues outgoing frames in a channel of 32; when the socket stops
//!   draining, `session.text()` waits forever. Each write is therefore raced against the hub's
//!   lagging kick and the shutdown token. A client that stops reading fills its hub queue, is
//!   kicked, and gets close 1008 "lagging" (after the frames already queued, if it ever reads them
//!   again within [`LAGGING_CLOSE_GRACE`]); a healthy client beside it is never slowed.
//! - **Shutdown.** On SIGTERM every feed socket gets close 1001 "going away".
//!
//! What the client sends is held to RFC 6455 exactly as on `/ws/echo` ([`super::ws_message`]):
//! masked frames, no reserved bits or opcodes, well-formed fragmentation and close frames (else
//! 1002), UTF-8 text also across fragments (else 1007), and one message, reassembled, at most
//! `--max-publish-bytes` (else 1009), the same limit as `POST /publish`. A client's close is
//! answered with its own code, after which nothing more is sent.
//!
//! Resumption: `?after=N` replays the history after N, then continues live. The backlog and the
//! live subscription are taken atomically from the hub, and the loop still drops any seq it has
//! already sent, so the seam has neither gap nor duplicate.
//!
//! In production one would add per-message compression negotiation, authentication on the
//! handshake and a write timeout at the socket level; none of them change what is measured here.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Session};
use rtlab_wire::framing::ws_header_len;
use rtlab_wire::{Seq, Transport, defaults};
use tokio::time::{Instant, interval_at};
use tokio_util::sync::CancellationToken;

use super::AfterQuery;
use super::ws_message::{Incoming, Messages, Violation};
use crate::app::AppState;
use crate::error::ApiError;
use crate::hub::{EventRef, Origin, Subscription};
use crate::stats::{ConnectionGuard, TransportCounters};

/// Ping intervals a peer may stay silent before it is considered gone and closed.
pub const MISSED_PINGS: u32 = 2;

/// How long a kicked (lagging) client has to drain what is already queued so that the close frame
/// 1008 fits; after that the connection is dropped without it.
pub const LAGGING_CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How long the shutdown close frame (1001) may wait for room in a full outgoing queue.
pub const SHUTDOWN_CLOSE_GRACE: Duration = Duration::from_millis(500);

/// Payload of the server's pings (any bytes would do; a name helps in packet captures).
const PING_PAYLOAD: &[u8] = b"rtlab";

/// `GET /ws[?after=N]`: validates the handshake (JSON 400 otherwise), takes a connection slot
/// (JSON 503 when full), and spawns the connection loop that feeds the socket.
pub async fn handler(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<AfterQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (response, session, messages) = upgrade(&req, body, state.config.max_publish_bytes)?;
    state.ensure_running()?;
    let guard = state
        .hub
        .stats()
        .open_streaming(Some(Transport::Ws), state.config.max_connections)
        .ok_or_else(too_many_connections)?;
    let (backlog, sub) = state.hub.subscribe_after(Transport::Ws, query.after);
    let feed = Feed {
        session,
        messages,
        sub,
        guard,
        state: state.get_ref().clone(),
        last_sent: 0,
    };
    actix_web::rt::spawn(feed.run(backlog));
    Ok(response)
}

/// Performs the RFC 6455 handshake checks and upgrade; a failure is a JSON 400 before any upgrade.
/// Incoming messages (one frame or reassembled from fragments) are capped at `max_message`
/// bytes: larger is close 1009. See [`super::ws_message`] for the rules checked on every frame.
pub fn upgrade(
    req: &HttpRequest,
    body: web::Payload,
    max_message: usize,
) -> Result<(HttpResponse, Session, Messages), ApiError> {
    let (response, session, messages) = actix_ws::handle(req, body)
        .map_err(|e| ApiError::BadRequest(format!("WebSocket handshake failed: {e}")))?;
    Ok((response, session, Messages::new(messages, max_message)))
}

/// The JSON 503 for a full server.
pub fn too_many_connections() -> ApiError {
    ApiError::Unavailable("too many open streaming connections (--max-connections)".into())
}

/// Why a feed connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Shutdown,
    Lagging,
    /// The peer sent a close frame (echoed back with its code).
    PeerClosed(Option<CloseCode>),
    /// The socket is gone (read EOF or error, or actix dropped the body).
    PeerGone,
    PingTimeout,
    /// The peer broke RFC 6455 (1002), sent invalid UTF-8 (1007) or too big a message (1009).
    Violation(Violation),
}

struct Feed {
    session: Session,
    messages: Messages,
    sub: Subscription,
    guard: ConnectionGuard,
    state: AppState,
    last_sent: Seq,
}

impl Feed {
    async fn run(mut self, backlog: Vec<EventRef>) {
        let exit = self.serve(backlog).await;
        tracing::debug!(?exit, "websocket feed ended");
        self.close(exit).await;
    }

    async fn serve(&mut self, backlog: Vec<EventRef>) -> Exit {
        for event in backlog {
            if let Err(exit) = self.send_event(&event).await {
                return exit;
            }
        }
        let ping_every = self.state.config.ping_interval;
        let silence_limit = ping_every * MISSED_PINGS;
        let mut pings = interval_at(Instant::now() + ping_every, ping_every);
        let mut last_heard = Instant::now();
        loop {
            // Priority order matters: with a busy feed `sub.recv()` is always ready, so if it came
            // first the client's pongs would never be read and a healthy peer would be closed for
            // "silence". Client frames and the ping timer are rare, so they go first.
            tokio::select! {
                biased;
                () = self.state.shutdown.cancelled() => return Exit::Shutdown,
                msg = self.messages.recv() => {
                    last_heard = Instant::now();
                    if let Some(exit) = self.on_message(msg).await {
                        return exit;
                    }
                }
                _ = pings.tick() => {
                    if last_heard.elapsed() > silence_limit {
                        return Exit::PingTimeout;
                    }
                    if let Err(exit) = self.send(Frame::Ping).await {
                        return exit;
                    }
                }
                next = self.sub.recv() => match next {
                    Ok(event) => {
                        if let Err(exit) = self.send_event(&event).await {
                            return exit;
                        }
                    }
                    Err(_) => return Exit::Lagging,
                },
            }
        }
    }

    /// Handles one frame from the client; `Some` ends the connection.
    async fn on_message(&mut self, msg: Option<Result<Incoming, Violation>>) -> Option<Exit> {
        match msg {
            Some(Ok(Incoming::Text(text))) => {
                self.state.hub.publish(String::from(text), Origin::Client);
                None
            }
            Some(Ok(Incoming::Ping(payload))) => self.send(Frame::Pong(payload)).await.err(),
            // Pongs only prove liveness (already noted); binary frames are not part of the feed.
            Some(Ok(Incoming::Pong(_) | Incoming::Binary(_))) => None,
            Some(Ok(Incoming::Close(reason))) => Some(Exit::PeerClosed(reason.map(|r| r.code))),
            Some(Err(violation)) => Some(Exit::Violation(violation)),
            None => Some(Exit::PeerGone),
        }
    }

    /// Sends one event frame unless this seq was already sent (the resumption seam guard).
    async fn send_event(&mut self, event: &EventRef) -> Result<(), Exit> {
        if event.seq() <= self.last_sent {
            return Ok(());
        }
        self.send(Frame::Event(event)).await?;
        self.last_sent = event.seq();
        if let Some(c) = self.guard.counters() {
            // The frame's bytes were counted by `send`.
            c.delivered(1, 0);
        }
        Ok(())
    }

    /// Queues one frame, racing the wait for room against the lagging kick and shutdown.
    async fn send(&mut self, frame: Frame<'_>) -> Result<(), Exit> {
        let (shutdown, sub, session) = (&self.state.shutdown, &self.sub, &mut self.session);
        let payload_len = match frame {
            Frame::Event(event) => {
                race(shutdown, sub, session.text(event.ws_text().clone())).await?;
                event.json().len()
            }
            Frame::Ping => {
                race(shutdown, sub, session.ping(PING_PAYLOAD)).await?;
                PING_PAYLOAD.len()
            }
            Frame::Pong(payload) => {
                race(shutdown, sub, session.pong(&payload)).await?;
                payload.len().min(125)
            }
        };
        count_frame(self.guard.counters(), payload_len);
        Ok(())
    }

    /// Says goodbye with the close code the exit calls for, within a bounded time.
    async fn close(self, exit: Exit) {
        let (code, reason, grace) = match exit {
            Exit::Shutdown => (
                CloseCode::Away,
                "server shutting down",
                SHUTDOWN_CLOSE_GRACE,
            ),
            Exit::Lagging => (
                CloseCode::from(defaults::LAGGING_CLOSE_CODE),
                defaults::LAGGING_CLOSE_REASON,
                LAGGING_CLOSE_GRACE,
            ),
            Exit::PeerClosed(code) => (code.unwrap_or(CloseCode::Normal), "", SHUTDOWN_CLOSE_GRACE),
            Exit::PingTimeout => (CloseCode::Policy, "ping timeout", SHUTDOWN_CLOSE_GRACE),
            Exit::Violation(v) => (v.close_code(), v.reason(), SHUTDOWN_CLOSE_GRACE),
            Exit::PeerGone => return,
        };
        close_session(
            self.session,
            &self.state,
            self.guard.counters(),
            code,
            reason,
            grace,
        )
        .await;
    }
}

/// Sends a close frame, giving up after `grace` (or at shutdown, unless this *is* the shutdown
/// close): a client that never reads must not keep the task alive.
pub(crate) async fn close_session(
    session: Session,
    state: &AppState,
    counters: Option<&TransportCounters>,
    code: CloseCode,
    reason: &str,
    grace: Duration,
) {
    let description = (!reason.is_empty()).then(|| reason.to_owned());
    count_frame(counters, 2 + reason.len());
    let close = session.close(Some(CloseReason { code, description }));
    let shutting_down = state.shutdown.is_cancelled();
    tokio::select! {
        biased;
        _ = close => {}
        () = tokio::time::sleep(grace) => {}
        () = state.shutdown.cancelled(), if !shutting_down => {}
    }
}

/// Waits for `write` unless shutdown or the lagging kick comes first.
async fn race(
    shutdown: &CancellationToken,
    sub: &Subscription,
    write: impl Future<Output = Result<(), actix_ws::Closed>>,
) -> Result<(), Exit> {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => Err(Exit::Shutdown),
        () = sub.lagged() => Err(Exit::Lagging),
        sent = write => sent.map_err(|_| Exit::PeerGone),
    }
}

enum Frame<'a> {
    Event(&'a EventRef),
    Ping,
    Pong(bytes::Bytes),
}

fn count_frame(counters: Option<&TransportCounters>, payload_len: usize) {
    if let Some(c) = counters {
        c.add_bytes(ws_header_len(payload_len, false) + payload_len);
    }
}
