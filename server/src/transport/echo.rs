//! WebSocket echo (`GET /ws/echo`): every message comes back unchanged.
//!
//! Not part of the feed. An echo endpoint is what WebSocket conformance suites (Autobahn's
//! fuzzingclient) and round-trip-time measurements expect, and what RFC 6455 asks of one:
//!
//! - text comes back as text, binary as binary, one unfragmented frame per message; fragmented
//!   messages are reassembled first (§5.4), with control frames between the fragments answered
//!   at once;
//! - a ping is answered with a pong carrying the same payload (§5.5.2, §5.5.3); a pong is ignored;
//! - a close is answered with the same close code (§5.5.1), 1000 when it had none, and after it
//!   nothing more is sent; the server then closes the TCP connection (§7.1.1, see
//!   `server::CLIENT_DISCONNECT_TIMEOUT`);
//! - a broken rule fails the connection with 1002, invalid UTF-8 in a text message with 1007, a
//!   message over [`ECHO_MAX_MESSAGE_BYTES`] with 1009 ([`super::ws_message`] lists which layer
//!   checks what).
//!
//! The echo socket counts against `--max-connections` like any streaming connection, but not in
//! the per-transport counters, which describe the feed. It sends no pings of its own (the peer is
//! always talking), and on shutdown it closes with 1001 like the feed. It does not negotiate
//! permessage-deflate (RFC 7692), so Autobahn's cases 12 and 13 do not apply.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, Session};
use futures_util::SinkExt;

use super::ws_message::{Incoming, upgrade};
use crate::error::ApiError;
use crate::state::AppState;

/// Largest message the echo accepts, in bytes (one frame, or all fragments of one message
/// together): Autobahn's largest messages (cases 9.1.6 and 9.2.6) are exactly 16 MiB. A bigger
/// one is close 1009. It bounds the memory one echo socket can pin to about twice this.
pub const ECHO_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// How long the echo's close frame may wait for room in a full outgoing queue.
pub const SHUTDOWN_CLOSE_GRACE: Duration = Duration::from_millis(500);

/// `GET /ws/echo`: upgrades (JSON 400 on a bad handshake; 503 or 403 from [`AppState::admit`])
/// and echoes.
pub async fn handler(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (response, mut session, mut messages) = upgrade(&req, body, ECHO_MAX_MESSAGE_BYTES)?;
    let guard = state.admit(&req, None)?.guard;
    let state = state.get_ref().clone();
    actix_web::rt::spawn(async move {
        let _guard = guard;
        let close: Option<CloseReason> = loop {
            let msg = tokio::select! {
                biased;
                () = state.shutdown.cancelled() => break Some(CloseCode::Away.into()),
                msg = messages.recv() => msg,
            };
            let reply = match msg {
                Some(Ok(Incoming::Text(text))) => Message::Text(text),
                Some(Ok(Incoming::Binary(bytes))) => Message::Binary(bytes),
                Some(Ok(Incoming::Ping(payload))) => Message::Pong(payload),
                // An unsolicited pong is allowed and needs no answer (§5.5.3).
                Some(Ok(Incoming::Pong(_))) => continue,
                // §5.5.1: answer with the same code; a close without one is answered with 1000.
                Some(Ok(Incoming::Close(reason))) => {
                    break reason.or(Some(CloseCode::Normal.into()));
                }
                Some(Err(violation)) => {
                    break Some(CloseReason {
                        code: violation.close_code(),
                        description: Some(violation.reason().to_owned()),
                    });
                }
                None => break None,
            };
            // A peer that sends but never reads must not pin this task past shutdown.
            let sent = tokio::select! {
                biased;
                () = state.shutdown.cancelled() => break Some(CloseCode::Away.into()),
                sent = session.send(reply) => sent,
            };
            if sent.is_err() {
                break None;
            }
        };
        if let Some(reason) = close {
            let text = reason.description.clone().unwrap_or_default();
            close_session(session, &state, reason.code, &text, SHUTDOWN_CLOSE_GRACE).await;
        }
    });
    Ok(response)
}

/// Sends a close frame through the actix-ws session, giving up after `grace` (or at shutdown,
/// unless this *is* the shutdown close): a client that never reads must not keep the task alive.
async fn close_session(
    session: Session,
    state: &AppState,
    code: CloseCode,
    reason: &str,
    grace: Duration,
) {
    let description = (!reason.is_empty()).then(|| reason.to_owned());
    let close = session.close(Some(CloseReason { code, description }));
    let shutting_down = state.shutdown.is_cancelled();
    tokio::select! {
        biased;
        _ = close => {}
        () = tokio::time::sleep(grace) => {}
        () = state.shutdown.cancelled(), if !shutting_down => {}
    }
}
