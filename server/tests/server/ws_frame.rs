//! Client-side WebSocket frames built by hand (RFC 6455 §5.2), shared by the socket conformance
//! tests (`conformance`) and the in-process property tests (`ws_properties`), so that both speak
//! exactly the same bytes to the server.
//!
//! Nothing here checks the rules: a test may ask for reserved bits, unknown opcodes or an
//! unmasked client frame on purpose, to see how the server answers it.

pub use rtlab_wire::framing::ws_opcode::{BINARY, CLOSE, CONTINUATION as CONT, PING, PONG, TEXT};

/// One frame's bytes: the header with the length in its shortest form, then the payload, masked
/// with `mask` when there is one (a client must mask, §5.1; `None` breaks that rule).
pub fn encode(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(u8::from(fin) << 7 | (rsv & 0x7) << 4 | (opcode & 0x0F));
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | u8::try_from(n).expect("small")),
        n @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&u16::try_from(n).expect("u16").to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
        }
        None => out.extend_from_slice(payload),
    }
    out
}
