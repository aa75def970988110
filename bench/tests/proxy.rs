//! The two nginx configurations the project ships, `naive` and `lab`, in front of real
//! `rtlab-server` nodes: what each does to a WebSocket, to SSE, to an idle stream, and how `lab`
//! spreads requests over nodes.
//!
//! Each test starts its own cluster through bench's cluster module (real nginx, real nodes on
//! ephemeral loopback ports) without a broker: the proxy's behaviour does not depend on how the
//! nodes share the feed. It talks to the proxy with tokio-tungstenite and reqwest directly, so
//! what is measured is the proxy, not a client library's handling of it.
//!
//! nginx (Debian's `nginx-light`) must be installed (`bash scripts/setup-test-deps`) and the
//! server built (`cargo build -p rtlab-server`); without them these tests fail, naming what is
//! missing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rstest::rstest;
use rstest_reuse::{apply, template};
use rtlab_bench::cluster::{Cluster, ClusterOptions, Proxy};
use rtlab_bench::server_process::ServerOptions;
use tokio_tungstenite::tungstenite::{self, Message};

/// Longest any single wait may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(10);

/// Both shipped configurations.
#[template]
#[rstest]
#[case::naive(Proxy::Naive)]
#[case::lab(Proxy::Lab)]
fn proxies(#[case] proxy: Proxy) {}

/// `rtlab-server` beside `rtlab`; fails with instructions if it has not been built.
fn server_bin() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_rtlab")).with_file_name("rtlab-server");
    assert!(
        p.is_file(),
        "{} is missing: build it first with `cargo build -p rtlab-server`",
        p.display()
    );
    p
}

/// The settings of these tests' nodes: `rate` events/s, and a keep-alive interval if given.
fn options(proxy: Proxy, nodes: usize, rate: u64, keepalive: Option<Duration>) -> ClusterOptions {
    ClusterOptions {
        nodes,
        proxy: Some(proxy),
        broker: false,
        server_bin: server_bin(),
        server: ServerOptions {
            rate,
            payload_bytes: 16,
            subscriber_queue: None,
            max_connections: 100,
            keepalive_interval: keepalive,
            pin: false,
            tls: None,
        },
        extra_server_args: Vec::new(),
        proxy_listen: None,
        proxy_read_timeout: None,
    }
}

async fn start(opts: &ClusterOptions) -> Cluster {
    Cluster::start(opts)
        .await
        .unwrap_or_else(|e| panic!("the cluster did not start: {e}"))
}

/// Under `lab` the handshake goes through (101) and events arrive; under `naive` nginx forwards
/// the handshake as a plain HTTP/1.0 GET without `Upgrade`/`Connection: upgrade` (hop-by-hop
/// headers a proxy drops unless told otherwise), so the server refuses it with its 400.
#[apply(proxies)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_works_only_through_lab(proxy: Proxy) {
    let mut cluster = start(&options(proxy, 1, 20, None)).await;
    let url = format!("ws://{}/ws", cluster.front());
    let connected = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(&url))
        .await
        .expect("the handshake hung");
    match (proxy, connected) {
        (Proxy::Lab, Ok((mut ws, response))) => {
            assert_eq!(response.status(), 101);
            let first = tokio::time::timeout(STEP, ws.next())
                .await
                .expect("no event through the proxy")
                .expect("the WebSocket ended")
                .expect("a WebSocket error");
            let Message::Text(text) = first else {
                panic!("expected a text frame, got {first:?}")
            };
            let event: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(event["seq"].as_u64().is_some_and(|s| s >= 1), "{text}");
        }
        (Proxy::Naive, Err(tungstenite::Error::Http(response))) => {
            assert_eq!(response.status(), 400, "{response:?}");
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
            assert!(
                body.contains("WebSocket upgrade is expected"),
                "the server's refusal, passed on by nginx: {body}"
            );
        }
        (proxy, other) => panic!("{proxy:?}: unexpected handshake outcome {other:?}"),
    }
    cluster.stop().await;
}

/// SSE's first event comes promptly through either configuration. Under `naive` nginx buffers
/// responses, but it honours the `X-Accel-Buffering: no` the server sends on SSE, so the stream
/// is not held back; `lab` turns buffering off for every response.
#[apply(proxies)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_first_event_is_prompt_through_both(proxy: Proxy) {
    // 20 events/s: one is due every 50 ms, so a first event later than 1 s means buffering.
    let mut cluster = start(&options(proxy, 1, 20, None)).await;
    let asked = Instant::now();
    let mut response = reqwest::get(format!("{}/sse", cluster.front_url()))
        .await
        .expect("GET /sse through the proxy");
    assert_eq!(response.status(), 200);
    let mut seen = String::new();
    while !seen.contains("data: {\"seq\":") {
        let chunk = tokio::time::timeout(STEP, response.chunk())
            .await
            .expect("no SSE bytes through the proxy")
            .expect("the stream failed")
            .expect("the stream ended before its first event");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let first = asked.elapsed();
    eprintln!("{proxy:?}: first SSE event after {first:?}");
    assert!(
        first < Duration::from_secs(1),
        "{proxy:?}: first SSE event after {first:?}: held back by buffering"
    );
    cluster.stop().await;
}

/// A silent stream is cut at the proxy's read timeout unless the server's heartbeats are
/// shorter. nginx's default is 60 s (`naive`), `lab` sets 75 s; both are shortened to 1 s here
/// (the templates' `read_timeout` field) so the test takes seconds. With no ticker, an SSE
/// stream with a 10 s heartbeat is silent past 1 s and cut; with a 200 ms heartbeat it lives.
#[apply(proxies)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sse_is_cut_at_the_read_timeout_unless_heartbeats_are_shorter(proxy: Proxy) {
    let read_timeout = Duration::from_secs(1);
    for (heartbeat, cut) in [
        (Duration::from_secs(10), true),
        (Duration::from_millis(200), false),
    ] {
        let mut opts = options(proxy, 1, 0, Some(heartbeat));
        opts.proxy_read_timeout = Some(read_timeout);
        let mut cluster = start(&opts).await;
        let opened = Instant::now();
        let mut response = reqwest::get(format!("{}/sse", cluster.front_url()))
            .await
            .expect("GET /sse through the proxy");
        assert_eq!(response.status(), 200);
        // Read until the stream ends, or for 3 read timeouts.
        let watch = read_timeout * 3;
        let ended = loop {
            let left = watch.saturating_sub(opened.elapsed());
            match tokio::time::timeout(left, response.chunk()).await {
                Err(_) => break None,
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None) | Err(_)) => break Some(opened.elapsed()),
            }
        };
        match (cut, ended) {
            (true, Some(at)) => assert!(
                at >= read_timeout && at < read_timeout * 2,
                "{proxy:?}: cut after {at:?}, not at the {read_timeout:?} read timeout"
            ),
            (false, None) => {}
            (cut, ended) => panic!(
                "{proxy:?}, heartbeat {heartbeat:?}: expected cut={cut}, stream ended at {ended:?}"
            ),
        }
        cluster.stop().await;
    }
}

/// `lab` balances round-robin with no stickiness: requests from one client land on every node.
/// The nodes have no broker, so each counts only the polls it answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_spreads_requests_over_every_node() {
    const POLLS: u64 = 20;
    let mut cluster = start(&options(Proxy::Lab, 2, 10, None)).await;
    let http = reqwest::Client::new();
    for _ in 0..POLLS {
        let r = http
            .get(format!("{}/poll/short", cluster.front_url()))
            .send()
            .await
            .expect("GET /poll/short through the proxy");
        assert_eq!(r.status(), 200);
    }
    let mut answered = Vec::new();
    for node in cluster.nodes() {
        let stats: serde_json::Value = http
            .get(format!("http://{}/stats", node.http))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the node's /stats")
            .json()
            .await
            .expect("/stats is JSON");
        let polls = stats["transports"]["short-poll"]["requests"]
            .as_u64()
            .unwrap_or_else(|| panic!("no short-poll requests in {stats}"));
        answered.push(polls);
    }
    assert_eq!(answered.iter().sum::<u64>(), POLLS, "{answered:?}");
    assert!(
        answered.iter().all(|&n| n > 0),
        "every node answers some polls (no stickiness): {answered:?}"
    );
    cluster.stop().await;
}

/// A node killed with `SIGKILL` (a crash) behind `lab`: every GET still succeeds, because nginx
/// retries an idempotent request that could not connect on the next node; restarted on its
/// ports, the node is back where the proxy looks for it and answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_routes_around_a_killed_node_and_finds_it_restarted() {
    let mut cluster = start(&options(Proxy::Lab, 2, 10, None)).await;
    let before = cluster.nodes();
    let http = reqwest::Client::new();
    cluster.kill_node(0).await.unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{}", before[0].pid)).exists(),
        "the killed node is still there"
    );
    for _ in 0..10 {
        let r = http
            .get(format!("{}/poll/short", cluster.front_url()))
            .send()
            .await
            .expect("GET /poll/short through the proxy");
        assert_eq!(r.status(), 200, "a request reached the dead node");
    }
    cluster.restart_node(0).await.unwrap();
    let after = cluster.nodes();
    assert_eq!(after[0].http, before[0].http, "restarted on its own port");
    assert_ne!(after[0].pid, before[0].pid);
    let stats = http
        .get(format!("http://{}/stats", after[0].http))
        .send()
        .await
        .expect("the restarted node answers");
    assert_eq!(stats.status(), 200);
    cluster.stop().await;
}
