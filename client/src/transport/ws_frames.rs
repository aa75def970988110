//! Where the WebSocket frames begin and end in the bytes read, followed beside tungstenite.
//!
//! tungstenite reads the socket into a buffer of its own and hands out whole messages. When its
//! stream says "nothing yet" (`Pending`), every *complete* frame it read has been handed out, but
//! the start of the next one may sit in its buffer: with 64 KiB events that is up to 64 KiB that
//! the byte counter has counted and no event accounts for yet. A phase boundary crossed at that
//! moment would put those bytes before the boundary and their event after it.
//!
//! [`FrameCursor`] reads the same bytes as they pass the socket wrapper
//! ([`WireCounter::with_frames`](crate::wire_counter::WireCounter::with_frames)): it skips the
//! HTTP head of the upgrade, then walks the frame headers (RFC 6455 §5.2: 2 bytes, then a 16- or
//! 64-bit length when the 7-bit length is 126 or 127, then a 4-byte key when masked) and skips
//! each payload. [`FrameCursor::partial`] is how many bytes of an incomplete frame have been read:
//! exactly what the subscriber moves across a boundary. It parses headers, never payloads, so it
//! costs a few operations per frame; the framing it *measures* still comes from the counter.

/// Follows frame boundaries in a server → client byte stream that starts with the HTTP response
/// to the upgrade.
#[derive(Debug, Clone, Default)]
pub struct FrameCursor {
    /// Bytes of `\r\n\r\n` matched so far while still in the HTTP head; `None` once past it.
    head_matched: Option<u8>,
    /// Header bytes of the current frame.
    header: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to come.
    payload_left: u64,
    /// Bytes of the current incomplete frame read so far.
    partial: u64,
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

    /// Follows `bytes`, the next bytes read from the socket.
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
            if self.have < 2 {
                continue;
            }
            let len7 = self.header[1] & 0x7f;
            let ext = match len7 {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
            if self.have < 2 + ext + mask {
                continue;
            }
            self.payload_left = match ext {
                0 => u64::from(len7),
                _ => self.header[2..2 + ext]
                    .iter()
                    .fold(0u64, |n, &b| (n << 8) | u64::from(b)),
            };
            self.have = 0;
            if self.payload_left == 0 {
                self.partial = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Vec<u8> {
        let mut f = vec![0x81];
        match len {
            0..=125 => f.push(len as u8),
            126..=65_535 => {
                f.push(126);
                f.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                f.push(127);
                f.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        f.extend(std::iter::repeat_n(b'x', len));
        f
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
    fn a_head_split_across_reads_is_still_found() {
        let mut c = FrameCursor::new();
        c.feed(b"HTTP/1.1 101 OK\r\n\r");
        c.feed(b"\n\x81\x02h");
        assert_eq!(c.partial(), 3);
        c.feed(b"i");
        assert_eq!(c.partial(), 0);
    }
}
