//! Property tests of the WebSocket message path: arbitrary client frame sequences through the
//! real handshake ([`upgrade`]), actix-ws's frame parser and our reassembly ([`Messages`]).
//!
//! In process, without sockets, so that hundreds of sequences take well under a second: the bytes
//! arrive through a request body that hands them over piece by piece, yielding between pieces as
//! a socket would, so frames are also parsed when cut at arbitrary points.
//!
//! The oracle is a small reference model of RFC 6455's rules, written here independently of
//! `ws_message.rs`: for each frame it collects every rule the frame breaks (a frame may break
//! several, and which one the parser notices first is its business) with the close code each
//! calls for. The properties: no sequence panics or hangs; the messages that come out are exactly
//! the model's; and a sequence that breaks a rule fails the connection with one of the codes of
//! the first frame that breaks one (1002, 1007 or 1009).

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::FromRequest;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::test::TestRequest;
use actix_web::web::{self, Bytes};
use actix_ws::{CloseCode, CloseReason};
use bytestring::ByteString;
use futures_util::Stream;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use rtlab_server::transport::ws_message::{Incoming, Messages, upgrade};

use crate::ws_frame::{BINARY, CLOSE, CONT, PING, PONG, TEXT, encode};

/// The message limit in these tests: small, so that 1009 is easy to reach.
const MAX: usize = 64;

/// Close codes a peer may send (RFC 6455 §7.4 and the IANA registry): the parser takes these.
fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// One client frame, possibly breaking any rule.
#[derive(Debug, Clone)]
struct Frame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    mask: [u8; 4],
    payload: Vec<u8>,
    /// Where the frame's bytes are cut into pieces on their way in.
    cuts: Vec<Index>,
}

impl Frame {
    fn encode(&self) -> Vec<u8> {
        let mask = self.masked.then_some(self.mask);
        encode(self.fin, self.rsv, self.opcode, &self.payload, mask)
    }

    /// The frame's bytes in pieces, cut at [`Frame::cuts`].
    fn pieces(&self) -> Vec<Bytes> {
        let bytes = self.encode();
        let mut cuts: Vec<usize> = self.cuts.iter().map(|i| i.index(bytes.len())).collect();
        cuts.extend([0, bytes.len()]);
        cuts.sort_unstable();
        cuts.dedup();
        cuts.windows(2)
            .map(|w| Bytes::copy_from_slice(&bytes[w[0]..w[1]]))
            .collect()
    }
}

/// How a sequence ends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// The peer's close frame was read (and nothing after it).
    Closed,
    /// The bytes ran out (possibly inside a fragmented message): the peer is gone.
    Eof,
    /// The connection fails; with the model, any of these codes is right.
    Failed(BTreeSet<u16>),
}

/// The reference model: what the server must make of `frames`.
fn model(frames: &[Frame]) -> (Vec<Incoming>, End) {
    let fail = |codes: &[u16]| End::Failed(codes.iter().copied().collect());
    let mut out = Vec::new();
    // A fragmented message in progress: text?, bytes so far.
    let mut partial: Option<(bool, Vec<u8>)> = None;
    for f in frames {
        let len = f.payload.len();
        let control = f.opcode >= 8;
        let known = matches!(f.opcode, CONT | TEXT | BINARY | CLOSE | PING | PONG);
        let mut broken = BTreeSet::new();
        if f.rsv != 0 || !f.masked || !known {
            broken.insert(1002); // §5.2 reserved bits and opcodes, §5.1 client masking
        }
        if known && len > MAX {
            broken.insert(1009);
        }
        if known && control && (len > 125 || !f.fin) {
            broken.insert(1002); // §5.5 control frames: short, never fragmented
        }
        let out_of_place = match f.opcode {
            CONT => partial.is_none(),
            TEXT | BINARY => partial.is_some(),
            _ => false,
        };
        if known && out_of_place {
            broken.insert(1002); // §5.4 fragmentation
        }
        if known && f.opcode == CLOSE && len > 0 {
            let code_ok =
                len >= 2 && valid_close_code(u16::from_be_bytes([f.payload[0], f.payload[1]]));
            if !code_ok || std::str::from_utf8(&f.payload[2.min(len)..]).is_err() {
                broken.insert(1002); // §5.5.1, §7.4
            }
        }
        if !broken.is_empty() {
            return (out, End::Failed(broken));
        }
        let bytes = Bytes::from(f.payload.clone());
        match f.opcode {
            TEXT | BINARY if f.fin => {
                if f.opcode == BINARY {
                    out.push(Incoming::Binary(bytes));
                } else if let Ok(text) = ByteString::try_from(bytes) {
                    out.push(Incoming::Text(text));
                } else {
                    return (out, fail(&[1007]));
                }
            }
            TEXT | BINARY | CONT => {
                let (text, mut buf) = partial.take().unwrap_or((f.opcode == TEXT, Vec::new()));
                if buf.len() + len > MAX {
                    return (out, fail(&[1009]));
                }
                buf.extend_from_slice(&f.payload);
                // §8.1: fail as soon as the text cannot become valid UTF-8.
                if text && std::str::from_utf8(&buf).is_err_and(|e| e.error_len().is_some()) {
                    return (out, fail(&[1007]));
                }
                if !f.fin {
                    partial = Some((text, buf));
                } else if !text {
                    out.push(Incoming::Binary(Bytes::from(buf)));
                } else if let Ok(text) = ByteString::try_from(Bytes::from(buf)) {
                    out.push(Incoming::Text(text));
                } else {
                    return (out, fail(&[1007]));
                }
            }
            PING => out.push(Incoming::Ping(bytes)),
            PONG => out.push(Incoming::Pong(bytes)),
            _ => {
                let reason = (len >= 2).then(|| CloseReason {
                    code: CloseCode::from(u16::from_be_bytes([f.payload[0], f.payload[1]])),
                    description: (len > 2)
                        .then(|| String::from_utf8_lossy(&f.payload[2..]).into_owned()),
                });
                out.push(Incoming::Close(reason));
                return (out, End::Closed);
            }
        }
    }
    (out, End::Eof)
}

/// A request body that hands over one piece per poll and yields in between, as a socket would.
struct Trickle {
    pieces: VecDeque<Bytes>,
    yielded: bool,
}

impl Stream for Trickle {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.yielded && !self.pieces.is_empty() {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.yielded = false;
        Poll::Ready(self.pieces.pop_front().map(Ok))
    }
}

/// Feeds `pieces` to a freshly upgraded connection and reads messages until it ends; a failure
/// ends with the one code the server chose.
async fn observe(pieces: Vec<Bytes>) -> (Vec<Incoming>, End) {
    let req = TestRequest::get()
        .uri("/ws")
        .insert_header((header::UPGRADE, "websocket"))
        .insert_header((header::CONNECTION, "Upgrade"))
        .insert_header((header::SEC_WEBSOCKET_VERSION, "13"))
        .insert_header((header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ=="))
        .to_http_request();
    let trickle = Trickle {
        pieces: pieces.into(),
        yielded: false,
    };
    let mut payload: actix_web::dev::Payload = actix_web::dev::Payload::Stream {
        payload: Box::pin(trickle),
    };
    let body = web::Payload::from_request(&req, &mut payload)
        .await
        .expect("a body");
    // The response is kept: actix-ws ends the message stream when it is dropped.
    let (_response, _session, mut messages): (_, _, Messages) =
        upgrade(&req, body, MAX).expect("a valid handshake");
    let mut out = Vec::new();
    loop {
        match messages.recv().await {
            Some(Ok(Incoming::Close(reason))) => {
                out.push(Incoming::Close(reason));
                return (out, End::Closed);
            }
            Some(Ok(message)) => out.push(message),
            Some(Err(violation)) => {
                let code = u16::from(violation.close_code());
                return (out, End::Failed([code].into()));
            }
            None => return (out, End::Eof),
        }
    }
}

/// Runs `observe` on a single-threaded runtime, failing (not hanging) after a few seconds.
fn run(rt: &tokio::runtime::Runtime, pieces: Vec<Bytes>) -> (Vec<Incoming>, End) {
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), observe(pieces))
            .await
            .expect("the message path hung")
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // The failing input is printed; no regression file is written into the source tree.
        failure_persistence: None,
        ..Config::default()
    })
}

/// Payloads: text (whole, or cut inside a code point), arbitrary bytes, and sizes around the
/// control-frame (125) and message ([`MAX`]) limits.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => ".{0,12}".prop_map(String::into_bytes),
        1 => (".{1,12}", any::<Index>()).prop_map(|(s, cut)| {
            let b = s.into_bytes();
            b[..cut.index(b.len())].to_vec()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..16),
        1 => prop::collection::vec(any::<u8>(), MAX - 4..140),
    ]
}

/// Close payloads: empty, one byte, or a code (valid or not) and a reason (UTF-8 or not).
fn close_payload() -> impl Strategy<Value = Vec<u8>> {
    let code = prop_oneof![
        prop::sample::select(vec![
            1000u16, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1011, 1014, 1015, 2999, 3000, 4999,
            5000
        ]),
        any::<u16>(),
    ];
    let reason = prop_oneof![
        ".{0,8}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..4),
    ];
    prop_oneof![
        1 => Just(Vec::new()),
        1 => prop::collection::vec(any::<u8>(), 1..=1),
        4 => (code, reason).prop_map(|(code, reason)| [&code.to_be_bytes()[..], &reason].concat()),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    let opcode = prop_oneof![
        4 => Just(TEXT),
        2 => Just(BINARY),
        4 => Just(CONT),
        2 => Just(PING),
        1 => Just(PONG),
        1 => Just(CLOSE),
        1 => prop_oneof![3u8..=7, 0xBu8..=0xF],
    ];
    let rsv = prop_oneof![12 => Just(0u8), 1 => 1u8..=7];
    (
        prop::bool::weighted(0.7),
        rsv,
        opcode,
        prop::bool::weighted(0.97),
        any::<[u8; 4]>(),
        (payload(), close_payload()),
        prop::collection::vec(any::<Index>(), 0..3),
    )
        .prop_map(
            |(fin, rsv, opcode, masked, mask, (data, close), cuts)| Frame {
                fin,
                rsv,
                opcode,
                masked,
                mask,
                payload: if opcode == CLOSE { close } else { data },
                cuts,
            },
        )
}

/// Any frame sequence, each frame cut anywhere: the server's messages and its verdict are the
/// model's, exactly.
#[test]
fn frame_sequences_end_as_the_rfc_says() {
    let rt = runtime();
    let failed = RefCell::new(BTreeSet::new());
    runner(256)
        .run(&prop::collection::vec(frame(), 0..8), |frames| {
            let pieces = frames.iter().flat_map(Frame::pieces).collect();
            let (got, end) = run(&rt, pieces);
            let (want, want_end) = model(&frames);
            prop_assert_eq!(&got, &want, "messages");
            match (&end, &want_end) {
                (End::Failed(code), End::Failed(allowed)) => {
                    prop_assert!(
                        code.is_subset(allowed),
                        "failed with {:?}, the frame breaks {:?}",
                        code,
                        allowed
                    );
                    failed.borrow_mut().extend(code.iter().copied());
                }
                _ => prop_assert_eq!(&end, &want_end),
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // The generator must reach every kind of failure, or the property proves little.
    assert_eq!(
        failed.into_inner(),
        BTreeSet::from([1002, 1007, 1009]),
        "close codes exercised"
    );
}

/// Frames followed by arbitrary bytes, all cut at arbitrary points (a piece may hold the end of
/// one frame and the start of the next): never a panic or a hang; the messages that come out
/// agree with the model as far as it goes; a failure uses one of the three close codes.
#[test]
fn any_bytes_in_any_pieces_end_cleanly() {
    let rt = runtime();
    let input = (
        prop::collection::vec(frame(), 0..6),
        prop::collection::vec(any::<u8>(), 0..48),
        prop::collection::vec(any::<Index>(), 0..6),
    );
    runner(128)
        .run(&input, |(frames, junk, cuts)| {
            let mut bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
            bytes.extend_from_slice(&junk);
            let mut at: Vec<usize> = if bytes.is_empty() {
                Vec::new()
            } else {
                cuts.iter().map(|i| i.index(bytes.len())).collect()
            };
            at.extend([0, bytes.len()]);
            at.sort_unstable();
            at.dedup();
            let pieces = at
                .windows(2)
                .map(|w| Bytes::copy_from_slice(&bytes[w[0]..w[1]]))
                .collect();
            let (got, end) = run(&rt, pieces);
            let (want, want_end) = model(&frames);
            let common = got.len().min(want.len());
            prop_assert_eq!(&got[..common], &want[..common], "messages");
            if want_end != End::Eof {
                prop_assert!(got.len() <= want.len(), "messages after the end: {:?}", got);
            }
            if let End::Failed(code) = &end {
                prop_assert!(
                    code.iter().all(|c| [1002, 1007, 1009].contains(c)),
                    "{:?}",
                    code
                );
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
