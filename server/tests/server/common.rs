//! Shared helpers: start the real server on port 0, talk to it over real sockets, bound every
//! wait in time; and the transport lists a behaviour test runs over.
//!
//! The lists are rstest templates (`rstest_reuse`): a test says `#[apply(streaming_transports)]`
//! and takes `transport: Transport`, and runs once per transport as its own named case
//! (`…::case_1_ws`, …).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use rstest_reuse::template;
use rtlab_server::{Config, RunningServer};
use rtlab_wire::{Event, Seq, StatsSnapshot, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The streaming transports: one long-lived connection, one message per event.
#[template]
#[rstest]
#[case::ws(Transport::Ws)]
#[case::sse(Transport::Sse)]
#[case::tcp(Transport::Tcp)]
pub fn streaming_transports(#[case] transport: Transport) {}

/// The streams that resume: `?after=N` replays the history after N, then goes live (raw TCP
/// has no request to say N in).
#[template]
#[rstest]
#[case::ws(Transport::Ws)]
#[case::sse(Transport::Sse)]
pub fn resumable_streams(#[case] transport: Transport) {}

/// Longest any single wait in a test may take before the test fails (instead of hanging).
pub const STEP: Duration = Duration::from_secs(15);

/// A WebSocket client connection.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Starts the real server on 127.0.0.1 port 0, ticker off, one HTTP worker, then `tweak`.
pub async fn start(tweak: impl FnOnce(&mut Config)) -> RunningServer {
    let mut config = Config::ephemeral();
    config.rate = 0.0;
    config.workers = 1;
    tweak(&mut config);
    rtlab_server::spawn(config).await.expect("server starts")
}

/// Awaits `fut`, failing the test if it takes longer than [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {STEP:?}: {what}"),
    }
}

/// Polls `check` every 10 ms until it holds (bounded by [`STEP`]).
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    within(what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Waits until exactly one long poll is parked on `server`, so that what is published next is
/// what wakes it.
pub async fn long_poll_parked(server: &rtlab_server::RunningServer) {
    eventually("long poll parked", || {
        server
            .hub()
            .counters()
            .transport(Transport::LongPoll)
            .open_connections
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1
    })
    .await;
}

/// GETs `path` in the background, for a request that is meant to park until something happens.
pub fn spawn_get(
    addr: SocketAddr,
    path: &str,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    tokio::spawn(reqwest::get(url(addr, path)))
}

/// A polling transport's `(requests, empty_responses, deliveries)` from `GET /stats`.
pub async fn poll_counts(addr: SocketAddr, transport: Transport) -> (u64, u64, u64) {
    let s = &stats(addr).await.transports[&transport];
    (s.requests, s.empty_responses, s.deliveries)
}

/// `http://ADDR/PATH`.
pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// The exact JSON the server holds for `seq` (it must still be in the history).
pub fn json_of(server: &RunningServer, seq: Seq) -> Bytes {
    let events = server.hub().events_after(seq - 1, 1);
    assert_eq!(
        events.first().map(|e| e.seq()),
        Some(seq),
        "seq {seq} not in history"
    );
    events[0].json().clone()
}

/// Publishes `text` with `POST /publish` and returns its seq.
pub async fn publish(addr: SocketAddr, text: &str) -> Seq {
    let resp = within(
        "publish",
        reqwest::Client::new()
            .post(url(addr, "/publish"))
            .body(text.to_owned())
            .send(),
    )
    .await
    .expect("publish request");
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.expect("publish answer is JSON");
    v["seq"].as_u64().expect("seq in publish answer")
}

/// `GET /stats`.
pub async fn stats(addr: SocketAddr) -> StatsSnapshot {
    within("stats", async {
        reqwest::get(url(addr, "/stats"))
            .await
            .expect("stats request")
            .json()
            .await
            .expect("stats JSON")
    })
    .await
}

/// GET `path` and return (status, body as JSON), asserting the contract's error shape when not 200.
pub async fn get_json(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    within("GET", async {
        let resp = reqwest::get(url(addr, path)).await.expect("request");
        let status = resp.status().as_u16();
        let body = resp.bytes().await.expect("body");
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{path}: body is not JSON ({e}): {body:?}"));
        (status, json)
    })
    .await
}

/// Asserts `{"error": "<non-empty>"}`.
pub fn assert_error_body(json: &serde_json::Value) {
    let msg = json["error"].as_str().unwrap_or("");
    assert!(!msg.is_empty(), "not an error body: {json}");
}

/// Connects a WebSocket client to `path`.
pub async fn ws_connect(addr: SocketAddr, path: &str) -> Ws {
    let (ws, resp) = within(
        "ws connect",
        tokio_tungstenite::connect_async(format!("ws://{addr}{path}")),
    )
    .await
    .expect("websocket handshake");
    assert_eq!(resp.status(), 101);
    ws
}

/// The next data message (text or binary), skipping pings and pongs (over `ws://` or `wss://`).
pub async fn ws_next<S>(ws: &mut WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    within("ws message", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(m)) => return m,
                other => panic!("websocket ended: {other:?}"),
            }
        }
    })
    .await
}

/// Reads WebSocket messages, skipping every other kind, until the close frame; returns what it
/// carried (`None` for a close without a code).
pub async fn ws_close_frame(ws: &mut Ws) -> Option<CloseFrame> {
    within("close frame", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
}

/// The next event from a WebSocket, parsed; its raw text is returned too.
pub async fn ws_event<S>(ws: &mut WebSocketStream<S>) -> (Event, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match ws_next(ws).await {
        Message::Text(t) => {
            let event = rtlab_wire::EventView::parse(t.as_bytes())
                .expect("event JSON")
                .into_owned();
            (event, t.as_str().to_owned())
        }
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// A raw HTTP/1.1 connection, for asserting exact bytes.
pub struct Raw {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
}

impl Raw {
    /// Connects and sends `request` verbatim.
    pub async fn send(addr: SocketAddr, request: &[u8]) -> Raw {
        let mut stream = within("raw connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        stream.write_all(request).await.expect("write request");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// Opens the SSE stream (`GET /sse`) and reads past its response head, so that what
    /// follows is the stream's body.
    pub async fn sse(addr: SocketAddr) -> Raw {
        let mut raw = Raw::send(addr, b"GET /sse HTTP/1.1\r\nHost: t\r\n\r\n").await;
        raw.head().await;
        raw
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await.expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// Reads the response head (up to the blank line), lower-cased for header checks.
    pub async fn head(&mut self) -> String {
        within("response head", async {
            loop {
                if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&self.buf[..end]).to_lowercase();
                    self.buf.drain(..end + 4);
                    return head;
                }
                assert!(self.fill().await, "EOF before the end of the head");
            }
        })
        .await
    }

    /// Reads exactly `n` more bytes.
    pub async fn exact(&mut self, n: usize) -> Vec<u8> {
        within("raw bytes", async {
            while self.buf.len() < n {
                assert!(
                    self.fill().await,
                    "EOF after {} of {n} bytes",
                    self.buf.len()
                );
            }
            self.buf.drain(..n).collect()
        })
        .await
    }

    /// Reads one HTTP/1.1 chunk and returns its payload (empty for the last chunk).
    pub async fn chunk(&mut self) -> Vec<u8> {
        within("chunk", async {
            loop {
                if let Some(end) = find(&self.buf, b"\r\n") {
                    let size = std::str::from_utf8(&self.buf[..end]).expect("chunk size");
                    let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
                    while self.buf.len() < end + 2 + size + 2 {
                        assert!(self.fill().await, "EOF inside a chunk");
                    }
                    let payload = self.buf[end + 2..end + 2 + size].to_vec();
                    assert_eq!(&self.buf[end + 2 + size..end + 4 + size], b"\r\n");
                    self.buf.drain(..end + 4 + size);
                    return payload;
                }
                assert!(self.fill().await, "EOF before a chunk");
            }
        })
        .await
    }

    /// Reads the body announced by `head`'s `Content-Length`; `None` when there is none (a
    /// stream, or a body that ends at EOF).
    pub async fn sized_body(&mut self, head: &str) -> Option<Vec<u8>> {
        let length = head.lines().find_map(|line| {
            line.strip_prefix("content-length:")
                .and_then(|v| v.trim().parse::<usize>().ok())
        })?;
        Some(self.exact(length).await)
    }

    /// Reads until the peer closes; returns everything after what was already consumed.
    pub async fn read_to_eof(&mut self) -> Vec<u8> {
        within("read to EOF", async { while self.fill().await {} }).await;
        std::mem::take(&mut self.buf)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends `request` raw and reads one response: (lower-cased head, body). The body is read by
/// `Content-Length` when given, else to EOF.
pub async fn raw_request(addr: SocketAddr, request: &str) -> (String, Vec<u8>) {
    let mut raw = Raw::send(addr, request.as_bytes()).await;
    let head = raw.head().await;
    let body = match raw.sized_body(&head).await {
        Some(body) => body,
        None => raw.read_to_eof().await,
    };
    (head, body)
}

/// The bound addresses from the binary's one stdout line, `listening http=ADDR tcp=ADDR`.
pub fn parse_listening(line: &str) -> (std::net::SocketAddr, std::net::SocketAddr) {
    let rest = line.strip_prefix("listening ").expect("listening line");
    let mut http = None;
    let mut tcp = None;
    for part in rest.split(' ') {
        if let Some(a) = part.strip_prefix("http=") {
            http = Some(a.parse().unwrap());
        } else if let Some(a) = part.strip_prefix("tcp=") {
            tcp = Some(a.parse().unwrap());
        }
    }
    (http.expect("http="), tcp.expect("tcp="))
}
