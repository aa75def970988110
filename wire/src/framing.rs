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
