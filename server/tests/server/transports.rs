//! Every transport delivers consecutive seqs in the contract's exact framing.
//!
//! The streams share one behaviour, so one test of it runs over each ([`Subscriber`] reads
//! one event's message whatever the transport, [`message`] is what that message must be); what
//! only one transport does (SSE's response head, raw TCP's unsubscribe on hang-up) is asserted
//! in that transport's arm. The polls answer differently (parked or at once), so each has its own.

use std::time::Duration;

use futures_util::SinkExt;
use rstest::rstest;
use rstest_reuse::apply;
use rtlab_server::RunningServer;
use rtlab_wire::{Seq, Transport};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

/// One subscriber of a streaming transport, read one event's message at a time.
enum Subscriber {
    /// A WebSocket: one text frame per event (boxed: a client socket is large).
    Ws(Box<Ws>),
    /// An SSE response: one HTTP chunk per event; `head` is the response head, lower-cased.
    Sse { raw: Raw, head: String },
    /// The raw-TCP baseline: one line per event.
    Tcp(BufReader<TcpStream>),
}

impl Subscriber {
    /// Subscribes to `server`'s feed over `transport` (`query`, e.g. `?after=1`, on the HTTP
    /// ones) and returns once the hub counts it, so that what is published next reaches it.
    async fn open(server: &RunningServer, transport: Transport, query: &str) -> Subscriber {
        let before = server.hub().subscriber_count();
        let addr = server.http_addr();
        let subscriber = match transport {
            Transport::Ws => {
                Subscriber::Ws(Box::new(ws_connect(addr, &format!("/ws{query}")).await))
            }
            Transport::Sse => {
                let request = format!("GET /sse{query} HTTP/1.1\r\nHost: t\r\n\r\n");
                let mut raw = Raw::send(addr, request.as_bytes()).await;
                let head = raw.head().await;
                Subscriber::Sse { raw, head }
            }
            Transport::Tcp => {
                assert!(query.is_empty(), "the raw-TCP baseline takes no query");
                let stream = within("tcp connect", TcpStream::connect(server.tcp_addr()))
                    .await
                    .unwrap();
                Subscriber::Tcp(BufReader::new(stream))
            }
            polls => panic!("{polls:?} is not a stream"),
        };
        eventually("subscribed", || {
            server.hub().subscriber_count() == before + 1
        })
        .await;
        subscriber
    }

    /// The next event's message: a text frame's payload, an HTTP chunk's payload, a line with
    /// its newline.
    async fn next(&mut self) -> String {
        let bytes = match self {
            Subscriber::Ws(ws) => ws_event(ws).await.1.into_bytes(),
            Subscriber::Sse { raw, .. } => raw.chunk().await,
            Subscriber::Tcp(lines) => {
                let mut line = Vec::new();
                within("tcp line", lines.read_until(b'\n', &mut line))
                    .await
                    .unwrap();
                line
            }
        };
        String::from_utf8(bytes).unwrap()
    }
}

/// What [`Subscriber::next`] must return for event `seq`, whose JSON the server holds as `json`.
fn message(transport: Transport, seq: Seq, json: &[u8]) -> String {
    let json = String::from_utf8_lossy(json);
    match transport {
        Transport::Ws => json.into_owned(),
        Transport::Sse => format!("id: {seq}\ndata: {json}\n\n"),
        Transport::Tcp => format!("{json}\n"),
        polls => panic!("{polls:?} is not a stream"),
    }
}

/// What the server counts in `bytes_sent` for `message` (see `server/src/counters.rs`): a
/// WebSocket frame adds its header, 2 bytes below 126 bytes of payload; SSE is counted without
/// the chunk framing and TCP is the line itself.
fn bytes_sent(transport: Transport, message: &str) -> u64 {
    let header = if transport == Transport::Ws { 2 } else { 0 };
    (message.len() + header) as u64
}

#[apply(streaming_transports)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_is_one_message_in_exact_framing_with_consecutive_seqs(transport: Transport) {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let mut subscriber = Subscriber::open(&server, transport, "").await;
    if let Subscriber::Sse { head, .. } = &subscriber {
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        assert!(
            !head.contains("content-encoding"),
            "SSE must not be compressed: {head}"
        );
    }
    for i in 1..=3 {
        assert_eq!(publish(addr, &format!("e{i}")).await, i);
    }
    let mut sent = 0;
    for seq in 1..=3 {
        let json = json_of(&server, seq);
        let text = String::from_utf8_lossy(&json);
        assert!(
            text.starts_with(&format!("{{\"seq\":{seq},\"ts\":")),
            "{text}"
        );
        assert!(text.ends_with(&format!(",\"data\":\"e{seq}\"}}")), "{text}");
        let expected = message(transport, seq, &json);
        assert_eq!(subscriber.next().await, expected, "{transport}: seq {seq}");
        sent += bytes_sent(transport, &expected);
    }
    let s = stats(addr).await.transports[&transport].clone();
    assert_eq!(
        (s.open_connections, s.connections_total, s.deliveries),
        (1, 1, 3),
        "{transport}"
    );
    assert_eq!(s.bytes_sent, sent, "{transport}");
    match subscriber {
        Subscriber::Sse { mut raw, .. } => {
            // The exact wire bytes of one more event, chunk framing included.
            let seq = publish(addr, "x").await;
            let block = message(transport, seq, &json_of(&server, seq));
            let wire = format!("{:X}\r\n{block}\r\n", block.len());
            assert_eq!(
                String::from_utf8(raw.exact(wire.len()).await).unwrap(),
                wire
            );
        }
        Subscriber::Tcp(lines) => {
            // Hanging up unsubscribes: the server notices a closed socket without a write.
            drop(lines);
            eventually("tcp unsubscribed", || server.hub().subscriber_count() == 0).await;
        }
        Subscriber::Ws(_) => {}
    }
    server.shutdown().await.unwrap();
}

#[apply(resumable_streams)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_replays_history_then_goes_live_without_gap_or_duplicate(transport: Transport) {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    for i in 1..=3 {
        publish(addr, &format!("old{i}")).await;
    }
    let mut subscriber = Subscriber::open(&server, transport, "?after=1").await;
    publish(addr, "new").await;
    // Seqs 2 and 3 from the history, 4 live: each once, in order, exactly as framed.
    for seq in [2, 3, 4] {
        let expected = message(transport, seq, &json_of(&server, seq));
        assert_eq!(subscriber.next().await, expected, "{transport}: seq {seq}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_sends_comment_heartbeats_when_idle() {
    let server = start(|c| c.heartbeat_interval = Duration::from_millis(100)).await;
    let mut raw = Raw::sse(server.http_addr()).await;
    assert_eq!(raw.chunk().await, b":\n\n");
    assert_eq!(raw.chunk().await, b":\n\n");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_answers_a_json_array_of_consecutive_events() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let parked = spawn_get(addr, "/poll/long?after=0&timeout_ms=10000");
    long_poll_parked(&server).await;
    publish(addr, "a").await;
    let resp = within("long poll answer", parked).await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body = resp.bytes().await.unwrap();
    assert_eq!(
        body,
        format!("[{}]", String::from_utf8_lossy(&json_of(&server, 1)))
    );

    publish(addr, "b").await;
    publish(addr, "c").await;
    let body = reqwest::get(url(addr, "/poll/long?after=1"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let expected = format!(
        "[{},{}]",
        String::from_utf8_lossy(&json_of(&server, 2)),
        String::from_utf8_lossy(&json_of(&server, 3))
    );
    assert_eq!(body, expected);

    // Nothing new within the timeout: 200 [].
    let resp = reqwest::get(url(addr, "/poll/long?after=3&timeout_ms=50"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), "[]");
    assert_eq!(poll_counts(addr, Transport::LongPoll).await, (3, 1, 3));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_without_after_waits_for_the_next_event() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    publish(addr, "old").await;
    let parked = spawn_get(addr, "/poll/long?timeout_ms=10000");
    long_poll_parked(&server).await;
    publish(addr, "new").await;
    let body = within("answer", parked)
        .await
        .unwrap()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let events = rtlab_wire::EventView::parse_array(&body).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].seq, &*events[0].data), (2, "new"));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_answers_before_the_next_ticker_event() {
    // Ticker every 250 ms: a poll parked right after a tick must be answered for a publish long
    // before the next tick, i.e. within a few ms rather than on some polling period.
    let server = start(|c| c.rate = 4.0).await;
    let addr = server.http_addr();
    let client = reqwest::Client::new();
    // Align on a tick: wait for the next ticker event.
    let body = client
        .get(url(addr, "/poll/long"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let tick = rtlab_wire::EventView::parse_array(&body)
        .unwrap()
        .last()
        .unwrap()
        .seq;
    let parked = tokio::spawn(
        client
            .get(url(addr, &format!("/poll/long?after={tick}")))
            .send(),
    );
    long_poll_parked(&server).await;
    let seq = publish(addr, "fast").await;
    let body = within("answer", parked)
        .await
        .unwrap()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let head_when_answered = server.hub().head();
    let events = rtlab_wire::EventView::parse_array(&body).unwrap();
    assert_eq!(events.len(), 1, "{body:?}");
    assert_eq!((events[0].seq, &*events[0].data), (seq, "fast"));
    assert_eq!(
        head_when_answered, seq,
        "the next ticker event came before the answer"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_poll_answers_at_once_from_history() {
    let server = start(|c| c.batch_max = 2).await;
    let addr = server.http_addr();
    let get = |path: &'static str| async move {
        let resp = reqwest::get(url(addr, path)).await.unwrap();
        assert_eq!(resp.status(), 200);
        String::from_utf8(resp.bytes().await.unwrap().to_vec()).unwrap()
    };
    assert_eq!(get("/poll/short").await, "[]");
    assert_eq!(get("/poll/short?after=0").await, "[]");
    for i in 1..=3 {
        publish(addr, &format!("p{i}")).await;
    }
    let j = |s| String::from_utf8(json_of(&server, s).to_vec()).unwrap();
    // At most --batch-max, oldest first.
    assert_eq!(
        get("/poll/short?after=0").await,
        format!("[{},{}]", j(1), j(2))
    );
    assert_eq!(get("/poll/short?after=2").await, format!("[{}]", j(3)));
    assert_eq!(get("/poll/short?after=3").await, "[]");
    assert_eq!(get("/poll/short").await, format!("[{}]", j(3)));
    assert_eq!(poll_counts(addr, Transport::ShortPoll).await, (6, 3, 4));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_anywhere_reaches_every_transport() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let mut ws = ws_connect(addr, "/ws").await;
    let mut publisher = ws_connect(addr, "/ws").await;
    let mut sse = Raw::sse(addr).await;
    let tcp = TcpStream::connect(server.tcp_addr()).await.unwrap();
    eventually("4 subscribers", || server.hub().subscriber_count() == 4).await;

    publish(addr, "via-post").await;
    publisher
        .send(Message::Text("via-ws".into()))
        .await
        .unwrap();

    let expected = [(1, "via-post"), (2, "via-ws")];
    for (seq, data) in expected {
        let (event, _) = ws_event(&mut ws).await;
        assert_eq!((event.seq, event.data.as_str()), (seq, data), "ws");
        let (event, _) = ws_event(&mut publisher).await;
        assert_eq!(
            (event.seq, event.data.as_str()),
            (seq, data),
            "ws publisher"
        );
        let block = sse.chunk().await;
        let expected_block = format!(
            "id: {seq}\ndata: {}\n\n",
            String::from_utf8_lossy(&json_of(&server, seq))
        );
        assert_eq!(String::from_utf8(block).unwrap(), expected_block, "sse");
    }
    let mut lines = BufReader::new(tcp).lines();
    for (seq, data) in expected {
        let line = within("tcp", lines.next_line()).await.unwrap().unwrap();
        let event = rtlab_wire::EventView::parse(line.as_bytes()).unwrap();
        assert_eq!((event.seq, &*event.data), (seq, data), "tcp");
    }
    for path in ["/poll/long?after=0", "/poll/short?after=0"] {
        let body = reqwest::get(url(addr, path))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let events = rtlab_wire::EventView::parse_array(&body).unwrap();
        let got: Vec<_> = events.iter().map(|e| (e.seq, &*e.data)).collect();
        assert_eq!(got, expected, "{path}");
    }
    let snap = stats(addr).await;
    assert_eq!(snap.events_published_by_clients, 2);
    assert_eq!(snap.head_seq, 2);
    server.shutdown().await.unwrap();
}

/// `/stats` carries the allocator's account of the heap (glibc): live bytes, and at least as
/// many held, so that the lab can tell a leak from memory the allocator keeps.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn stats_report_the_heap_live_and_held() {
    let server = start(|_| {}).await;
    let heap = stats(server.http_addr()).await.heap.expect("heap figures");
    assert!(heap.allocated_bytes > 0, "{heap:?}");
    assert!(heap.held_bytes >= heap.allocated_bytes, "{heap:?}");
    server.shutdown().await.unwrap();
}

/// Every `--heap-release-interval` the server hands its allocator's free pages back to the OS,
/// and `/stats` counts the releases (the lab's churn waits for one before each reading).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn the_server_releases_free_heap_memory_on_its_interval() {
    let server = start(|c| c.heap_release_interval = Duration::from_millis(100)).await;
    let first = stats(server.http_addr()).await.heap.expect("heap figures");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let heap = stats(server.http_addr()).await.heap.expect("heap figures");
        // Other tests' servers in this process release too (the heap is the process's), so the
        // count is read against its own start, and two more prove the timer, not one stray.
        if heap.releases >= first.releases + 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no releases in 10 s at a 100 ms interval: {first:?} → {heap:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await.unwrap();
}
