//! RFC 6455 conformance of `/ws/echo` and `/ws`, family by family as Autobahn|Testsuite numbers
//! them (1.x framing, 2.x ping/pong, 3.x reserved bits, 4.x opcodes, 5.x fragmentation, 6.x UTF-8,
//! 7.x close, 9.x volume), over a raw `TcpStream`: the handshake is written by hand, client frames
//! are built and masked here, and every assertion is on the server's actual frames and close codes.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::common::{start, within};
use crate::ws_frame::{BINARY, CLOSE, CONT, PING, PONG, TEXT, encode};

const PROTOCOL_ERROR: u16 = 1002;
const INVALID_PAYLOAD: u16 = 1007;
const TOO_BIG: u16 = 1009;

/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(200);

/// One frame as the server sent it.
#[derive(Debug)]
struct Frame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: Vec<u8>,
}

/// A raw WebSocket client connection.
struct Raw {
    io: BufReader<TcpStream>,
}

impl Raw {
    /// Opens a TCP connection and performs the opening handshake by hand.
    async fn open(addr: SocketAddr, path: &str) -> Raw {
        let mut tcp = within("connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).await.expect("write");
        let mut io = BufReader::new(tcp);
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let b = within("handshake", io.read_u8()).await.expect("head");
            head.push(b);
        }
        let head = String::from_utf8(head).expect("ASCII head");
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        // RFC 6455 §1.3's own example key and accept value.
        assert!(
            head.to_ascii_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{head}"
        );
        Raw { io }
    }

    /// Sends raw bytes.
    async fn send_raw(&mut self, bytes: &[u8]) {
        within("write", self.io.get_mut().write_all(bytes))
            .await
            .expect("write");
    }

    /// Sends one masked frame.
    async fn send(&mut self, fin: bool, rsv: u8, opcode: u8, payload: &[u8]) {
        self.send_raw(&frame(fin, rsv, opcode, payload, true)).await;
    }

    /// Reads one frame; the server's frames must never be masked (RFC 6455 §5.1).
    async fn recv(&mut self) -> Frame {
        within("frame", async {
            let b0 = self.io.read_u8().await.expect("frame header");
            let b1 = self.io.read_u8().await.expect("frame header");
            assert_eq!(b1 & 0x80, 0, "server frames must be unmasked");
            let len = match b1 & 0x7F {
                126 => u64::from(self.io.read_u16().await.expect("len16")),
                127 => self.io.read_u64().await.expect("len64"),
                n => u64::from(n),
            };
            let mut payload = vec![0; usize::try_from(len).expect("fits")];
            self.io.read_exact(&mut payload).await.expect("payload");
            Frame {
                fin: b0 & 0x80 != 0,
                rsv: (b0 >> 4) & 0x7,
                opcode: b0 & 0x0F,
                payload,
            }
        })
        .await
    }

    /// Expects an unfragmented data frame echoing `payload` with `opcode`.
    async fn expect_message(&mut self, opcode: u8, payload: &[u8]) {
        let f = self.recv().await;
        assert!(f.fin && f.rsv == 0, "one whole frame: {f:?}");
        assert_eq!(f.opcode, opcode);
        assert!(
            f.payload == payload,
            "payload of {} bytes differs",
            f.payload.len()
        );
    }

    /// Expects a close frame with `code` (and a UTF-8 reason), then the server closing TCP.
    async fn expect_close(mut self, code: u16) {
        let f = self.recv().await;
        assert_eq!(f.opcode, CLOSE, "expected close {code}, got {f:?}");
        assert!(f.payload.len() >= 2, "close without code");
        assert_eq!(u16::from_be_bytes([f.payload[0], f.payload[1]]), code);
        assert!(std::str::from_utf8(&f.payload[2..]).is_ok());
        self.expect_eof().await;
    }

    /// After the close handshake nothing more arrives and the server closes the connection.
    async fn expect_eof(mut self) {
        let mut rest = Vec::new();
        within("server closes TCP", self.io.read_to_end(&mut rest))
            .await
            .ok();
        assert!(rest.is_empty(), "bytes after close: {rest:?}");
    }

    /// Nothing arrives for [`QUIET`].
    async fn expect_silence(&mut self) {
        let mut b = [0u8; 1];
        let read = tokio::time::timeout(QUIET, self.io.read(&mut b)).await;
        assert!(read.is_err(), "unexpected bytes: {read:?}");
    }
}

/// Builds one frame; client frames are masked with a fixed, non-trivial key.
fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    encode(fin, rsv, opcode, payload, masked.then_some(KEY))
}

/// A close frame payload: the code and a reason.
fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

fn filler(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// 1.x: text and binary of every length-encoding boundary, up to the 16 MiB echo limit, come
/// back unchanged; one byte more is close 1009.
#[tokio::test]
async fn family_1_text_and_binary_at_length_boundaries() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let mut ws = Raw::open(addr, "/ws/echo").await;
    for len in [0, 1, 125, 126, 127, 65535, 65536, 16 * 1024 * 1024] {
        let payload = filler(len);
        for opcode in [TEXT, BINARY] {
            ws.send(true, 0, opcode, &payload).await;
            ws.expect_message(opcode, &payload).await;
        }
    }
    ws.send(true, 0, CLOSE, &close_payload(1000, b"")).await;
    ws.expect_close(1000).await;

    let mut ws = Raw::open(addr, "/ws/echo").await;
    ws.send(true, 0, BINARY, &filler(16 * 1024 * 1024 + 1))
        .await;
    ws.expect_close(TOO_BIG).await;
}

/// 2.x: a ping is answered by a pong with the same payload (0 to 125 bytes, any bytes); an
/// unsolicited pong is ignored; a ping over 125 bytes fails the connection with 1002.
#[tokio::test]
async fn family_2_ping_and_pong() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let mut ws = Raw::open(addr, "/ws/echo").await;
    let binary: Vec<u8> = (0..=124u8).map(|b| b.wrapping_mul(7) | 0x80).collect();
    for payload in [&b""[..], b"Hello, world!", &filler(125), &binary] {
        ws.send(true, 0, PING, payload).await;
        ws.expect_message(PONG, payload).await;
    }
    ws.send(true, 0, PONG, b"unsolicited").await;
    ws.expect_silence().await;
    ws.send(true, 0, TEXT, b"still here").await;
    ws.expect_message(TEXT, b"still here").await;
    ws.send(true, 0, PING, &filler(126)).await;
    ws.expect_close(PROTOCOL_ERROR).await;

    // Ten pings in one write: ten pongs, in order.
    let mut ws = Raw::open(addr, "/ws/echo").await;
    let burst: Vec<u8> = (0..10u8)
        .flat_map(|i| frame(true, 0, PING, &[i; 3], true))
        .collect();
    ws.send_raw(&burst).await;
    for i in 0..10u8 {
        ws.expect_message(PONG, &[i; 3]).await;
    }
}

/// 3.x: any reserved bit set without a negotiated extension is close 1002, on data and control
/// frames alike.
#[tokio::test]
async fn family_3_reserved_bits() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    for (rsv, opcode) in [
        (1, TEXT),
        (2, TEXT),
        (4, TEXT),
        (3, BINARY),
        (5, PING),
        (7, CLOSE),
    ] {
        let mut ws = Raw::open(addr, "/ws/echo").await;
        ws.send(true, 0, TEXT, b"before").await;
        ws.expect_message(TEXT, b"before").await;
        ws.send(true, rsv, opcode, b"").await;
        ws.expect_close(PROTOCOL_ERROR).await;
    }
}

/// 4.x: reserved non-control (3–7) and control (B–F) opcodes are close 1002.
#[tokio::test]
async fn family_4_reserved_opcodes() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    for opcode in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let mut ws = Raw::open(addr, "/ws/echo").await;
        ws.send(true, 0, opcode, b"reserved").await;
        ws.expect_close(PROTOCOL_ERROR).await;
    }
}

/// 5.x: fragments are reassembled and echoed as one message, control frames between fragments
/// are answered at once; a continuation with nothing to continue, a new message inside a
/// fragmented one and a fragmented control frame are close 1002.
#[tokio::test]
async fn family_5_fragmentation() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let mut ws = Raw::open(addr, "/ws/echo").await;
    ws.send(false, 0, TEXT, b"frag").await;
    ws.send(false, 0, CONT, b"").await;
    ws.send(false, 0, CONT, b"men").await;
    ws.send(true, 0, CONT, b"ted").await;
    ws.expect_message(TEXT, b"fragmented").await;

    ws.send(false, 0, BINARY, &[0, 1]).await;
    ws.send(true, 0, PING, b"in between").await;
    ws.expect_message(PONG, b"in between").await;
    ws.send(true, 0, PONG, b"ignored").await;
    ws.send(true, 0, CONT, &[2, 3]).await;
    ws.expect_message(BINARY, &[0, 1, 2, 3]).await;

    // 1 byte per frame, all in one write.
    let text = b"one byte at a time";
    let mut burst = frame(false, 0, TEXT, &text[..1], true);
    for (i, b) in text.iter().enumerate().skip(1) {
        burst.extend(frame(i == text.len() - 1, 0, CONT, &[*b], true));
    }
    ws.send_raw(&burst).await;
    ws.expect_message(TEXT, text).await;
    ws.send(true, 0, CLOSE, &close_payload(1000, b"")).await;
    ws.expect_close(1000).await;

    let cases: [&[(bool, u8)]; 6] = [
        &[(true, CONT)],                // 5.9: continuation, nothing started
        &[(false, CONT)],               // 5.10
        &[(false, TEXT), (true, TEXT)], // new text inside a fragmented message
        &[(false, TEXT), (false, BINARY)],
        &[(false, PING)], // 5.3: fragmented ping
        &[(false, CLOSE)],
    ];
    for frames in cases {
        let mut ws = Raw::open(addr, "/ws/echo").await;
        for &(fin, opcode) in frames {
            ws.send(fin, 0, opcode, b"x").await;
        }
        ws.expect_close(PROTOCOL_ERROR).await;
    }
}

/// 6.x: valid multi-byte UTF-8 comes back, also when a code point is split between fragments;
/// invalid UTF-8 in a text message is close 1007, and as soon as a fragment makes it invalid
/// (fail fast), not only when the message ends.
#[tokio::test]
async fn family_6_utf8() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let kosme = "κόσμε 𝄞 ✓".as_bytes();
    let mut ws = Raw::open(addr, "/ws/echo").await;
    ws.send(true, 0, TEXT, kosme).await;
    ws.expect_message(TEXT, kosme).await;
    for split in 1..kosme.len() {
        ws.send(false, 0, TEXT, &kosme[..split]).await;
        ws.send(true, 0, CONT, &kosme[split..]).await;
        ws.expect_message(TEXT, kosme).await;
    }
    // Binary messages are not UTF-8 checked.
    ws.send(true, 0, BINARY, &[0xFF, 0xFE]).await;
    ws.expect_message(BINARY, &[0xFF, 0xFE]).await;

    let invalid: [&[u8]; 5] = [
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // surrogate
        b"\xff",
        b"\xc0\xaf",         // overlong
        b"\xf4\x90\x80\x80", // above U+10FFFF
        b"ok\xe1\xbd",       // truncated at the end of the message
    ];
    for bytes in invalid {
        let mut ws = Raw::open(addr, "/ws/echo").await;
        ws.send(true, 0, TEXT, bytes).await;
        ws.expect_close(INVALID_PAYLOAD).await;

        let mut ws = Raw::open(addr, "/ws/echo").await;
        ws.send(false, 0, TEXT, &bytes[..1]).await;
        ws.send(true, 0, CONT, &bytes[1..]).await;
        ws.expect_close(INVALID_PAYLOAD).await;
    }

    // Fail fast: the fragment that makes the text invalid closes, with the message unfinished.
    let mut ws = Raw::open(addr, "/ws/echo").await;
    ws.send(false, 0, TEXT, "κόσμε".as_bytes()).await;
    ws.send(false, 0, CONT, b"\xed\xa0\x80").await;
    ws.expect_close(INVALID_PAYLOAD).await;
}

/// 7.x: a close is answered with the same code and then the TCP connection is closed; nothing
/// is sent after a close; invalid codes and a 1-byte payload are 1002; an invalid UTF-8 reason is
/// 1002 (actix-http reports it as the same error as a bad code; Autobahn 7.5.1 accepts 1002 or
/// 1007).
#[tokio::test]
async fn family_7_close_handling() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();

    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        let mut ws = Raw::open(addr, "/ws/echo").await;
        ws.send(true, 0, CLOSE, &close_payload(code, b"bye \xe2\x9c\x93"))
            .await;
        ws.expect_close(code).await;
    }

    // No payload: answered with 1000.
    let mut ws = Raw::open(addr, "/ws/echo").await;
    ws.send(true, 0, CLOSE, b"").await;
    ws.expect_close(1000).await;

    // A message after the close is not echoed.
    let mut ws = Raw::open(addr, "/ws/echo").await;
    let mut burst = frame(true, 0, CLOSE, &close_payload(1000, b""), true);
    burst.extend(frame(true, 0, TEXT, b"too late", true));
    burst.extend(frame(true, 0, PING, b"too late", true));
    ws.send_raw(&burst).await;
    ws.expect_close(1000).await;

    for code in [
        0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let mut ws = Raw::open(addr, "/ws/echo").await;
        ws.send(true, 0, CLOSE, &close_payload(code, b"")).await;
        // 1012–1014 are registered with IANA since RFC 6455 and accepted by actix-http.
        let expected = if (1012..=1014).contains(&code) {
            code
        } else {
            PROTOCOL_ERROR
        };
        ws.expect_close(expected).await;
    }

    let mut ws = Raw::open(addr, "/ws/echo").await;
    ws.send(true, 0, CLOSE, &[0x03]).await;
    ws.expect_close(PROTOCOL_ERROR).await;

    let mut ws = Raw::open(addr, "/ws/echo").await;
    ws.send(
        true,
        0,
        CLOSE,
        &close_payload(1000, b"\xce\xba\xed\xa0\x80"),
    )
    .await;
    ws.expect_close(PROTOCOL_ERROR).await;

    // An unmasked client frame (RFC 6455 §5.1).
    let mut ws = Raw::open(addr, "/ws/echo").await;
    ws.send_raw(&frame(true, 0, TEXT, b"unmasked", false)).await;
    ws.expect_close(PROTOCOL_ERROR).await;
}

/// 9.x: many messages in a burst, and a large message in small fragments, all come back in
/// order.
#[tokio::test]
async fn family_9_volume() {
    let server = start(|_| {}).await;
    let mut ws = Raw::open(server.http_addr(), "/ws/echo").await;
    let burst: Vec<u8> = (0..1000u32)
        .flat_map(|i| frame(true, 0, TEXT, format!("message {i}").as_bytes(), true))
        .collect();
    ws.send_raw(&burst).await;
    for i in 0..1000u32 {
        ws.expect_message(TEXT, format!("message {i}").as_bytes())
            .await;
    }

    let big = filler(1024 * 1024);
    let chunks: Vec<&[u8]> = big.chunks(1024).collect();
    let mut burst = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let opcode = if i == 0 { BINARY } else { CONT };
        burst.extend(frame(i == chunks.len() - 1, 0, opcode, chunk, true));
    }
    ws.send_raw(&burst).await;
    ws.expect_message(BINARY, &big).await;
}

/// `/ws` (the feed) follows the same frame rules; its message limit is `--max-publish-bytes`.
#[tokio::test]
async fn feed_socket_follows_the_same_rules() {
    let server = start(|c| c.max_publish_bytes = 1024).await;
    let addr = server.http_addr();

    // A fragmented text frame is reassembled and published as one event.
    let mut ws = Raw::open(addr, "/ws").await;
    ws.send(false, 0, TEXT, "κό".as_bytes()).await;
    ws.send(true, 0, PING, b"p").await;
    ws.expect_message(PONG, b"p").await;
    ws.send(true, 0, CONT, "σμε".as_bytes()).await;
    let event = ws.recv().await;
    assert_eq!(event.opcode, TEXT);
    let event: serde_json::Value = serde_json::from_slice(&event.payload).expect("event JSON");
    assert_eq!(event["data"], "κόσμε");
    ws.send(true, 0, CLOSE, &close_payload(1000, b"")).await;
    ws.expect_close(1000).await;

    let cases: [(Vec<Vec<u8>>, u16); 6] = [
        (vec![frame(true, 0, TEXT, b"\xff", true)], INVALID_PAYLOAD),
        (
            vec![
                frame(false, 0, TEXT, b"ok", true),
                frame(true, 0, CONT, b"\xc0\xaf", true),
            ],
            INVALID_PAYLOAD,
        ),
        (vec![frame(true, 2, TEXT, b"x", true)], PROTOCOL_ERROR),
        (vec![frame(true, 0, 0xB, b"x", true)], PROTOCOL_ERROR),
        (
            vec![frame(true, 0, CLOSE, &close_payload(1005, b""), true)],
            PROTOCOL_ERROR,
        ),
        (vec![frame(true, 0, TEXT, &filler(1025), true)], TOO_BIG),
    ];
    for (frames, code) in cases {
        let mut ws = Raw::open(addr, "/ws").await;
        for f in frames {
            ws.send_raw(&f).await;
        }
        ws.expect_close(code).await;
    }

    // The limit applies to the reassembled message, not only to one frame.
    let mut ws = Raw::open(addr, "/ws").await;
    ws.send(false, 0, TEXT, &filler(1000)).await;
    ws.send(true, 0, CONT, &filler(1000)).await;
    ws.expect_close(TOO_BIG).await;
}
