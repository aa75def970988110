//! The live page in a real browser, end to end, and the same feed attacked from another origin.
//!
//! Each test starts the real server in-process on port 0 with a ticker, then runs a script in
//! `server/tests/browser/` with node, which drives Debian's Chromium through playwright-core (CDP,
//! no browser download) and reports one JSON line. The assertions are made here, on that report:
//!
//! - `live_page.mjs <url> <screenshot>`: all four panels (WebSocket, SSE, long poll, short poll)
//!   receive events in order with none missed, a message published from the page's box shows up
//!   in all four, and pausing then resuming SSE loses nothing. The screenshot lands in
//!   `target/test-artifacts/live-page.png`.
//! - `cross_origin.mjs <page url> <server url>…`: a page served by this test from another port
//!   (another origin) tries cross-site WebSocket hijacking and a cross-site publish. Against the
//!   server as it ships, the WebSocket never opens, nothing of the feed is readable and the
//!   publish never lands; against a second server that allows the page's origin
//!   (`--allow-origin`, as a server that checks nothing would), all of it works, which proves the
//!   attacks are real and the refusal is the origin policy's doing.
//!
//! Needs `/usr/bin/chromium` and `server/tests/browser/node_modules`; `scripts/setup-test-deps`
//! installs both. When they are missing the test fails with one line saying so: a silently skipped
//! browser test would let a broken page land.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use rtlab_server::origin_policy::parse_allow_origin;
use rtlab_server::{Config, RunningServer};
use rtlab_wire::Transport;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How long the whole browser run may take before it is killed (it takes ~5 s when healthy).
const NODE_TIMEOUT: Duration = Duration::from_secs(120);
/// Ticker rate for the test: fast enough that a pause misses several events within a second.
const RATE: f64 = 20.0;
/// The four panels of the page, by their `data-transport`.
const PANELS: [&str; 4] = ["ws", "sse", "long-poll", "short-poll"];

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("RTLAB_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn artifact_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("test-artifacts/live-page.png")
}

/// Fails (never skips) with one line naming the setup script when a prerequisite is missing.
fn require_setup() {
    const FIX: &str = "run `scripts/setup-test-deps` (as root) to install them";
    let chromium = chromium();
    assert!(
        chromium.exists(),
        "browser test needs Chromium at {} and it is missing: {FIX}",
        chromium.display()
    );
    let module = browser_dir().join("node_modules/playwright-core/package.json");
    assert!(
        module.exists(),
        "browser test needs playwright-core in {} and it is missing: {FIX}",
        browser_dir().join("node_modules").display()
    );
}

/// Runs `node <script> <args>` in the browser directory, killed after [`NODE_TIMEOUT`]: the JSON
/// report it printed last, its stderr and its exit status.
async fn run_node(
    script: &str,
    args: impl IntoIterator<Item = OsString>,
) -> (Value, String, ExitStatus) {
    let mut node = tokio::process::Command::new("node");
    node.arg(browser_dir().join(script))
        .args(args)
        .current_dir(browser_dir())
        .env("RTLAB_CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = match node.spawn() {
        Ok(child) => child,
        Err(e) => panic!(
            "browser test cannot start `node` ({e}): run `scripts/setup-test-deps` (as root)"
        ),
    };
    let output = tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the browser run took longer than {NODE_TIMEOUT:?}; killed"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report: Value = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "the browser script printed no JSON report (exit {:?})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                output.status.code()
            )
        });
    (report, stderr, output.status)
}

fn check<'a>(report: &'a Value, pointer: &str) -> &'a Value {
    report
        .pointer(pointer)
        .unwrap_or_else(|| panic!("browser report has no {pointer}: {report:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_page_shows_all_four_transports_in_a_real_browser() {
    require_setup();
    let config = Config {
        rate: RATE,
        payload_bytes: 32,
        workers: 1,
        ..Config::ephemeral()
    };
    let server = rtlab_server::spawn(config).await.expect("server starts");
    let url = format!("http://{}/", server.http_addr());
    let shot = artifact_path();
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
