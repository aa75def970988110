//! WebSocket on the wire (RFC 6455): the opening handshake and the frame format.
//!
//! **The handshake** (§4) is one HTTP/1.1 request and response. The client sends
//! `Upgrade: websocket` and a `Sec-WebSocket-Key` (16 random bytes, base64). The server proves it
//! understood — that it is not an unsuspecting HTTP server replaying a cached answer — by returning
//! `101 Switching Protocols` with `Sec-WebSocket-Accept = base64(SHA-1(key + GUID))`, where the
//! GUID `258EAFA5-E914-47DA-95CA-C5AB0DC85B11` is fixed by the RFC (§4.2.2, step 5.4). It is not a
//! security mechanism: anybody can compute it. After the empty line ending that response, the
//! connection carries frames, not HTTP.
//!
//! **A frame** (§5.2) is 2 to 14 bytes of header and a payload: byte 0 holds FIN, three reserved
//! bits and the opcode; byte 1 holds MASK and a 7-bit length (126 and 127 announce a 16- or 64-bit
//! length after it); then come the extended length, a 4-byte masking key if MASK, and the payload.
//! Frames from the client are always masked (each payload byte XOR one of 4 key bytes, so that a
//! client cannot make a confused proxy see bytes it chose); frames from the server never are. So an
//! event of up to 125 bytes costs the server 2 bytes of framing: less than anything but raw TCP.
//!
//! The headers are decoded by the client's one frame decoder,
//! [`transport::ws_frames`](crate::transport::ws_frames), the same code that follows frame
//! boundaries for the load generator's byte accounting; this file only *explains* what it decoded
//! ([`annotate_frame`]) and derives the handshake's accept value ([`accept_key`]), both tested on
//! the RFC's own examples. [`trace`] runs them over one real connection opened by
//! tokio-tungstenite through the recording tap.

use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt as _;
use rtlab_wire::framing::ws_opcode;
use sha1::{Digest as _, Sha1};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::hexdump::{hex_bytes, hexdump_head, truncate};
use super::http::{REQUEST_HEAD, RESPONSE_HEAD, print_recorded_head};
use super::recorder::{Direction, Recording};
use super::tls::TraceLink;
use super::{NO_EVENTS_HINT, Out, Totals, TraceError, run_capture};
use crate::config::Target;
use crate::transport::ws_frames::{FrameHeader, LengthForm, opcode_name, split_frames, unmask};

/// Rows of hex shown per frame (16 bytes each); the rest of a big frame is summarised.
pub const MAX_DUMP_ROWS: usize = 8;

/// The GUID RFC 6455 §1.3 appends to the key before hashing.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The RFC's own example key (§1.3)…
pub const RFC_EXAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// …and the accept value the RFC derives from it.
pub const RFC_EXAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// SHA-1 of `key` followed by the GUID: the 20 bytes that [`accept_key`] base64-encodes.
pub fn accept_digest(key: &str) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(WS_GUID.as_bytes());
    h.finalize().into()
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2):
/// `base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))`.
pub fn accept_key(key: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(accept_digest(key))
}

/// The start of the row for header byte `index`: its hex and its bits (as two nibbles), then its
/// top bit, the flag `name`, with `meaning[0]` when it is set and `meaning[1]` when it is not.
fn header_byte(index: usize, byte: u8, name: &str, set: bool, meaning: [&str; 2]) -> String {
    format!(
        "  byte {index}  0x{byte:02x} = {:04b} {:04b}   {name}={} ({})",
        byte >> 4,
        byte & 0xf,
        u8::from(set),
        if set { meaning[0] } else { meaning[1] }
    )
}

/// Annotates one whole frame (`frame` = header and payload): the hex, then every header field by
/// name, then the payload (unmasked when needed).
pub fn annotate_frame(out: &mut Out, frame: &[u8], h: &FrameHeader) {
    for row in hexdump_head(frame, "  ", MAX_DUMP_ROWS) {
        out.line(row);
    }
    let b0 = frame.first().copied().unwrap_or_default();
    let b1 = frame.get(1).copied().unwrap_or_default();
    out.line(format!(
        "{}  RSV={:03b}  opcode=0x{:x} ({})",
        header_byte(
            0,
            b0,
            "FIN",
            h.fin,
            ["final fragment", "more fragments follow"]
        ),
        h.rsv,
        h.opcode,
        opcode_name(h.opcode)
    ));
    let len7 = b1 & 0x7f;
    let length_text = match h.length_form {
        LengthForm::Bits7 => format!("payload length={} (7-bit)", h.payload_len),
        LengthForm::Bits16 => format!("length field={len7}: a 16-bit length follows"),
        LengthForm::Bits64 => format!("length field={len7}: a 64-bit length follows"),
    };
    let masking = [
        "client→server frames are always masked",
        "server→client frames never are",
    ];
    out.line(format!(
        "{}  {length_text}",
        header_byte(1, b1, "MASK", h.masked, masking)
    ));
    let pos = 2 + h.length_form.extended_len();
    if h.length_form != LengthForm::Bits7 {
        out.line(format!(
            "  bytes 2-{}  {}   payload length={} ({}-bit)",
            pos - 1,
            hex_bytes(frame.get(2..pos).unwrap_or_default()),
            h.payload_len,
            8 * (pos - 2)
        ));
    }
    if let Some(key) = h.mask_key {
        out.line(format!(
            "  bytes {}-{}  {}   masking key: payload[i] XOR key[i mod 4]",
            pos,
            pos + 3,
            hex_bytes(&key)
        ));
    }
    let payload = frame.get(h.header_len..).unwrap_or_default();
    let clear = match h.mask_key {
        Some(key) => unmask(payload, key),
        None => payload.to_vec(),
    };
    let shown = match h.opcode {
        ws_opcode::CLOSE if clear.len() >= 2 => {
            let code = u16::from_be_bytes([clear[0], clear[1]]);
            format!(
                "close code {code}{}",
                match std::str::from_utf8(&clear[2..]) {
                    Ok("") | Err(_) => String::new(),
                    Ok(r) => format!(", reason {r:?}"),
                }
            )
        }
        ws_opcode::TEXT | ws_opcode::PING | ws_opcode::PONG => {
            format!("{:?}", truncate(&String::from_utf8_lossy(&clear), 90))
        }
        _ => hex_bytes(&clear[..clear.len().min(24)]),
    };
    out.line(format!(
        "  payload {} B{}: {shown}",
        payload.len(),
        if h.masked {
            format!(
                " (masked {} → unmasked)",
                hex_bytes(&payload[..payload.len().min(8)])
            )
        } else {
            String::new()
        }
    ));
    out.line(format!(
        "  = {} B of header + {} B of payload",
        h.header_len,
        payload.len()
    ));
}

/// Prints the accept derivation: the RFC example first, then this connection's key and what the
/// server sent. Returns whether the server's value matched.
pub fn print_accept_derivation(
    out: &mut Out,
    key: Option<&str>,
    server_accept: Option<&str>,
) -> bool {
    out.section("Sec-WebSocket-Accept, derived (RFC 6455 §4.2.2)");
    out.line(format!("  accept = base64( SHA-1( key + \"{WS_GUID}\" ) )"));
    let example = accept_key(RFC_EXAMPLE_KEY);
    out.line(format!(
        "  RFC example:     key {RFC_EXAMPLE_KEY} → {example}  {}",
        if example == RFC_EXAMPLE_ACCEPT {
            "✓ = the RFC's s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        } else {
            "✗ differs from the RFC!"
        }
    ));
    let Some(key) = key else {
        out.line("  (no Sec-WebSocket-Key in the request)");
        return false;
    };
    let digest = accept_digest(key);
    let ours = accept_key(key);
    out.line(format!("  this connection: key {key}"));
    out.line(format!("    SHA-1(key + GUID) = {}", hex_bytes(&digest)));
    out.line(format!("    base64 of those 20 bytes = {ours}"));
    match server_accept {
        Some(theirs) if theirs == ours => {
            out.line(format!("    server sent        {theirs}  ✓ match"));
            true
        }
        Some(theirs) => {
            out.line(format!("    server sent        {theirs}  ✗ MISMATCH"));
            false
        }
        None => {
            out.line("    server sent no Sec-WebSocket-Accept  ✗");
            false
        }
    }
}

/// Opens one WebSocket to `/ws`, reads `frames` events, closes, and prints every byte annotated.
pub async fn trace(
    target: &Target,
    link: &TraceLink,
    frames: usize,
    timeout: Duration,
) -> anyhow::Result<Out> {
    let mut out = Out::default();
    let rec = Recording::new();
    let tcp = link.open(&target.authority, timeout).await?;
    let scheme = if target.tls { "wss" } else { "ws" };
    let url = format!(
        "{scheme}://{}{}",
        target.authority,
        target.path(rtlab_wire::paths::WS)
    );
    out.line(format!(
        "rtlab trace ws: one WebSocket connection to {url}; every byte below crossed the socket"
    ));

    let capture = async {
        let (mut ws, _response) = tokio_tungstenite::client_async(url.as_str(), rec.tap(tcp))
            .await
            .map_err(|e| anyhow::anyhow!("WebSocket handshake failed: {e}"))?;
        let mut texts = 0;
        while texts < frames {
            match ws.next().await {
                Some(Ok(Message::Text(_))) => texts += 1,
                Some(Ok(_)) => {}
                Some(Err(e)) => anyhow::bail!("connection failed after {texts} events: {e}"),
                None => anyhow::bail!("server closed after {texts} events"),
            }
        }
        // A normal close: our (masked) close frame, then the server's answer.
        ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "trace done".into(),
        }))
        .await?;
        while let Some(Ok(_)) = ws.next().await {}
        anyhow::Ok(())
    };
    let note = run_capture(timeout, NO_EVENTS_HINT, capture).await;
    link.describe(&mut out, &rec);

    let sent = rec.stream(Direction::Sent);
    let received = rec.stream(Direction::Received);
    let mut totals = Totals::default();
    let request = print_recorded_head(&mut out, REQUEST_HEAD, &sent, &mut totals)?
        .ok_or(TraceError::Incomplete("request head"))?;
    let Some(response) = print_recorded_head(&mut out, RESPONSE_HEAD, &received, &mut totals)?
    else {
        out.line("  (no complete response head)");
        out.failure = note.or(Some("no response head".into()));
        return Ok(out);
    };
    print_accept_derivation(
        &mut out,
        request.header("sec-websocket-key"),
        response.header("sec-websocket-accept"),
    );

    let down = &received[response.len..];
    let mut shown = 0;
    for (h, range) in split_frames(down) {
        let frame = &down[range.clone()];
        totals.framing_bytes += h.header_len;
        let payload = frame.len() - h.header_len;
        if h.starts_message() {
            totals.payload_bytes += payload;
            totals.events += 1;
        } else {
            totals.control_bytes += payload;
        }
        if shown < frames || h.is_control() {
            shown += 1;
            out.section(&format!(
                "server → client: frame {} at +{:.1} ms ({} bytes)",
                shown,
                rec.time_of(Direction::Received, response.len + range.start)
                    .unwrap_or_default()
                    .as_secs_f64()
                    * 1e3,
                frame.len()
            ));
            annotate_frame(&mut out, frame, &h);
        }
    }
    let up = &sent[request.len..];
    for (h, range) in split_frames(up) {
        totals.framing_bytes += h.header_len;
        totals.control_bytes += range.len() - h.header_len;
        out.section(&format!(
            "client → server: {} frame ({} bytes)",
            opcode_name(h.opcode),
            range.len()
        ));
        annotate_frame(&mut out, &up[range], &h);
    }
    if let Some(n) = note {
        out.blank();
        out.line(format!("! {n}"));
        out.failure = (totals.events == 0).then_some(n);
    }
    out.blank();
    out.line(totals.line());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The annotation of one whole frame, as the tracer prints it.
    fn annotated(frame: &[u8]) -> String {
        let h = FrameHeader::parse(frame).unwrap();
        let mut out = Out::default();
        annotate_frame(&mut out, frame, &h);
        out.into_string()
    }

    #[test]
    fn accept_key_matches_the_rfc_example() {
        assert_eq!(accept_key(RFC_EXAMPLE_KEY), RFC_EXAMPLE_ACCEPT);
        assert_eq!(
            hex_bytes(&accept_digest(RFC_EXAMPLE_KEY)),
            "b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea"
        );
    }

    #[test]
    fn annotation_names_every_field() {
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let text = annotated(&frame);
        assert!(
            text.contains("0000  81 85 37 fa 21 3d 7f 9f 4d 51 58"),
            "{text}"
        );
        assert!(text.contains("FIN=1"), "{text}");
        assert!(text.contains("RSV=000"), "{text}");
        assert!(text.contains("opcode=0x1 (text)"), "{text}");
        assert!(text.contains("MASK=1"), "{text}");
        assert!(text.contains("payload length=5 (7-bit)"), "{text}");
        assert!(text.contains("37 fa 21 3d   masking key"), "{text}");
        assert!(text.contains("\"Hello\""), "{text}");
    }

    #[test]
    fn annotation_of_a_close_frame_and_a_16_bit_length() {
        let frame = [0x88, 0x02, 0x03, 0xe8];
        assert!(annotated(&frame).contains("close code 1000"));

        let mut frame = vec![0x82, 0x7e, 0x01, 0x00];
        frame.extend(std::iter::repeat_n(0u8, 256));
        let text = annotated(&frame);
        assert!(
            text.contains("bytes 2-3  01 00   payload length=256 (16-bit)"),
            "{text}"
        );
    }

    #[test]
    fn accept_derivation_checks_the_server() {
        let mut out = Out::default();
        assert!(print_accept_derivation(
            &mut out,
            Some(RFC_EXAMPLE_KEY),
            Some(RFC_EXAMPLE_ACCEPT)
        ));
        let text = out.into_string();
        assert!(text.contains("✓ match"));
        assert!(text.contains(WS_GUID));
        let mut out = Out::default();
        assert!(!print_accept_derivation(
            &mut out,
            Some(RFC_EXAMPLE_KEY),
            Some("nope")
        ));
    }
}
