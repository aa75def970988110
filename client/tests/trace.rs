//! `rtlab-client trace …` run as the real binary against the real server, in-process on port 0.
//!
//! The WebSocket trace is checked on a payload we choose: the server runs without a ticker, the
//! test waits until the tracer's WebSocket is open (via `/stats`) and then publishes `Hello` twice,
//! so the two frames are `{"seq":1,"ts":<19 digits>,"data":"Hello"}` and `…"seq":2…`: 49 bytes each,
//! hence a 2-byte header `81 31` (FIN=1, opcode=0x1 text, MASK=0, 7-bit length 49). The output must
//! also name the handshake key and derive the server's accept value from it. The other transports
//! get a smoke check of their characteristic annotations.

use std::process::Stdio;
use std::time::Duration;

use rtlab_client::trace::ws::accept_key;
use rtlab_server::{Config, RunningServer};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

async fn start(rate: f64) -> RunningServer {
    rtlab_server::spawn(Config {
        rate,
        payload_bytes: 16,
        workers: 1,
        ..Config::ephemeral()
    })
    .await
    .expect("server starts")
}

fn trace_command(args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_rtlab-client"));
    cmd.arg("trace")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn finish(child: tokio::process::Child) -> String {
    let out = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("trace finishes in time")
        .expect("trace runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "trace failed: {:?}\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Waits until the server counts an open WebSocket, so that what we publish next reaches it.
async fn wait_for_ws_subscriber(http: &reqwest::Client, base: &str) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let stats: Value = http
            .get(format!("{base}/stats"))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON");
        if stats
            .pointer("/transports/ws/open_connections")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            > 0
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tracer never connected: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_ws_shows_handshake_accept_derivation_and_frame_fields() {
    let server = start(0.0).await;
    let base = format!("http://{}", server.http_addr());
    let child = trace_command(&["ws", "--url", &base, "--frames", "2", "--timeout", "30s"])
        .spawn()
        .expect("rtlab-client starts");
    let http = reqwest::Client::new();
    wait_for_ws_subscriber(&http, &base).await;
    for _ in 0..2 {
        let resp = http
            .post(format!("{base}/publish"))
            .body("Hello")
            .send()
            .await
            .expect("publish");
        assert!(resp.status().is_success());
    }
    let out = finish(child).await;
    server.shutdown().await.expect("server shuts down");

    // The handshake: the key we sent, the accept the server answered, and our derivation of it.
    let key = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Sec-WebSocket-Key: "))
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_else(|| panic!("no Sec-WebSocket-Key line:\n{out}"));
    let accept = accept_key(&key);
    assert!(
        out.to_ascii_lowercase().contains(&format!(
            "sec-websocket-accept: {}",
            accept.to_ascii_lowercase()
        )),
        "the server's accept header is not base64(SHA-1(key + GUID)) = {accept}:\n{out}"
    );
    assert!(
        out.contains("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
        "{out}"
    );
    assert!(
        out.contains("dGhlIHNhbXBsZSBub25jZQ== → s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{out}"
    );
    assert!(
        out.contains(&format!("base64 of those 20 bytes = {accept}")),
        "{out}"
    );
    assert!(out.contains("✓ match"), "{out}");

    // The first frame, byte by byte: 81 31 then {"seq":1,...
    assert!(
        out.contains(
            "  0000  81 31 7b 22 73 65 71 22 3a 31 2c 22 74 73 22 3a  |.1{\"seq\":1,\"ts\":|"
        ),
        "frame 1 is not the 49-byte text frame of seq 1:\n{out}"
    );
    assert!(
        out.contains("FIN=1 (final fragment)  RSV=000  opcode=0x1 (text)"),
        "{out}"
    );
    assert!(
        out.contains("MASK=0 (server→client frames never are)  payload length=49 (7-bit)"),
        "{out}"
    );
    assert!(out.contains("= 2 B of header + 49 B of payload"), "{out}");
    // Our close frame is masked.
    assert!(
        out.contains("MASK=1 (client→server frames are always masked)"),
        "{out}"
    );
    assert!(out.contains("masking key"), "{out}");
    // And the summary line: 2 events of 49 bytes, each with 2 bytes of frame header.
    let total = out
        .lines()
        .find(|l| l.starts_with("total: "))
        .unwrap_or_else(|| panic!("no total line:\n{out}"));
    assert!(total.contains("vs 98 B payload in 2 events"), "{total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_sse_polls_and_tcp_show_their_framing() {
    let server = start(50.0).await;
    let base = format!("http://{}", server.http_addr());
    let tcp = server.tcp_addr().to_string();
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["sse", "--frames", "2"],
            &[
                "content-type: text/event-stream",
                "chunk size in hex",
                "id field",
                "data field: the event JSON",
                "empty line: dispatch the event",
            ],
        ),
        (
            &["long-poll", "--frames", "2"],
            &["poll 2 of 2", "GET /poll/long?after=", "content-length:"],
        ),
        (
            &["short-poll", "--frames", "3", "--interval", "30ms"],
            &[
                "poll 3 of 3",
                "GET /poll/short?after=",
                "every poll pays both heads again",
            ],
        ),
        (
            &["tcp", "--frames", "2", "--tcp-addr", &tcp],
            &["no handshake and no headers", "B of event JSON + 1 B \\n"],
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["--url", base.as_str(), "--timeout", "30s"];
        all.extend_from_slice(args);
        let out = finish(trace_command(&all).spawn().expect("rtlab-client starts")).await;
        for needle in expected {
            assert!(
                out.contains(needle),
                "trace {args:?} lacks {needle:?}:\n{out}"
            );
        }
        assert!(
            out.lines().any(|l| l.starts_with("total: ")),
            "trace {args:?} has no total line:\n{out}"
        );
    }
    server.shutdown().await.expect("server shuts down");
}
