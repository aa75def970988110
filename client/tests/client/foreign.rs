//! Measuring a server that is not ours: all the client needs is the event JSON on a stream.
//!
//! [`ForeignFeed`] is about the smallest server someone could write to be measured by
//! `rtlab-client`. It publishes the contract's event JSON, `{"seq":N,"ts":NANOS,"data":"..."}`,
//! at a fixed rate from seq 1, over *one* transport: a WebSocket text frame per event on `/ws`,
//! an SSE `data:` block per event on `/sse` (no `id:` field, no heartbeats), or a line per event
//! on a raw TCP port. It has nothing else: no `/stats`, no `/publish`, no history; any other path
//! is a 404. The real binary must measure it in the fallback mode (the seq range seen, see
//! `rtlab_client::window_seq`) and say so; and a server whose stream carries something other
//! than the event JSON must get one line of error and exit 1, at once, not after the window.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rstest::rstest;
use rstest_reuse::apply;
use rtlab_client::RunReport;
use rtlab_client::report::WindowMode;
use rtlab_wire::{Event, Transport, now_unix_nanos};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::common::{assert_one_line_error, client, streaming_transports};
use crate::schema::check_json;

/// Messages per second the foreign feed publishes.
const RATE: u64 = 200;
/// Messages a connection may fall behind before it is dropped (the feed keeps no history).
const QUEUE: usize = 1024;
/// Longest request head the fixture reads.
const MAX_HEAD: usize = 8 * 1024;

/// What the foreign feed publishes.
#[derive(Debug, Clone, Copy)]
enum Feed {
    /// The contract's event JSON, seq 1, 2, 3, … with `ts` the wall clock in ns.
    Events,
    /// The same text over and over: not an event.
    Other(&'static str),
}

impl Feed {
    fn message(self, seq: u64) -> String {
        match self {
            Feed::Events => {
                let json = Event {
                    seq,
                    ts: now_unix_nanos(),
                    data: "foreign".into(),
                }
                .to_json();
                String::from_utf8_lossy(&json).into_owned()
            }
            Feed::Other(text) => text.to_owned(),
        }
    }
}

/// A feed server that is not rtlab's, on 127.0.0.1 and a free port.
struct ForeignFeed {
    /// What to pass as `--url`.
    url: String,
    /// Requests answered 404 (the client asking for `/stats`).
    not_found: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ForeignFeed {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl ForeignFeed {
    /// Starts publishing `feed` over `transport` (ws, sse or tcp).
    async fn start(transport: Transport, feed: Feed) -> ForeignFeed {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (tx, _) = broadcast::channel::<Arc<str>>(QUEUE);
        let ticker = {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
                for seq in 1.. {
                    ticks.tick().await;
                    // No subscriber yet is fine: the event is simply gone (no history).
                    let _ = tx.send(feed.message(seq).into());
                }
            })
        };
        let not_found = Arc::new(AtomicUsize::new(0));
        let acceptor = {
            let not_found = not_found.clone();
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    let rx = tx.subscribe();
                    let not_found = not_found.clone();
                    tokio::spawn(async move {
                        // A connection that fails just ends, as it would on a real server.
                        let _ = serve(sock, transport, rx, &not_found).await;
                    });
                }
            })
        };
        let url = match transport {
            Transport::Tcp => format!("tcp://{addr}"),
            _ => format!("http://{addr}"),
        };
        ForeignFeed {
            url,
            not_found,
            tasks: vec![ticker, acceptor],
        }
    }
}

/// One connection: the feed on the transport's one path, a 404 for anything else.
async fn serve(
    mut sock: TcpStream,
    transport: Transport,
    mut rx: broadcast::Receiver<Arc<str>>,
    not_found: &AtomicUsize,
) -> std::io::Result<()> {
    if transport == Transport::Tcp {
        // No handshake, no headers: a line per event from the moment of connecting.
        while let Ok(msg) = rx.recv().await {
            sock.write_all(format!("{msg}\n").as_bytes()).await?;
        }
        return Ok(());
    }
    let head = read_head(&mut sock).await?;
    let target = head.split_whitespace().nth(1).unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default();
    let key = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    });
    match (transport, path, key) {
        (Transport::Ws, "/ws", Some(key)) => {
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(key.as_bytes())
            );
            sock.write_all(response.as_bytes()).await?;
            let mut ws = WebSocketStream::from_raw_socket(sock, Role::Server, None).await;
            loop {
                tokio::select! {
                    msg = rx.recv() => {
                        let Ok(msg) = msg else { break };
                        if ws.send(Message::text(&*msg)).await.is_err() {
                            break;
                        }
                    }
                    // Read what the client sends, so its close handshake completes.
                    incoming = ws.next() => {
                        if !matches!(incoming, Some(Ok(_))) {
                            break;
                        }
                    }
                }
            }
        }
        (Transport::Sse, "/sse", _) => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
                  transfer-encoding: chunked\r\n\r\n",
            )
            .await?;
            while let Ok(msg) = rx.recv().await {
                let block = format!("data: {msg}\n\n");
                let chunk = format!("{:x}\r\n{block}\r\n", block.len());
                sock.write_all(chunk.as_bytes()).await?;
            }
        }
        _ => {
            not_found.fetch_add(1, Ordering::Relaxed);
            let body = r#"{"error":"not found"}"#;
            let answer = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(answer.as_bytes()).await?;
        }
    }
    Ok(())
}

/// Reads one request head, up to and including its blank line.
async fn read_head(sock: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        sock.read_exact(&mut byte).await?;
        head.push(byte[0]);
        if head.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too long"));
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

#[apply(streaming_transports)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_servers_feed_is_measured_by_the_seq_range_seen(transport: Transport) {
    let feed = ForeignFeed::start(transport, Feed::Events).await;
    let dir = std::env::temp_dir().join(format!(
        "rtlab-client-foreign-{}-{transport}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json = dir.join("report.json");
    let out = client(&[
        "--transport",
        transport.as_str(),
        "--url",
        &feed.url,
        "--clients",
        "3",
        "--duration",
        "1s",
        "--warmup",
        "300ms",
        "--json",
        json.to_str().expect("a UTF-8 temp path"),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    // The table says which mode it ran in, and why.
    let why = if transport == Transport::Tcp {
        "no /stats: tcp without --control-url".to_owned()
    } else {
        format!("no /stats: GET {}/stats answered HTTP 404", feed.url)
    };
    assert!(
        stdout.contains(&format!("\n  window       seq range seen ({why})\n")),
        "{stdout}"
    );
    assert!(!stdout.contains("LOSS"), "{stdout}");
    if transport != Transport::Tcp {
        // It asked for /stats at the window's start and end, and got the 404s.
        assert_eq!(feed.not_found.load(Ordering::Relaxed), 2, "{stdout}");
    }

    // The JSON says the same, and still matches the checked-in schema.
    let text = std::fs::read_to_string(&json).expect("the JSON report");
    std::fs::remove_dir_all(&dir).ok();
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    check_json(&value).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(value["window_mode"], "seq-range", "{text}");
    let report: RunReport = serde_json::from_value(value).expect("a RunReport");
    assert_eq!(report.window_mode, Some(WindowMode::SeqRange));
    assert_eq!(report.window_fallback_reason.as_deref(), Some(why.as_str()));

    // Measured: events, no loss, every subscriber to the end, sane latencies.
    let summary = rtlab_client::printer::human(&report);
    assert!(report.events_received > 0, "{summary}");
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (0, 0, 0),
        "{summary}"
    );
    assert_eq!((report.connected, report.completed), (3, 3), "{summary}");
    assert!(report.errors.is_empty(), "{summary}");
    assert!(report.server_events_published > 0, "{summary}");
    assert!(report.delivery_ratio > 0.9, "{summary}");
    assert!(report.latency_us.count > 0, "{summary}");
    assert!(report.latency_us.p50 < 1_000_000.0, "{summary}");
    // What needs /stats is absent, not invented.
    assert_eq!(
        (report.window_seq_start, report.window_seq_end),
        (None, None)
    );
    assert_eq!(report.undelivered, None);
    assert_eq!(report.server_lagging_disconnects, None);
}

#[rstest]
#[case::not_json(Transport::Ws, "hello, I am not an rtlab server", "expected value")]
#[case::other_json(Transport::Ws, r#"{"type":"tick","n":1}"#, "missing field `seq`")]
#[case::ts_in_milliseconds(
    Transport::Ws,
    r#"{"seq":1,"ts":1763769600123,"data":"x"}"#,
    "is not nanoseconds since the Unix epoch"
)]
#[case::sse_not_json(Transport::Sse, "hello, I am not an rtlab server", "expected value")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_something_else_is_one_line_and_exit_1(
    #[case] transport: Transport,
    #[case] message: &'static str,
    #[case] needle: &str,
) {
    let feed = ForeignFeed::start(transport, Feed::Other(message)).await;
    // A 30 s window: the client must give up at the first bad message, long before the window
    // would end (`client` allows 20 s).
    let out = client(&[
        "-t",
        transport.as_str(),
        "--url",
        &feed.url,
        "-c",
        "2",
        "-d",
        "30s",
        "--warmup",
        "0s",
        "-q",
    ])
    .await;
    assert_one_line_error(&out, 1, "does not speak the rtlab contract");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not the event JSON"), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    // It quotes what it got.
    let quoted = format!("{message:?}");
    assert!(stderr.contains(&quoted), "{quoted} not in {stderr}");
}
