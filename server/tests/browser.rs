//! The live page in a real browser, end to end.
//!
//! Starts the real server in-process on port 0 with a ticker, then runs
//! `node server/tests/browser/live_page.mjs <url> <screenshot>`, which drives Debian's Chromium
//! through playwright-core (CDP, no browser download) and reports one JSON line. The assertions are
//! made here, on that report: all four panels (WebSocket, SSE, long poll, short poll) receive events
//! in order with none missed, a message published from the page's box shows up in all four, and
//! pausing then resuming SSE loses nothing. The screenshot lands in
//! `target/test-artifacts/live-page.png`.
//!
//! Needs `/usr/bin/chromium` and `server/tests/browser/node_modules`; `scripts/setup-test-deps`
//! installs both. When they are missing the test fails with one line saying so: a silently skipped
//! browser test would let a broken page land.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rtlab_server::Config;
use serde_json::Value;

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

    let mut node = tokio::process::Command::new("node");
    node.arg(browser_dir().join("live_page.mjs"))
        .arg(&url)
        .arg(&shot)
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
    server.shutdown().await.expect("server shuts down");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
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
    assert!(
        output.status.success(),
        "node exited with {:?}{context}",
        output.status
    );

    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG"),
        "screenshot at {} is not a PNG",
        shot.display()
    );
    eprintln!("screenshot: {}", shot.display());
}
