//! The live page in a real browser, end to end, and the same feed attacked from another origin.
//!
//! Each test starts the real server in-process on port 0 with a ticker, then runs a script in
//! `server/tests/browser/` with node, which drives Debian's Chromium through playwright-core (CDP,
//! no browser download) and reports one JSON line. The assertions are made here, on that report:
//!
//! - `live_page.mjs <url> <screenshot>`: all four panels (WebSocket, SSE, long poll, short poll)
//!   receive events in order with none missed, a message published from the page's box shows up
//!   in all four, and pausing then resuming SSE loses nothing. The screenshot lands in
//!   `target/test-artifacts/live-page.png`. The same again over `https://` (a certificate made
//!   here, which Chromium is told to accept; `live-page-https.png`).
//! - `cross_origin.mjs <page url> <server url>…`: a page served by this test from another port
//!   (another origin) tries cross-site WebSocket hijacking and a cross-site publish. Against the
//!   server as it ships, the WebSocket never opens, nothing of the feed is readable and the
//!   publish never lands; against a second server that allows the page's origin
//!   (`--allow-origin`, as a server that checks nothing would), all of it works, which proves the
//!   attacks are real and the refusal is the origin policy's doing.
//! - `seven_event_sources.mjs <server url>…`: seven `EventSource`s to one origin. Against a plain
//!   `http://` server (HTTP/1.1) the seventh never opens: Chromium holds at most six connections
//!   per host and each SSE stream keeps one for as long as it lives. Against the TLS server
//!   (`--tls-cert`, HTTP/2 by ALPN, a certificate made here that Chromium is told to accept) all
//!   seven flow as streams of one connection. The HTTP/1.1 side is plain `http://` rather than
//!   `https://` restricted to HTTP/1.1 (the server has no flag to withhold `h2`): the limit is
//!   the same for both schemes, and what differs between the two servers is the protocol, which
//!   the report states as the browser saw it (`nextHopProtocol`).
//!
//! Needs `/usr/bin/chromium` and `server/tests/browser/node_modules`; `scripts/setup-test-deps`
//! installs both. When they are missing the test fails with one line saying so: a silently skipped
//! browser test would let a broken page land.

mod chromium;

use std::path::{Path, PathBuf};

use rtlab_server::origin_policy::parse_allow_origin;
use rtlab_server::{Config, RunningServer};
use rtlab_wire::Transport;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use chromium::{check, require_setup, run_node};

/// Ticker rate for the test: fast enough that a pause misses several events within a second.
const RATE: f64 = 20.0;
/// The four panels of the page, by their `data-transport`.
const PANELS: [&str; 4] = ["ws", "sse", "long-poll", "short-poll"];

fn artifact_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("test-artifacts").join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_page_shows_all_four_transports_in_a_real_browser() {
    live_page(None, "live-page.png").await;
}

/// The same page over `https://` (HTTP/2 for SSE and the polls, `wss://` for the WebSocket): it
/// builds its URLs from its own location, and the server's own origin is then the `https` one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_page_works_over_https_in_a_real_browser() {
    let (dir, cert, key) = self_signed_pair();
    live_page(Some((cert, key)), "live-page-https.png").await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `live_page.mjs` against a fresh server (with TLS when given a certificate pair) and makes
/// every assertion on its report; the screenshot is saved as `shot_name`.
async fn live_page(tls: Option<(PathBuf, PathBuf)>, shot_name: &str) {
    require_setup();
    let tls_on = tls.is_some();
    let (tls_cert, tls_key) = tls.unzip();
    let config = Config {
        rate: RATE,
        payload_bytes: 32,
        workers: 1,
        tls_cert,
        tls_key,
        ..Config::ephemeral()
    };
    let server = rtlab_server::spawn(config).await.expect("server starts");
    let scheme = if tls_on { "https" } else { "http" };
    let url = format!("{scheme}://{}/", server.http_addr());
    let shot = artifact_path(shot_name);
    std::fs::create_dir_all(shot.parent().expect("artifact dir")).expect("artifact dir");
    let _ = std::fs::remove_file(&shot);

    let (report, stderr, status) =
        run_node("live_page.mjs", [url.into(), shot.clone().into()]).await;
    server.shutdown().await.expect("server shuts down");
    let context = format!("\n--- report\n{report:#}\n--- node stderr\n{stderr}");

    assert_eq!(
        check(&report, "/errors"),
        &Value::Array(vec![]),
        "the page logged errors{context}"
    );
    for panel in PANELS {
        let p = |field: &str| check(&report, &format!("/panels/{panel}/{field}")).clone();
        assert_eq!(p("state"), "open", "{panel} is not live{context}");
        assert!(
            p("received").as_u64().unwrap_or(0) >= 5,
            "{panel} received too few events{context}"
        );
        assert_eq!(p("missed"), 0, "{panel} missed events{context}");
        assert_eq!(
            p("dups"),
            0,
            "{panel} saw duplicates or reordering{context}"
        );
    }
    assert_eq!(
        check(&report, "/checks/published_in_all"),
        true,
        "the published message did not show up in all four panels{context}"
    );
    assert_eq!(
        check(&report, "/checks/sse_stood_still_while_paused"),
        true,
        "SSE kept receiving while paused{context}"
    );
    assert!(
        check(&report, "/checks/sse_events_while_paused")
            .as_u64()
            .unwrap_or(0)
            >= 5,
        "the feed did not move on while SSE was paused{context}"
    );
    assert_eq!(
        check(&report, "/checks/sse_resumed_without_loss"),
        true,
        "SSE lost or repeated events across pause/resume{context}"
    );
    assert_eq!(check(&report, "/ok"), true, "{context}");
    assert!(status.success(), "node exited with {status:?}{context}");

    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG"),
        "screenshot at {} is not a PNG",
        shot.display()
    );
    eprintln!("screenshot: {}", shot.display());
}

/// The attacker's page: blank; the attacks are run inside it by `cross_origin.mjs`.
const OTHER_ORIGIN_PAGE: &str = "<!doctype html><meta charset=utf-8><link rel=icon href='data:,'>\
<title>another site</title><p>Any web page the user happens to visit.";

/// Serves [`OTHER_ORIGIN_PAGE`] to every request on a free port of its own, so the page is
/// another origin than any rtlab server. Returns the page's URL and the serving task.
async fn other_origin_page() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the page server");
    let addr = listener.local_addr().expect("its address");
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 2048];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{OTHER_ORIGIN_PAGE}",
                    OTHER_ORIGIN_PAGE.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}/"), task)
}

/// A server with a ticker, `tweak`ed.
async fn feed_server(tweak: impl FnOnce(&mut Config)) -> RunningServer {
    let mut config = Config {
        rate: RATE,
        workers: 1,
        ..Config::ephemeral()
    };
    tweak(&mut config);
    rtlab_server::spawn(config).await.expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_from_another_origin_can_neither_read_nor_publish_in_a_real_browser() {
    require_setup();
    let (page_url, page_server) = other_origin_page().await;
    let page_origin = page_url.trim_end_matches('/').to_owned();
    // As shipped: only the server's own origin (and clients without one) get in.
    let guarded = feed_server(|_| {}).await;
    // The control: the page's origin allowed, as on a server that checks nothing.
    let open = feed_server(|c| {
        c.allow_origins = vec![parse_allow_origin(&page_origin).expect("the page's origin")];
    })
    .await;
    let base = |s: &RunningServer| format!("http://{}", s.http_addr());
    let (guarded_url, open_url) = (base(&guarded), base(&open));

    let (report, stderr, status) = run_node(
        "cross_origin.mjs",
        [
            page_url.into(),
            guarded_url.clone().into(),
            open_url.clone().into(),
        ],
    )
    .await;
    page_server.abort();
    let counters = |s: &RunningServer| s.hub().counters().snapshot(s.hub().head());
    let (guarded_stats, open_stats) = (counters(&guarded), counters(&open));
    guarded.shutdown().await.expect("server shuts down");
    open.shutdown().await.expect("server shuts down");
    let context = format!("\n--- report\n{report:#}\n--- node stderr\n{stderr}");
    assert_eq!(check(&report, "/ok"), true, "{context}");
    assert!(status.success(), "node exited with {status:?}{context}");
    assert_eq!(
        check(&report, "/pageOrigin"),
        &Value::from(page_origin.clone())
    );
    let at =
        |server: &str, field: &str| check(&report, &format!("/targets/{server}/{field}")).clone();

    // The server as shipped: nothing opens, nothing is readable, nothing lands.
    let g = guarded_url.replace('/', "~1");
    assert_eq!(at(&g, "ws/opened"), false, "the WebSocket opened{context}");
    assert_eq!(
        at(&g, "ws/messages"),
        0,
        "the feed reached the page{context}"
    );
    assert_eq!(
        at(&g, "sse/opened"),
        false,
        "the EventSource opened{context}"
    );
    assert_eq!(
        at(&g, "poll/readable"),
        false,
        "the poll was readable{context}"
    );
    assert_eq!(
        guarded_stats.events_published_by_clients, 0,
        "the cross-site publish landed{context}"
    );
    for t in [Transport::Ws, Transport::Sse, Transport::ShortPoll] {
        assert_eq!(
            guarded_stats.transports[&t].connections_total, 0,
            "{t:?} served the page{context}"
        );
    }

    // The control: the very same attacks succeed where the origin is allowed.
    let o = open_url.replace('/', "~1");
    assert_eq!(at(&o, "ws/opened"), true, "control: no WebSocket{context}");
    assert!(
        at(&o, "ws/messages").as_u64().unwrap_or(0) >= 1,
        "control: no feed over WebSocket{context}"
    );
    assert_eq!(
        at(&o, "sse/opened"),
        true,
        "control: no EventSource{context}"
    );
    assert_eq!(
        at(&o, "poll/readable"),
        true,
        "control: poll unreadable{context}"
    );
    // The no-cors POST and the text the page sent over its WebSocket.
    assert_eq!(
        open_stats.events_published_by_clients, 2,
        "control: the page's publishes did not land{context}"
    );
}

/// A self-signed certificate pair for 127.0.0.1 and localhost, written to a fresh directory
/// (the server reads files); returns the directory and the two paths.
fn self_signed_pair() -> (PathBuf, PathBuf, PathBuf) {
    // Unique per call: under `cargo test` the tests share one process and run in parallel.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rtlab-browser-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let pair = rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, pair.cert.pem()).expect("write cert");
    std::fs::write(&key, pair.signing_key.serialize_pem()).expect("write key");
    (dir, cert, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seven_event_sources_open_over_http2_but_not_over_http1_in_a_real_browser() {
    require_setup();
    let (dir, cert, key) = self_signed_pair();
    let http1 = feed_server(|_| {}).await;
    let http2 = feed_server(|c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
    })
    .await;
    let h1_url = format!("http://{}", http1.http_addr());
    let h2_url = format!("https://{}", http2.http_addr());

    let (report, stderr, status) = run_node(
        "seven_event_sources.mjs",
        [h1_url.clone().into(), h2_url.clone().into()],
    )
    .await;
    let sse_streams = |s: &RunningServer| {
        s.hub().counters().snapshot(s.hub().head()).transports[&Transport::Sse].connections_total
    };
    let (h1_streams, h2_streams) = (sse_streams(&http1), sse_streams(&http2));
    http1.shutdown().await.expect("server shuts down");
    http2.shutdown().await.expect("server shuts down");
    let _ = std::fs::remove_dir_all(&dir);
    let context = format!("\n--- report\n{report:#}\n--- node stderr\n{stderr}");
    assert_eq!(check(&report, "/ok"), true, "{context}");
    assert!(status.success(), "node exited with {status:?}{context}");
    let target =
        |url: &str| check(&report, &format!("/targets/{}", url.replace('/', "~1"))).clone();
    let sources = |t: &Value| -> Vec<(bool, u64)> {
        t["sources"]
            .as_array()
            .unwrap_or_else(|| panic!("no sources in {t}"))
            .iter()
            .map(|s| (s["opened"] == true, s["messages"].as_u64().unwrap_or(0)))
            .collect()
    };

    // HTTP/1.1: six streams flow, the seventh waits for a connection that never frees up.
    let h1 = target(&h1_url);
    assert_eq!(h1["protocol"], "http/1.1", "{context}");
    let h1_sources = sources(&h1);
    assert_eq!(h1_sources.len(), 7, "{context}");
    for (i, (opened, messages)) in h1_sources[..6].iter().enumerate() {
        assert!(
            *opened && *messages > 0,
            "h1 stream {i} did not flow{context}"
        );
    }
    assert_eq!(
        h1_sources[6],
        (false, 0),
        "the seventh HTTP/1.1 EventSource opened{context}"
    );
    assert_eq!(
        h1_streams, 6,
        "the plain server saw {h1_streams} SSE requests{context}"
    );

    // HTTP/2: all seven are streams of one connection, and all flow.
    let h2 = target(&h2_url);
    assert_eq!(h2["protocol"], "h2", "{context}");
    let h2_sources = sources(&h2);
    assert_eq!(h2_sources.len(), 7, "{context}");
    for (i, (opened, messages)) in h2_sources.iter().enumerate() {
        assert!(
            *opened && *messages > 0,
            "h2 stream {i} did not flow{context}"
        );
    }
    assert_eq!(
        h2_streams, 7,
        "the TLS server saw {h2_streams} SSE requests{context}"
    );
}
