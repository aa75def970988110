//! WebSocket subscriber: one upgrade, then a frame per event, full duplex.
//!
//! **What it costs.** The upgrade is an ordinary HTTP/1.1 request and a `101 Switching
//! Protocols` response (set-up: a few hundred bytes, once). After that each event is one text
//! frame whose header is 2 bytes up to 125 bytes of payload, 4 up to 64 KiB, 10 beyond
//! (RFC 6455 §5.2), about the cheapest framing a web transport can have. Frames from client to
//! server must be *masked* (a 4-byte key XORed over the payload, so that a hostile page cannot
//! make a proxy cache attacker-chosen bytes), so the same 64-byte message costs 6 bytes of
//! framing upstream. The server's pings and our pongs keep the connection alive; they are
//! counted as keep-alive, not framing.
//!
//! **How.** `tokio_tungstenite::client_async` does the handshake over the counted socket; the
//! loop below takes frames with `biased` `select!` so that the phase timer is only looked at
//! when the stream had nothing to give (see `subscriber/mod.rs` for why); the socket wrapper
//! follows frame boundaries beside tungstenite (`ws_frames.rs`), so the bytes of a frame it has
//! only half read move across a boundary with their event. Publishing is a text frame on the
//! same socket: no second connection, no request head.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rtlab_wire::framing::ws_header_len;
use rtlab_wire::{defaults, paths};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::feed_epoch::epoch_of;
use crate::publish::publish_text;
use crate::subscriber::Subscriber;
use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::Meter;
use crate::subscriber::open::open_stream;
use crate::tls::NetStream;
use crate::transport::{SubError, parse_event};
use crate::wire_counter::{Bytes2, WireCounter};

/// Read buffer per connection. tungstenite's default (128 KiB) would cost 1.3 GB at 10 000
/// subscribers; events are small and the buffer grows when a frame needs more.
const READ_BUFFER: usize = 8 * 1024;
/// How long the polite close at the end may take.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(100);

/// A subscriber on `GET /ws`.
pub struct WsSubscriber {
    ws: WebSocketStream<WireCounter<NetStream>>,
    /// Control-frame bytes counted at the socket up to the last ping or pong handled.
    control_seen: Bytes2,
}

impl Subscriber for WsSubscriber {
    const PUBLISHES_ITSELF: bool = true;

    async fn connect(ctx: &Ctx, meter: &mut Meter) -> Result<Self, SubError> {
        let stream = open_stream(ctx, meter).await?.with_frames();
        let scheme = if ctx.target.tls { "wss" } else { "ws" };
        // After a drop, resume after the last seq seen (`?after=N`: history first, then live).
        let resume = meter
            .resume_after()
            .map_or_else(String::new, |n| format!("?after={n}"));
        let url = format!(
            "{scheme}://{}{}{resume}",
            ctx.target.authority,
            ctx.target.path(paths::WS)
        );
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0);
        let (ws, response) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
            .await
            .map_err(handshake_error)?;
        meter.answered(epoch_of(response.headers()))?;
        meter.set_up();
        Ok(Self {
            ws,
            control_seen: Bytes2::default(),
        })
    }

    async fn receive(&mut self, ctx: &Ctx, meter: &mut Meter) -> Result<(), SubError> {
        let boundary = tokio::time::sleep_until(meter.boundary().into());
        tokio::pin!(boundary);
        let mut schedule = ctx.publish_schedule(meter.id);
        if let Some(s) = schedule.as_mut() {
            s.skip_until(Instant::now());
        }
        let prefix = meter.own_prefix().unwrap_or_default().to_owned();
        let far = meter.clock().never();
        let publish_at =
            tokio::time::sleep_until(schedule.as_ref().map_or(far, |s| s.next_due()).into());
        tokio::pin!(publish_at);
        loop {
            tokio::select! {
                biased;
                msg = self.ws.next() => {
                    match msg {
                        None => return Err(SubError::Closed("connection closed by server".into())),
                        Some(Err(e)) => return Err(SubError::Closed(e.to_string())),
                        Some(Ok(msg)) => self.on_message(msg, meter)?,
                    }
                    if meter.overdue() && meter.cross(self.partial_frame()) {
                        return Ok(());
                    }
                }
                () = &mut publish_at, if schedule.is_some() => {
                    if let Some(s) = schedule.as_mut() {
                        let (index, due) = s.take_indexed();
                        if due < meter.clock().window_end {
                            let text = publish_text(&prefix, index, meter.clock().unix_nanos(due));
                            let before = meter.bytes.snapshot();
                            self.ws
                                .send(Message::text(text))
                                .await
                                .map_err(|e| SubError::Closed(e.to_string()))?;
                            meter.published(due, meter.bytes.snapshot().since(before).up);
                        }
                        publish_at.as_mut().reset(s.next_due().into());
                    }
                }
                () = &mut boundary => {
                    // Nothing to hand out, but the start of the next frame may be read.
                    if meter.cross(self.partial_frame()) {
                        return Ok(());
                    }
                    boundary.as_mut().reset(meter.boundary().into());
                }
            }
        }
    }

    fn unconsumed(&self) -> usize {
        self.partial_frame()
    }

    async fn close(mut self) {
        // Polite close; its bytes fall after the window and are not counted.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.close(None)).await;
    }
}

impl WsSubscriber {
    /// Bytes of a frame tungstenite has read only part of (see `ws_frames`).
    fn partial_frame(&self) -> usize {
        self.ws.get_ref().partial_frame()
    }

    fn on_message(&mut self, msg: Message, meter: &mut Meter) -> Result<(), SubError> {
        match msg {
            Message::Text(text) => {
                let ev = parse_event(text.as_bytes(), "a WebSocket text frame")?;
                meter.event(&ev, text.len(), Some(ws_header_len(text.len(), false)));
            }
            // Keep-alive bytes as the socket counted them (`WireCounter::control_bytes`), not as
            // the frames' sizes say: each ping's bytes, plus the pong tungstenite wrote for the
            // ping before (it writes a pong on its next read, after this message is handed over),
            // so a window counts as many pongs as pings, give or take the one at each edge.
            Message::Ping(_) | Message::Pong(_) => {
                let counted = self.ws.get_ref().control_bytes();
                let new = counted.since(self.control_seen);
                self.control_seen = counted;
                meter.keepalive(new.down as usize, new.up as usize);
            }
            Message::Close(frame) => {
                if let Some(f) = &frame {
                    meter.closed_with(u16::from(f.code), f.reason.as_str());
                }
                return Err(match frame {
                    Some(f)
                        if u16::from(f.code) == defaults::LAGGING_CLOSE_CODE
                            && f.reason.as_str() == defaults::LAGGING_CLOSE_REASON =>
                    {
                        SubError::Lagging
                    }
                    Some(f) => SubError::Closed(format!(
                        "closed by server ({} {})",
                        u16::from(f.code),
                        f.reason.as_str()
                    )),
                    None => SubError::Closed("closed by server".into()),
                });
            }
            Message::Binary(_) => {
                return Err(SubError::Protocol(
                    "binary frame (the contract sends text frames)".into(),
                ));
            }
            Message::Frame(_) => {}
        }
        Ok(())
    }
}

fn handshake_error(e: tungstenite::Error) -> SubError {
    match e {
        tungstenite::Error::Http(resp) => SubError::Status(resp.status().as_u16()),
        tungstenite::Error::Io(io) => SubError::Connect(io),
        other => SubError::Protocol(format!("WebSocket handshake failed: {other}")),
    }
}
