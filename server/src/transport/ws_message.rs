//! The RFC 6455 handshake and message rules shared by `/ws` and `/ws/echo`, on top of actix-ws's
//! frame parser.
//!
//! Both endpoints open the same way ([`upgrade`]): actix-ws checks the handshake (a failure is a
//! JSON 400, before anything is upgraded) and hands over the client's frames, which [`Messages`]
//! turns into whole, checked messages.
//!
//! A WebSocket *message* is one data frame, or a text/binary frame with FIN clear followed by
//! continuation frames up to one with FIN set (§5.4); control frames (ping, pong, close) may come
//! in between and are answered at once. What enforces which rule, and why:
//!
//! | rule (RFC 6455) | enforced by | close code |
//! |---|---|---|
//! | client frames masked (§5.1), RSV bits zero without an extension (§5.2), known opcodes (§5.2) | actix-http's parser | 1002 |
//! | control frames ≤ 125 bytes and never fragmented (§5.5), a continuation only inside a fragmented message and no new message inside one (§5.4) | actix-http's parser | 1002 |
//! | close payload: empty or a 2-byte code, code valid (§7.4), reason UTF-8 (§5.5.1) | actix-http's parser | 1002 |
//! | a frame over the size limit | actix-http's parser | 1009 |
//! | text of a single frame is UTF-8 (§8.1) | actix-ws | **1007** (actix-ws reports it as an I/O error, this file maps it) |
//! | text reassembled from fragments is UTF-8, checked fragment by fragment so the connection fails as soon as the text *cannot* become valid (§8.1, "fail fast") | this file | 1007 |
//! | a reassembled message over the size limit | this file | 1009 |
//!
//! actix-ws has its own reassembly (`aggregate_continuations`), but it checks UTF-8 only once the
//! last fragment is in, reports that failure and an oversized message as anonymous I/O errors
//! (which would become 1002), and keeps reading after an overflow; hence this small replacement.
//!
//! An invalid UTF-8 *close reason* is reported by actix-http with the same error as an invalid
//! close code, so it is answered with 1002; §7.4.1 would suggest 1007, and Autobahn (case 7.5.1)
//! accepts both. A production server would parse frames itself to tell the two apart.
//!
//! Two more limits of building on actix-ws, both graded "non-strict" (allowed) by Autobahn: a
//! frame is judged only once all of it has arrived, so invalid UTF-8 inside one large frame fails
//! the connection at the frame's end, not at the bad byte (cases 6.4.3–4); and when good frames
//! and a bad one arrive in one read, the error comes out first and the good ones are never
//! answered (cases 3.2–3.4, 4.1.3–5, 4.2.3–4, 5.15).

use std::io;
use std::str::Utf8Error;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, Item, Message, MessageStream, ProtocolError, Session};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::ApiError;

/// Performs the RFC 6455 handshake checks and upgrade; a failure is a JSON 400 before any upgrade.
/// Incoming messages (one frame or reassembled from fragments) are capped at `max_message`
/// bytes: larger is close 1009. Nothing is sent or read until the response is returned.
pub fn upgrade(
    req: &HttpRequest,
    body: web::Payload,
    max_message: usize,
) -> Result<(HttpResponse, Session, Messages), ApiError> {
    let (response, session, messages) = actix_ws::handle(req, body)
        .map_err(|e| ApiError::BadRequest(format!("WebSocket handshake failed: {e}")))?;
    Ok((response, session, Messages::new(messages, max_message)))
}

/// One complete message (or control frame) from the peer.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A text message, valid UTF-8.
    Text(ByteString),
    /// A binary message.
    Binary(Bytes),
    /// A ping (≤ 125 bytes); the peer expects a pong with the same payload.
    Ping(Bytes),
    /// A pong; only proves the peer alive.
    Pong(Bytes),
    /// The peer's close frame (its code and reason were validated).
    Close(Option<actix_ws::CloseReason>),
}

/// Why the connection must fail, and the close code that says so (§7.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// A framing rule was broken: 1002.
    Protocol,
    /// A text message is not UTF-8: 1007.
    InvalidUtf8,
    /// A frame or message is over the limit: 1009.
    TooBig,
}

impl Violation {
    /// The close code to fail the connection with.
    pub fn close_code(self) -> CloseCode {
        match self {
            Violation::Protocol => CloseCode::Protocol,
            Violation::InvalidUtf8 => CloseCode::Invalid,
            Violation::TooBig => CloseCode::Size,
        }
    }

    /// The close reason sent with the code.
    pub fn reason(self) -> &'static str {
        match self {
            Violation::Protocol => "protocol error",
            Violation::InvalidUtf8 => "invalid UTF-8 in text",
            Violation::TooBig => "message too big",
        }
    }

    fn from_protocol_error(e: &ProtocolError) -> Self {
        match e {
            ProtocolError::Overflow => Violation::TooBig,
            // actix-ws wraps the `Utf8Error` of a single text frame in an `InvalidData` I/O error.
            ProtocolError::Io(io)
                if io.kind() == io::ErrorKind::InvalidData
                    && io.get_ref().is_some_and(|inner| inner.is::<Utf8Error>()) =>
            {
                Violation::InvalidUtf8
            }
            _ => Violation::Protocol,
        }
    }
}

/// A fragmented message being reassembled.
struct Partial {
    text: bool,
    buf: BytesMut,
    /// Bytes of `buf` known to be complete, valid UTF-8 (text only).
    checked: usize,
}

impl Partial {
    /// Appends a fragment; for text, checks every byte that can already be judged.
    fn push(&mut self, bytes: &[u8], max: usize) -> Result<(), Violation> {
        if self.buf.len() + bytes.len() > max {
            return Err(Violation::TooBig);
        }
        self.buf.extend_from_slice(bytes);
        if self.text {
            match std::str::from_utf8(&self.buf[self.checked..]) {
                Ok(_) => self.checked = self.buf.len(),
                // A sequence cut at the end of the fragment may still be completed by the next one.
                Err(e) if e.error_len().is_none() => self.checked += e.valid_up_to(),
                Err(_) => return Err(Violation::InvalidUtf8),
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Incoming, Violation> {
        let bytes = self.buf.freeze();
        if !self.text {
            return Ok(Incoming::Binary(bytes));
        }
        if self.checked != bytes.len() {
            return Err(Violation::InvalidUtf8);
        }
        ByteString::try_from(bytes)
            .map(Incoming::Text)
            .map_err(|_| Violation::InvalidUtf8)
    }
}

/// The peer's messages, reassembled and checked, with at most `max` bytes per message.
pub struct Messages {
    stream: MessageStream,
    max: usize,
    partial: Option<Partial>,
}

impl Messages {
    /// Wraps actix-ws's frame stream; frames and messages over `max` bytes fail with 1009.
    pub fn new(stream: MessageStream, max: usize) -> Self {
        Messages {
            stream: stream.max_frame_size(max),
            max,
            partial: None,
        }
    }

    /// The next message; `None` when the peer is gone. After an `Err` the connection must be
    /// failed with [`Violation::close_code`] and nothing more read.
    pub async fn recv(&mut self) -> Option<Result<Incoming, Violation>> {
        loop {
            let msg = match self.stream.recv().await? {
                Ok(msg) => msg,
                Err(e) => {
                    tracing::debug!(error = %e, "websocket protocol error");
                    return Some(Err(Violation::from_protocol_error(&e)));
                }
            };
            let item = match msg {
                Message::Text(text) => return Some(Ok(Incoming::Text(text))),
                Message::Binary(bytes) => return Some(Ok(Incoming::Binary(bytes))),
                Message::Ping(bytes) => return Some(Ok(Incoming::Ping(bytes))),
                Message::Pong(bytes) => return Some(Ok(Incoming::Pong(bytes))),
                Message::Close(reason) => return Some(Ok(Incoming::Close(reason))),
                Message::Nop => continue,
                Message::Continuation(item) => item,
            };
            // The parser already rejects a continuation outside a message and a new message
            // inside one; the `None`/`Some` checks below only keep this state machine honest.
            let (start, bytes, last) = match item {
                Item::FirstText(b) => (Some(true), b, false),
                Item::FirstBinary(b) => (Some(false), b, false),
                Item::Continue(b) => (None, b, false),
                Item::Last(b) => (None, b, true),
            };
            let mut partial = match (start, self.partial.take()) {
                (Some(text), None) => Partial {
                    text,
                    buf: BytesMut::new(),
                    checked: 0,
                },
                (None, Some(partial)) => partial,
                _ => return Some(Err(Violation::Protocol)),
            };
            if let Err(v) = partial.push(&bytes, self.max) {
                return Some(Err(v));
            }
            if last {
                return Some(partial.finish());
            }
            self.partial = Some(partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(text: bool) -> Partial {
        Partial {
            text,
            buf: BytesMut::new(),
            checked: 0,
        }
    }

    #[test]
    fn a_code_point_split_between_fragments_is_valid() {
        let kosme = "κόσμε".as_bytes();
        for split in 0..=kosme.len() {
            let mut p = partial(true);
            p.push(&kosme[..split], 100).expect("first half");
            p.push(&kosme[split..], 100).expect("second half");
            assert_eq!(p.finish(), Ok(Incoming::Text(ByteString::from("κόσμε"))));
        }
    }

    #[test]
    fn invalid_utf8_fails_at_the_fragment_that_makes_it_invalid() {
        let mut p = partial(true);
        p.push("κόσμε".as_bytes(), 100).expect("valid so far");
        p.push(b"\xed", 100).expect("could still become valid");
        assert_eq!(p.push(b"\xa0\x80", 100), Err(Violation::InvalidUtf8));
    }

    #[test]
    fn a_truncated_sequence_at_the_end_is_invalid() {
        let mut p = partial(true);
        p.push(b"ok\xe1\xbd", 100)
            .expect("could still become valid");
        assert_eq!(p.finish(), Err(Violation::InvalidUtf8));
    }

    #[test]
    fn binary_is_not_checked_and_the_limit_counts_the_whole_message() {
        let mut p = partial(false);
        p.push(&[0xFF; 60], 100).expect("within limit");
        assert_eq!(p.push(&[0xFF; 41], 100), Err(Violation::TooBig));
        let mut p = partial(false);
        p.push(&[0xFF; 60], 100).expect("within limit");
        p.push(&[0xFF; 40], 100).expect("exactly at limit");
        assert_eq!(
            p.finish(),
            Ok(Incoming::Binary(Bytes::from(vec![0xFF; 100])))
        );
    }
}
