//! WebSocket frame headers, decoded (RFC 6455 §5.2): the client's one reader of the frame format.
//!
//! A frame is 2 to 14 bytes of header and a payload:
//!
//! ```text
//!  byte 0: FIN(1) RSV1 RSV2 RSV3 (3) opcode (4)
//!  byte 1: MASK(1) payload length (7): 0–125 = the length; 126 = a 16-bit length follows;
//!          127 = a 64-bit length follows
//!  then:   extended length (0, 2 or 8 bytes), masking key (4 bytes if MASK), payload
//! ```
//!
//! The server *writes* frames with `rtlab_wire::framing` (`put_ws_frame`, whose header length is
//! `ws_header_len`); the client *reads* them here, and the tests check that the two agree. Two
//! readers share [`FrameHeader::parse`]:
//!
//! - **The byte counter** of a WebSocket subscriber follows frame boundaries beside tungstenite
//!   ([`FrameCursor`]). tungstenite reads the socket into a buffer of its own and hands out whole
//!   messages. When its stream says "nothing yet" (`Pending`), every *complete* frame it read has
//!   been handed out, but the start of the next one may sit in its buffer: with 64 KiB events that
//!   is up to 64 KiB that the byte counter has counted and no event accounts for yet. A phase
//!   boundary crossed at that moment would put those bytes before the boundary and their event
//!   after it. The cursor reads the same bytes as they pass the counting socket wrapper: it skips
//!   the HTTP head of the upgrade, then decodes each header and skips its payload, so
//!   [`FrameCursor::partial`] is how many bytes of an incomplete frame have been read: exactly what
//!   the subscriber moves across a boundary. It never looks into payloads, so it costs a few
//!   operations per frame; the framing it *measures* still comes from the counter.
//! - **The wire tracer** (`trace::ws`) splits a recorded byte stream into frames
//!   ([`split_frames`]) and prints each header field by field.
//!
//! A production client would let its WebSocket library report frame boundaries; tungstenite does
//! not, so the lab reads the headers a second time, and keeps that reading in one place.

use std::ops::Range;

use rtlab_wire::framing::ws_opcode;

/// `FIN` in byte 0: the last fragment of a message.
const FIN: u8 = 0x80;
/// `MASK` in byte 1: a masking key follows the length (every client → server frame).
const MASK: u8 = 0x80;
/// The 7-bit length that announces a 16-bit length…
const LEN_16: u8 = 126;
/// …and the one that announces a 64-bit length.
const LEN_64: u8 = 127;
/// Bytes of the masking key.
const MASK_KEY_LEN: usize = 4;
/// The longest header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 2 + 8 + MASK_KEY_LEN;

/// How the payload length was encoded in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthForm {
    /// 0–125, in the 7 low bits of byte 1.
    Bits7,
    /// 126 in byte 1, then a 16-bit big-endian length.
    Bits16,
    /// 127 in byte 1, then a 64-bit big-endian length.
    Bits64,
}

impl LengthForm {
    /// Bytes of extended length after byte 1: 0, 2 or 8.
    pub const fn extended_len(self) -> usize {
        match self {
            LengthForm::Bits7 => 0,
            LengthForm::Bits16 => 2,
            LengthForm::Bits64 => 8,
        }
    }
}

/// The decoded header of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment of a message.
    pub fin: bool,
    /// The three reserved bits (RSV1..RSV3 as bits 2..0), non-zero only with an extension.
    pub rsv: u8,
    /// The opcode: 0x0 continuation, 0x1 text, 0x2 binary, 0x8 close, 0x9 ping, 0xA pong.
    pub opcode: u8,
    /// Whether the payload is masked (client → server).
    pub masked: bool,
    /// The payload length.
    pub payload_len: u64,
    /// How the length was encoded.
    pub length_form: LengthForm,
    /// The masking key, when masked.
    pub mask_key: Option<[u8; 4]>,
    /// Bytes of header: 2 + extended length + masking key.
    pub header_len: usize,
}

impl FrameHeader {
    /// Decodes the header at the start of `buf`; `None` if `buf` is shorter than the header.
    pub fn parse(buf: &[u8]) -> Option<FrameHeader> {
        let (&b0, rest) = buf.split_first()?;
        let (&b1, rest) = rest.split_first()?;
        let masked = b1 & MASK != 0;
        let length_form = match b1 & !MASK {
            LEN_16 => LengthForm::Bits16,
            LEN_64 => LengthForm::Bits64,
            _ => LengthForm::Bits7,
        };
        let ext = length_form.extended_len();
        let payload_len = match length_form {
            LengthForm::Bits7 => u64::from(b1 & !MASK),
            // Big-endian, 2 or 8 bytes.
            _ => rest
                .get(..ext)?
                .iter()
                .fold(0u64, |n, &b| (n << 8) | u64::from(b)),
        };
        let mask_key = if masked {
            let k: [u8; MASK_KEY_LEN] = rest.get(ext..ext + MASK_KEY_LEN)?.try_into().ok()?;
            Some(k)
        } else {
            None
        };
        Some(FrameHeader {
            fin: b0 & FIN != 0,
            rsv: (b0 >> 4) & 0x07,
            opcode: b0 & 0x0f,
            masked,
            payload_len,
            length_form,
            mask_key,
            header_len: 2 + ext + if masked { MASK_KEY_LEN } else { 0 },
        })
    }

    /// Bytes of the whole frame, or `None` if it does not fit a `usize`.
    pub fn frame_len(&self) -> Option<usize> {
        usize::try_from(self.payload_len)
            .ok()?
            .checked_add(self.header_len)
    }

    /// A data frame that starts a message: text or binary (continuations carry the rest).
    pub fn starts_message(&self) -> bool {
        self.opcode == ws_opcode::TEXT || self.opcode == ws_opcode::BINARY
    }

    /// A control frame (close, ping, pong, or a reserved control opcode): opcodes 0x8 and up.
    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// The name of an opcode.
pub fn opcode_name(opcode: u8) -> &'static str {
    match opcode {
        ws_opcode::CONTINUATION => "continuation",
        ws_opcode::TEXT => "text",
        ws_opcode::BINARY => "binary",
        ws_opcode::CLOSE => "close",
        ws_opcode::PING => "ping",
        ws_opcode::PONG => "pong",
        0x3..=0x7 => "reserved (data)",
        _ => "reserved (control)",
    }
}

/// XORs `payload` with the masking key (RFC 6455 §5.3): masking and unmasking are the same.
pub fn unmask(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % MASK_KEY_LEN])
        .collect()
}

/// Splits a received or sent byte stream into whole frames: each header with the byte range of
/// its frame. Stops at the first incomplete frame.
pub fn split_frames(buf: &[u8]) -> Vec<(FrameHeader, Range<usize>)> {
    let mut frames = Vec::new();
    let mut pos = 0;
    while let Some(h) = buf.get(pos..).and_then(FrameHeader::parse) {
        let Some(len) = h.frame_len() else { break };
        if pos + len > buf.len() {
            break;
        }
        frames.push((h, pos..pos + len));
        pos += len;
    }
    frames
}

/// Follows frame boundaries in one direction of a WebSocket connection's byte stream, from the
/// HTTP head of the upgrade (the response when reading, the request when writing) on; it also
/// adds up the bytes of control frames (ping, pong, close), counted as they cross the socket.
#[derive(Debug, Clone, Default)]
pub struct FrameCursor {
    /// Bytes of `\r\n\r\n` matched so far while still in the HTTP head; `None` once past it.
    head_matched: Option<u8>,
    /// Header bytes of the current frame.
    header: [u8; MAX_HEADER_LEN],
    have: usize,
    /// Payload bytes of the current frame still to come.
    payload_left: u64,
    /// Bytes of the current incomplete frame read so far.
    partial: u64,
    /// Whether the current frame is a control frame.
    in_control: bool,
    /// Bytes of control frames (header and payload) seen so far.
    control: u64,
}

impl FrameCursor {
    /// A cursor at the start of the upgrade response.
    pub fn new() -> Self {
        Self {
            head_matched: Some(0),
            ..Self::default()
        }
    }

    /// Bytes of an incomplete frame read so far (0 at a frame boundary).
    pub fn partial(&self) -> usize {
        usize::try_from(self.partial).unwrap_or(usize::MAX)
    }

    /// Bytes of control frames (ping, pong, close: header and payload) seen so far.
    pub fn control_bytes(&self) -> u64 {
        self.control
    }

    /// Follows `bytes`, the next bytes that crossed the socket in this direction.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while let Some(matched) = self.head_matched {
            let Some((&b, rest)) = bytes.split_first() else {
                return;
            };
            bytes = rest;
            let next = match (matched, b) {
                (0 | 2, b'\r') => matched + 1,
                (1 | 3, b'\n') => matched + 1,
                (_, b'\r') => 1,
                _ => 0,
            };
            self.head_matched = (next < 4).then_some(next);
        }
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let take = self.payload_left.min(bytes.len() as u64);
                self.payload_left -= take;
                self.partial += take;
                if self.in_control {
                    self.control += take;
                }
                bytes = &bytes[take as usize..];
                if self.payload_left == 0 {
                    self.partial = 0;
                }
                continue;
            }
            self.header[self.have] = bytes[0];
            self.have += 1;
            self.partial += 1;
            bytes = &bytes[1..];
            // The header is complete once it decodes: never later than MAX_HEADER_LEN bytes.
            let Some(header) = FrameHeader::parse(&self.header[..self.have]) else {
                continue;
            };
            self.payload_left = header.payload_len;
            self.have = 0;
            self.in_control = header.is_control();
            if self.in_control {
                self.control += header.header_len as u64;
            }
            if self.payload_left == 0 {
                self.partial = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtlab_wire::framing::{ws_frame, ws_header_len};

    fn frame(len: usize) -> Vec<u8> {
        ws_frame(ws_opcode::TEXT, &vec![b'x'; len]).to_vec()
    }

    #[test]
    fn unmasked_hello_rfc_5_7() {
        let frame = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let h = FrameHeader::parse(&frame).unwrap();
        assert!(h.fin);
        assert_eq!((h.rsv, h.opcode, h.masked), (0, 0x1, false));
        assert_eq!((h.payload_len, h.length_form), (5, LengthForm::Bits7));
        assert_eq!((h.header_len, h.frame_len()), (2, Some(7)));
        assert_eq!(h.header_len, ws_header_len(5, false));
    }

    #[test]
    fn masked_hello_rfc_5_7() {
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let h = FrameHeader::parse(&frame).unwrap();
        assert!(h.masked);
        assert_eq!(h.mask_key, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(h.header_len, 6);
        assert_eq!(h.header_len, ws_header_len(5, true));
        assert_eq!(unmask(&frame[6..], [0x37, 0xfa, 0x21, 0x3d]), b"Hello");
    }

    #[test]
    fn extended_lengths_rfc_5_7() {
        // 256 bytes binary, unmasked: 82 7E 0100.
        let h = FrameHeader::parse(&[0x82, 0x7e, 0x01, 0x00]).unwrap();
        assert_eq!(
            (h.opcode, h.payload_len, h.length_form),
            (2, 256, LengthForm::Bits16)
        );
        assert_eq!(h.header_len, 4);
        // 64 KiB binary, unmasked: 82 7F 0000000000010000.
        let h = FrameHeader::parse(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]).unwrap();
        assert_eq!((h.payload_len, h.length_form), (65_536, LengthForm::Bits64));
        assert_eq!(h.header_len, 10);
        // Too short to hold the extended length.
        assert_eq!(FrameHeader::parse(&[0x82, 0x7e, 0x01]), None);
        assert_eq!(FrameHeader::parse(&[0x81]), None);
    }

    #[test]
    fn fragments_and_control_frames_rfc_5_7() {
        // "Hel" then "lo": FIN=0 text, then FIN=1 continuation.
        let first = FrameHeader::parse(&[0x01, 0x03, 0x48, 0x65, 0x6c]).unwrap();
        assert!(!first.fin);
        assert_eq!(opcode_name(first.opcode), "text");
        assert!(first.starts_message() && !first.is_control());
        let last = FrameHeader::parse(&[0x80, 0x02, 0x6c, 0x6f]).unwrap();
        assert!(last.fin);
        assert_eq!(opcode_name(last.opcode), "continuation");
        assert!(!last.starts_message() && !last.is_control());
        let ping = FrameHeader::parse(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]).unwrap();
        assert_eq!(opcode_name(ping.opcode), "ping");
        assert!(ping.is_control());
    }

    #[test]
    fn decodes_what_the_wire_crate_encodes() {
        for len in [0, 5, 125, 126, 300, 65_535, 65_536] {
            let bytes = frame(len);
            let h = FrameHeader::parse(&bytes).unwrap();
            assert_eq!(h.payload_len, len as u64, "{len}");
            assert_eq!(h.header_len, ws_header_len(len, false), "{len}");
            assert_eq!(h.frame_len(), Some(bytes.len()), "{len}");
            assert!(h.fin && !h.masked && h.opcode == ws_opcode::TEXT);
        }
    }

    #[test]
    fn split_stops_at_an_incomplete_frame() {
        let mut stream = vec![0x81, 0x05, b'H', b'e', b'l', b'l', b'o'];
        stream.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
        stream.extend_from_slice(&[0x81, 0x05, b'x']);
        let frames = split_frames(&stream);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].1, 7..11);
    }

    #[test]
    fn follows_frames_of_every_length_form_after_the_upgrade_head() {
        let mut bytes = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        for len in [0, 5, 125, 126, 300, 65_535, 65_600] {
            bytes.extend(frame(len));
        }
        let second_to_last = bytes.len() - frame(65_600).len();
        // Fed in awkward pieces, the cursor is at a boundary exactly after each frame.
        let mut c = FrameCursor::new();
        for piece in bytes[..second_to_last].chunks(7) {
            c.feed(piece);
        }
        assert_eq!(c.partial(), 0);
        c.feed(&bytes[second_to_last..second_to_last + 1000]);
        assert_eq!(c.partial(), 1000);
        c.feed(&bytes[second_to_last + 1000..]);
        assert_eq!(c.partial(), 0);
    }

    #[test]
    fn a_masked_header_fed_byte_by_byte_is_followed() {
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let mut c = FrameCursor::new();
        c.feed(b"HTTP/1.1 101 OK\r\n\r\n");
        for (i, b) in frame.iter().enumerate() {
            c.feed(&[*b]);
            let expected = if i + 1 == frame.len() { 0 } else { i + 1 };
            assert_eq!(c.partial(), expected, "after byte {i}");
        }
    }

    #[test]
    fn a_head_split_across_reads_is_still_found() {
        let mut c = FrameCursor::new();
        c.feed(b"HTTP/1.1 101 OK\r\n\r");
        c.feed(b"\n\x81\x02h");
        assert_eq!(c.partial(), 3);
        c.feed(b"i");
        assert_eq!(c.partial(), 0);
    }

    #[test]
    fn control_frames_are_counted_as_they_cross() {
        // A handshake head, an event, a ping split anywhere, another event, a masked pong.
        let mut stream = b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec();
        stream.extend(frame(10));
        let ping = ws_frame(ws_opcode::PING, b"12345");
        stream.extend_from_slice(&ping);
        stream.extend(frame(200));
        let pong = [0x8a, 0x85, 1, 2, 3, 4, b'a', b'b', b'c', b'd', b'e'];
        stream.extend_from_slice(&pong);
        for cut in [1, 7, 40, 45, 60] {
            let mut cursor = FrameCursor::new();
            for piece in stream.chunks(cut) {
                cursor.feed(piece);
            }
            assert_eq!(
                cursor.control_bytes(),
                (ping.len() + pong.len()) as u64,
                "cut {cut}"
            );
            assert_eq!(cursor.partial(), 0);
        }
        // The pong's 6-byte header and 3 of its payload bytes have crossed.
        let mut cursor = FrameCursor::new();
        cursor.feed(&stream[..stream.len() - pong.len() + 9]);
        assert_eq!(
            cursor.control_bytes(),
            ping.len() as u64 + 9,
            "counted as they cross"
        );
    }
}
