//! WebSocket echo (`GET /ws/echo`): every message comes back unchanged.
//!
//! Not part of the feed. An echo endpoint is what WebSocket conformance suites (Autobahn) and
//! round-trip-time measurements expect: text comes back as text, binary as binary, a ping is
//! answered with a pong carrying the same payload, and a close is answered with the same close
//! code. Fragmented messages are reassembled first and echoed as one frame with the same content.
//!
//! The echo socket counts against `--max-connections` like any streaming connection, but not in
//! the per-transport counters, which describe the feed. It sends no pings of its own (the peer is
//! always talking), and on shutdown it closes with 1001 like the feed.

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Message};
use futures_util::SinkExt;

use super::ws::{SHUTDOWN_CLOSE_GRACE, close_session, too_many_connections, upgrade};
use crate::app::AppState;
use crate::error::ApiError;

/// Largest message the echo accepts, in bytes: conformance suites send messages of up to 16 MiB.
pub const ECHO_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// `GET /ws/echo`: upgrades (JSON 400 on a bad handshake, 503 when full) and echoes.
pub async fn handler(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (response, mut session, mut messages) = upgrade(&req, body, ECHO_MAX_MESSAGE_BYTES)?;
    state.ensure_running()?;
    let guard = state
        .hub
        .stats()
        .open_streaming(None, state.config.max_connections)
        .ok_or_else(too_many_connections)?;
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
                Some(Ok(AggregatedMessage::Text(text))) => Message::Text(text),
                Some(Ok(AggregatedMessage::Binary(bytes))) => Message::Binary(bytes),
                Some(Ok(AggregatedMessage::Ping(payload))) => Message::Pong(payload),
                Some(Ok(AggregatedMessage::Pong(_))) => continue,
                Some(Ok(AggregatedMessage::Close(reason))) => {
                    break reason.or(Some(CloseCode::Normal.into()));
                }
                Some(Err(actix_ws::ProtocolError::Overflow)) => break Some(CloseCode::Size.into()),
                Some(Err(_)) => break Some(CloseCode::Protocol.into()),
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
            close_session(
                session,
                &state,
                None,
                reason.code,
                &text,
                SHUTDOWN_CLOSE_GRACE,
            )
            .await;
        }
    });
    Ok(response)
}
