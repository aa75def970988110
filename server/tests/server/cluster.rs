//! Cluster mode (`--broker`) against a real nats-server: one feed, one seq space, any node.
//!
//! Nodes are real servers: in process ([`node`]) where the test only talks to them, and as the
//! real binary where a node must die by SIGKILL. Every node of a test follows the same JetStream
//! stream on that test's own broker.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use futures_util::SinkExt;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rtlab_server::RunningServer;
use rtlab_wire::{Event, FeedMode, Seq, headers};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;
use crate::nats::Nats;

/// Starts a node of the cluster on `nats`, ticking at `rate` events/s.
async fn node(nats: &Nats, name: &str, rate: f64) -> RunningServer {
    let url = nats.url();
    start(|c| {
        c.broker = Some(url);
        c.node = Some(name.to_owned());
        c.rate = rate;
    })
    .await
}

/// Every event `node` holds, from the oldest (short polls after 0, batch by batch).
async fn all_events(addr: SocketAddr) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    loop {
        let after = events.last().map_or(0, |e| e.seq);
        let (status, json) = get_json(addr, &format!("/poll/short?after={after}")).await;
        assert_eq!(status, 200, "{json}");
        let batch: Vec<Event> = serde_json::from_value(json).expect("events");
        if batch.is_empty() {
            return events;
        }
        events.extend(batch);
    }
}

/// Asserts seqs `first, first + 1, …` with no gap and no duplicate.
fn assert_consecutive(events: &[Event]) {
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].seq,
            pair[0].seq + 1,
            "gap or duplicate at {}",
            pair[0].seq
        );
    }
}

/// The `Rtlab-Epoch` header of a response, as a number.
fn epoch_of(headers: &reqwest::header::HeaderMap) -> u64 {
    headers
        .get(headers::EPOCH)
        .expect("Rtlab-Epoch header")
        .to_str()
        .unwrap()
        .parse()
        .expect("a decimal u64")
}

/// The epoch on `GET /stats`'s header, checked against the body's `epoch`.
async fn epoch(addr: SocketAddr) -> u64 {
    let resp = within("stats", reqwest::get(url(addr, "/stats")))
        .await
        .unwrap();
    let from_header = epoch_of(resp.headers());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["epoch"], from_header.to_string(), "a string in /stats");
    from_header
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_serve_one_feed_with_the_same_seqs() {
    let nats = Nats::start().await;
    let a = node(&nats, "a", 20.0).await;
    let b = node(&nats, "b", 20.0).await;
    let (a_addr, b_addr) = (a.http_addr(), b.http_addr());
    let mut published = Vec::new();
    for i in 0..10 {
        let (addr, text) = if i % 2 == 0 {
            (a_addr, format!("from a {i}"))
        } else {
            (b_addr, format!("from b {i}"))
        };
        published.push((publish(addr, &text).await, text));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let last = published.last().unwrap().0;
    eventually("both nodes hold the last publish", || {
        a.hub().head() >= last && b.hub().head() >= last
    })
    .await;
    let on_a = all_events(a_addr).await;
    let on_b = all_events(b_addr).await;
    let common = on_a.len().min(on_b.len());
    assert!(common as u64 >= last, "{common} events for {last} seqs");
    assert_eq!(
        on_a[..common],
        on_b[..common],
        "the same events, seqs and ts on both"
    );
    assert_eq!(on_a[0].seq, 1);
    assert_consecutive(&on_a);
    assert_consecutive(&on_b);
    // Each publish is at the seq its node answered, on both nodes.
    for (seq, text) in &published {
        assert_eq!(on_b[(*seq - 1) as usize].data, *text);
    }
    assert!(
        on_a.iter().any(|e| e.data.starts_with("abcdef")),
        "ticker events are in the feed too"
    );

    // `?after=N` answered by the node that did not publish N.
    let seq = publish(a_addr, "cross").await;
    let (status, json) = get_json(
        b_addr,
        &format!("/poll/long?after={}&timeout_ms=5000", seq - 1),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json[0]["seq"], seq);
    assert_eq!(json[0]["data"], "cross");

    // A WebSocket text frame sent to b reaches a WebSocket subscriber of a, through the stream.
    let mut on_a = ws_connect(a_addr, &format!("/ws?after={seq}")).await;
    let mut to_b = ws_connect(b_addr, "/ws").await;
    to_b.send(Message::text("via ws")).await.unwrap();
    let event = within("the ws event on a", async {
        loop {
            let (event, _) = ws_event(&mut on_a).await;
            if event.data == "via ws" {
                return event;
            }
        }
    })
    .await;
    assert!(event.seq > seq);
    assert_eq!(
        b.hub().events_after(event.seq - 1, 1)[0].json(),
        a.hub().events_after(event.seq - 1, 1)[0].json()
    );

    let stats = stats(b_addr).await;
    assert_eq!((stats.mode, stats.node.as_str()), (FeedMode::Cluster, "b"));
    let broker = stats.broker.expect("broker in /stats");
    assert_eq!(broker.url, nats.url());
    assert!(broker.connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tickers_make_one_feed_at_the_rate() {
    let nats = Nats::start().await;
    let rate = 20.0;
    let a = node(&nats, "a", rate).await;
    let b = node(&nats, "b", rate).await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let events = all_events(b.http_addr()).await;
    drop((a, b));
    assert_consecutive(&events);
    assert!(
        events.len() >= 20,
        "only {} events in 2 s at {rate}/s",
        events.len()
    );
    // Two tickers publish every tick; the broker keeps one: no two events share a scheduled ts,
    // and consecutive ticks are exactly one period (50 ms) apart on the Unix-epoch grid.
    let period_ns = 50_000_000;
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].ts - pair[0].ts,
            period_ns,
            "ticks {} and {}",
            pair[0].seq,
            pair[1].seq
        );
    }
    assert_eq!(events[0].ts % period_ns, 0, "on the grid k / rate");
    // And the feed's rate is the rate, not twice it.
    let span_s = (events.last().unwrap().ts - events[0].ts) as f64 / 1e9;
    let measured = (events.len() - 1) as f64 / span_s;
    assert!((measured - rate).abs() < 0.5, "{measured} events/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_resumes_on_another_node_after_a_kill_9_without_loss() {
    let nats = Nats::start().await;
    let mut a = binary_node(&nats, "a").await;
    let b = binary_node(&nats, "b").await;
    let mut sse = Raw::sse(a.http).await;
    let seen = sse_ids(&mut sse, 10).await;
    let last = *seen.last().unwrap();
    kill(
        Pid::from_raw(i32::try_from(a.child.id().unwrap()).unwrap()),
        Signal::SIGKILL,
    )
    .unwrap();
    within("a dies", a.child.wait()).await.unwrap();
    let mut resumed = Raw::send(
        b.http,
        format!("GET /sse HTTP/1.1\r\nHost: t\r\nLast-Event-ID: {last}\r\n\r\n").as_bytes(),
    )
    .await;
    let head = resumed.head().await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let after = sse_ids(&mut resumed, 10).await;
    let expected: Vec<Seq> = (last + 1..=last + 10).collect();
    assert_eq!(
        after, expected,
        "resumed right after {last}, no gap, no duplicate"
    );
}

/// A node as the real binary (so it can be killed with SIGKILL), ticking at 50 events/s.
struct BinaryNode {
    child: tokio::process::Child,
    http: SocketAddr,
}

async fn binary_node(nats: &Nats, name: &str) -> BinaryNode {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rtlab-server"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--tcp-addr",
            "127.0.0.1:0",
            "--rate",
            "50",
        ])
        .args(["--workers", "1", "--broker", &nats.url(), "--node", name])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start rtlab-server");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within("listening line", stdout.next_line())
        .await
        .unwrap()
        .unwrap();
    assert!(
        line.ends_with(&format!(" mode=cluster node={name}")),
        "{line}"
    );
    let (http, _) = parse_listening(&line);
    BinaryNode { child, http }
}

/// The next `n` SSE event ids (`id:` lines) from a stream past its head.
async fn sse_ids(sse: &mut Raw, n: usize) -> Vec<Seq> {
    let mut ids = Vec::new();
    while ids.len() < n {
        let chunk = sse.chunk().await;
        let text = String::from_utf8(chunk).unwrap();
        ids.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("id: "))
                .map(|id| id.trim().parse::<Seq>().unwrap()),
        );
    }
    ids.truncate(n);
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_epoch_changes_with_an_embedded_restart_and_not_with_a_cluster_node_restart() {
    let first = start(|_| {}).await;
    let embedded = epoch(first.http_addr()).await;
    assert_eq!(stats(first.http_addr()).await.mode, FeedMode::Embedded);
    assert!(stats(first.http_addr()).await.broker.is_none());
    first.shutdown().await.unwrap();
    let second = start(|_| {}).await;
    assert_ne!(
        epoch(second.http_addr()).await,
        embedded,
        "a restarted feed is a new feed"
    );

    let nats = Nats::start().await;
    let a = node(&nats, "a", 0.0).await;
    let cluster = epoch(a.http_addr()).await;
    publish(a.http_addr(), "before").await;
    a.shutdown().await.unwrap();
    let again = node(&nats, "a", 0.0).await;
    assert_eq!(
        epoch(again.http_addr()).await,
        cluster,
        "the stream's epoch"
    );
    assert_eq!(
        all_events(again.http_addr()).await[0].data,
        "before",
        "and its history"
    );

    // The header is on every response of the feed, in both modes.
    for server in [&second, &again] {
        let addr = server.http_addr();
        let expected = epoch(addr).await;
        for path in [
            "/sse",
            "/poll/short?after=0",
            "/poll/long?after=0&timeout_ms=10",
        ] {
            let mut raw = Raw::send(
                addr,
                format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
            )
            .await;
            let head = raw.head().await;
            assert!(
                head.contains(&format!("rtlab-epoch: {expected}\r\n")),
                "{path}: {head}"
            );
        }
        let resp = reqwest::Client::new()
            .post(url(addr, "/publish"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(epoch_of(resp.headers()), expected, "/publish");
        let (_, handshake) = within(
            "ws connect",
            tokio_tungstenite::connect_async(format!("ws://{addr}/ws")),
        )
        .await
        .unwrap();
        assert_eq!(handshake.status(), 101);
        let value = handshake.headers().get(headers::EPOCH).expect("on the 101");
        assert_eq!(value.to_str().unwrap(), expected.to_string(), "/ws");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_away_gives_503_and_the_node_recovers_when_it_is_back() {
    let mut nats = Nats::start().await;
    let a = node(&nats, "a", 0.0).await;
    let addr = a.http_addr();
    let before = publish(addr, "before").await;
    nats.kill().await;
    within("503 while the broker is away", async {
        loop {
            let resp = reqwest::get(url(addr, "/poll/short?after=0"))
                .await
                .unwrap();
            if resp.status() == 503 {
                let body: serde_json::Value = resp.json().await.unwrap();
                assert_eq!(body["error"], "broker unavailable");
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    for path in ["/sse", "/poll/long?after=0&timeout_ms=10"] {
        let (status, json) = get_json(addr, path).await;
        assert_eq!(
            (status, &json["error"]),
            (503, &serde_json::json!("broker unavailable")),
            "{path}"
        );
    }
    // A real WebSocket handshake is refused before the upgrade.
    let (head, body) = raw_request(
        addr,
        "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("http/1.1 503"), "/ws: {head}");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "broker unavailable");
    let resp = reqwest::Client::new()
        .post(url(addr, "/publish"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503, "/publish");
    let stats = stats(addr).await;
    assert!(
        !stats.broker.expect("broker").connected,
        "/stats still answers"
    );

    nats.restart().await;
    within("serving again", async {
        while reqwest::get(url(addr, "/poll/short?after=0"))
            .await
            .unwrap()
            .status()
            != 200
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let after = publish(addr, "after").await;
    assert_eq!(
        after,
        before + 1,
        "the stream survived the broker's restart"
    );
    eventually("the node follows again", || a.hub().head() == after).await;
}
