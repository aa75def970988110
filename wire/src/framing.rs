//! How each transport frames one event, and what that framing costs in bytes.
//!
//! The same event JSON (`J` bytes) leaves the server in five envelopes:
//!
//! - **WebSocket** (RFC 6455 §5.2): a frame header of 2 bytes for payloads up to 125 bytes, 4 up to
//!   65 535 bytes (16-bit extended length), 10 beyond (64-bit extended length). A client → server
//!   frame must be masked, which adds a 4-byte masking key; server → client frames are not.
//!   So a 64-byte event costs 2 bytes of framing downstream and 6 upstream.
//! - **Server-Sent Events** (WHATWG HTML §9.2): `id: <seq>\n` `data: <json>\n` `\n`, i.e.
//!   `13 + digits(seq)` bytes around the JSON. The stream is an HTTP/1.1 response body of unknown
//!   length, so it is sent with chunked transfer coding (RFC 9112 §7.1), which wraps each write in
//!   `<size in hex>\r\n` … `\r\n`: another `hex_digits(size) + 4` bytes.
//! - **Polling** (long and short): a JSON array `[e1,e2,…]` (2 bytes plus a comma between events)
//!   inside a full HTTP response, whose request and response heads are paid on *every* poll: that
//!   cost is divided by the events a poll returns, so it depends on the rate, not on the framing.
//! - **Raw TCP**: the JSON and a newline: 1 byte. The floor.
//!
//! The server uses the encoders here; the client and the lab use the same arithmetic as the
//! analytic model their measurements must match byte for byte.

use bytes::{BufMut, Bytes, BytesMut};

use crate::{Seq, Transport};

/// An SSE comment line and the blank line that ends it: the heartbeat that keeps idle streams (and
/// the proxies between) from timing out. Comments are ignored by `EventSource`.
pub const SSE_HEARTBEAT: &[u8] = b":\n\n";

/// Bytes the raw-TCP baseline adds to an event: the trailing `\n`.
pub const TCP_LINE_OVERHEAD: usize = 1;

/// Number of decimal digits of `n` (`digits(0) == 1`).
pub const fn decimal_digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Number of hexadecimal digits of `n` (`hex_digits(0) == 1`).
pub const fn hex_digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 16 {
        n /= 16;
        d += 1;
    }
    d
}

/// Encodes one SSE event block: `id: <seq>\ndata: <json>\n\n`.
///
/// The event JSON never contains a raw newline (JSON escapes it), so one `data:` line suffices.
pub fn sse_frame(seq: Seq, json: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(json.len() + sse_frame_overhead(seq));
    buf.put_slice(b"id: ");
    buf.put_slice(seq.to_string().as_bytes());
    buf.put_slice(b"\ndata: ");
    buf.put_slice(json);
    buf.put_slice(b"\n\n");
    buf.freeze()
}

/// Bytes an SSE event block adds around the event JSON: `id: ` (4) + digits + `\n` (1) +
/// `data: ` (6) + `\n\n` (2).
pub const fn sse_frame_overhead(seq: Seq) -> usize {
    13 + decimal_digits(seq)
}

/// Bytes HTTP/1.1 chunked transfer coding adds around one chunk of `len` bytes:
/// `<len in hex>\r\n` before and `\r\n` after.
pub const fn chunk_overhead(len: usize) -> usize {
    hex_digits(len as u64) + 4
}

/// Length of a WebSocket frame header (RFC 6455 §5.2) for a payload of `payload_len` bytes,
/// including the 4-byte masking key when `masked` (every client → server frame).
pub const fn ws_header_len(payload_len: usize, masked: bool) -> usize {
    let base = if payload_len <= 125 {
        2
    } else if payload_len <= 65_535 {
        4
    } else {
        10
    };
    if masked { base + 4 } else { base }
}

/// WebSocket opcodes (RFC 6455 §5.2): the ones a server sends, and the two data opcodes a decoder
/// must also name.
pub mod ws_opcode {
    /// A continuation frame: the next fragment of a message begun by a text or binary frame.
    pub const CONTINUATION: u8 = 0x0;
    /// A text frame: a UTF-8 message (every feed event).
    pub const TEXT: u8 = 0x1;
    /// A binary frame: a message of arbitrary bytes.
    pub const BINARY: u8 = 0x2;
    /// A close frame: a 2-byte code and an optional UTF-8 reason.
    pub const CLOSE: u8 = 0x8;
    /// A ping: the peer must answer with a pong carrying the same payload.
    pub const PING: u8 = 0x9;
    /// A pong: the answer to a ping.
    pub const PONG: u8 = 0xA;
}

/// Encodes one whole, unmasked, unfragmented WebSocket frame (FIN set, no RSV bits) as a server
/// sends it (RFC 6455 §5.2): the header of [`ws_header_len`] bytes, then `payload` as it is.
///
/// A server → client frame carries no masking key, so it is the same bytes for every subscriber:
/// the server encodes each event's frame once and writes the same buffer to all of them. The caller
/// keeps control-frame payloads within 125 bytes (§5.5).
pub fn ws_frame(opcode: u8, payload: &[u8]) -> Bytes {
    let len = payload.len();
    let mut buf = BytesMut::with_capacity(ws_header_len(len, false) + len);
    put_ws_frame(&mut buf, opcode, payload);
    buf.freeze()
}

/// Appends one server frame to `buf` (see [`ws_frame`]): for batching several frames into one
/// write without an intermediate buffer each.
pub fn put_ws_frame(buf: &mut BytesMut, opcode: u8, payload: &[u8]) {
    const FIN: u8 = 0x80;
    let len = payload.len();
    buf.reserve(ws_header_len(len, false) + len);
    buf.put_u8(FIN | (opcode & 0x0F));
    if len <= 125 {
        buf.put_u8(len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        buf.put_u8(126);
        buf.put_u16(len16);
    } else {
        buf.put_u8(127);
        buf.put_u64(len as u64);
    }
    buf.put_slice(payload);
}

/// Encodes a server close frame (RFC 6455 §5.5.1): the code in network byte order, then the reason,
/// cut at a character boundary so the payload stays within the 125 bytes a control frame may carry.
pub fn ws_close_frame(code: u16, reason: &str) -> Bytes {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = Vec::with_capacity(2 + end);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    ws_frame(ws_opcode::CLOSE, &payload)
}

/// Encodes one raw-TCP baseline line: the event JSON and `\n`.
pub fn tcp_line(json: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(json.len() + TCP_LINE_OVERHEAD);
    buf.put_slice(json);
    buf.put_u8(b'\n');
    buf.freeze()
}

/// Joins already-encoded event JSON objects into one JSON array `[a,b,…]`, as the polling
/// endpoints answer. Each event is copied once into the response; nothing is re-serialized.
pub fn json_array<'a>(events: impl IntoIterator<Item = &'a [u8]>) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(b'[');
    for (i, json) in events.into_iter().enumerate() {
        if i > 0 {
            buf.put_u8(b',');
        }
        buf.put_slice(json);
    }
    buf.put_u8(b']');
    buf.freeze()
}

/// Bytes a JSON array of `n` events adds around them: the brackets and `n - 1` commas.
pub const fn json_array_overhead(n: usize) -> usize {
    2 + n.saturating_sub(1)
}

/// The analytic per-event framing cost of a streaming transport, server → client, for the event
/// `seq` whose JSON is `json_len` bytes: exactly what a byte counter at the client's socket must
/// see around each event in steady state. `None` for the polling transports, whose per-event cost
/// depends on how many events each poll returns (see [`json_array_overhead`]).
pub const fn streaming_overhead(transport: Transport, seq: Seq, json_len: usize) -> Option<usize> {
    match transport {
        Transport::Ws => Some(ws_header_len(json_len, false)),
        Transport::Sse => {
            let block = sse_frame_overhead(seq);
            Some(block + chunk_overhead(json_len + block))
        }
        Transport::Tcp => Some(TCP_LINE_OVERHEAD),
        Transport::LongPoll | Transport::ShortPoll => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_frame_matches_its_overhead() {
        let json = br#"{"seq":42,"ts":1,"data":"x"}"#;
        let frame = sse_frame(42, json);
        assert_eq!(
            &frame[..],
            b"id: 42\ndata: {\"seq\":42,\"ts\":1,\"data\":\"x\"}\n\n"
        );
        assert_eq!(frame.len(), json.len() + sse_frame_overhead(42));
        assert_eq!(sse_frame_overhead(42), 15);
    }

    #[test]
    fn ws_header_lengths_follow_rfc_6455() {
        assert_eq!(ws_header_len(64, false), 2);
        assert_eq!(ws_header_len(64, true), 6);
        assert_eq!(ws_header_len(125, false), 2);
        assert_eq!(ws_header_len(126, false), 4);
        assert_eq!(ws_header_len(65_535, false), 4);
        assert_eq!(ws_header_len(65_536, false), 10);
        assert_eq!(ws_header_len(65_536, true), 14);
    }

    #[test]
    fn ws_frames_are_rfc_6455_server_frames() {
        // RFC 6455 §5.7: a single-frame unmasked text message containing "Hello".
        assert_eq!(
            &ws_frame(ws_opcode::TEXT, b"Hello")[..],
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        // §5.7: unmasked ping "Hello".
        assert_eq!(&ws_frame(ws_opcode::PING, b"Hello")[..2], [0x89, 0x05]);
        // §5.7: 256 bytes of binary-length payload use the 16-bit length: 0x7E 0x01 0x00.
        let big = ws_frame(ws_opcode::TEXT, &[b'a'; 256]);
        assert_eq!(&big[..4], [0x81, 0x7E, 0x01, 0x00]);
        assert_eq!(big.len(), 256 + ws_header_len(256, false));
        // §5.7: 64 KiB uses the 64-bit length.
        let huge = ws_frame(ws_opcode::TEXT, &vec![b'a'; 65_536]);
        assert_eq!(&huge[..10], [0x81, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        for len in [0, 125, 126, 65_535, 65_536] {
            let f = ws_frame(ws_opcode::TEXT, &vec![b'x'; len]);
            assert_eq!(f.len(), len + ws_header_len(len, false), "{len}");
        }
    }

    #[test]
    fn ws_close_frames_carry_the_code_and_a_bounded_reason() {
        assert_eq!(
            &ws_close_frame(1008, "lagging")[..],
            b"\x88\x09\x03\xF0lagging"
        );
        // A long multi-byte reason is cut at a character boundary within 125 bytes of payload.
        let frame = ws_close_frame(1001, &"é".repeat(100));
        assert_eq!(frame[1] as usize, frame.len() - 2);
        assert!(frame.len() - 2 <= 125);
        assert!(std::str::from_utf8(&frame[4..]).is_ok());
    }

    #[test]
    fn chunk_overhead_counts_hex_size_and_two_crlfs() {
        // "a\r\n" + 10 bytes + "\r\n"
        assert_eq!(chunk_overhead(10), 5);
        // "100\r\n" + 256 bytes + "\r\n"
        assert_eq!(chunk_overhead(256), 7);
        assert_eq!(hex_digits(0), 1);
        assert_eq!(hex_digits(15), 1);
        assert_eq!(hex_digits(16), 2);
    }

    #[test]
    fn digits() {
        assert_eq!(decimal_digits(0), 1);
        assert_eq!(decimal_digits(9), 1);
        assert_eq!(decimal_digits(10), 2);
        assert_eq!(decimal_digits(u64::MAX), 20);
    }

    #[test]
    fn json_array_and_its_overhead() {
        let a: &[u8] = b"{}";
        assert_eq!(&json_array([a, a, a])[..], b"[{},{},{}]");
        assert_eq!(&json_array(std::iter::empty::<&[u8]>())[..], b"[]");
        assert_eq!(json_array_overhead(3), 4);
        assert_eq!(json_array_overhead(0), 2);
    }

    #[test]
    fn streaming_overheads() {
        assert_eq!(streaming_overhead(Transport::Ws, 1, 64), Some(2));
        assert_eq!(streaming_overhead(Transport::Tcp, 1, 64), Some(1));
        // SSE, seq 7, 64-byte JSON: block 14 bytes, chunk of 78 = 0x4e: "4e\r\n" + "\r\n" = 6.
        assert_eq!(streaming_overhead(Transport::Sse, 7, 64), Some(14 + 6));
        assert_eq!(streaming_overhead(Transport::LongPoll, 1, 64), None);
    }
}
