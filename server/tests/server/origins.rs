//! Who may connect (contract v2): the `Origin` policy on every endpoint it guards, over raw HTTP so
//! that `Host` and `Origin` are exactly what each test says.
//!
//! One case list (the rstest template `for_every_endpoint`) is applied to every behaviour: no
//! `Origin` is served, the server's own origin is served under any loopback name, a foreign one
//! is a JSON 403 before anything is upgraded, subscribed or published, and `--allow-origin`
//! admits what it lists.

use std::net::SocketAddr;
use std::process::Stdio;

use rstest::rstest;
use rstest_reuse::{apply, template};
use rtlab_server::RunningServer;
use rtlab_server::origin_policy::parse_allow_origin;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::common::*;

/// The contract's exact error body for a refused origin.
const REFUSED: &str = r#"{"error":"origin not allowed"}"#;

/// An origin `--allow-origin` lists in these tests.
const LISTED: &str = "http://app.example:3000";

/// The endpoints the policy guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Ws,
    WsEcho,
    Sse,
    LongPoll,
    ShortPoll,
    Publish,
}

/// This file's rstest template: a test that applies it runs once per [`Endpoint`], as its own
/// named case (`…::case_1_ws`, …).
#[template]
#[rstest]
#[case::ws(Endpoint::Ws)]
#[case::ws_echo(Endpoint::WsEcho)]
#[case::sse(Endpoint::Sse)]
#[case::long_poll(Endpoint::LongPoll)]
#[case::short_poll(Endpoint::ShortPoll)]
#[case::publish(Endpoint::Publish)]
fn for_every_endpoint(#[case] endpoint: Endpoint) {}

impl Endpoint {
    fn is_websocket(self) -> bool {
        matches!(self, Endpoint::Ws | Endpoint::WsEcho)
    }

    /// The status of a served request: 101 for an upgrade, 200 otherwise.
    fn served(self) -> &'static str {
        if self.is_websocket() {
            "http/1.1 101"
        } else {
            "http/1.1 200"
        }
    }

    /// The whole request, verbatim, with `Host: host` and `Origin: origin` when given.
    fn request(self, host: &str, origin: Option<&str>) -> String {
        let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
        let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
        let (line, extra, body) = match self {
            Endpoint::Ws => ("GET /ws", upgrade, ""),
            Endpoint::WsEcho => ("GET /ws/echo", upgrade, ""),
            Endpoint::Sse => ("GET /sse", "", ""),
            // Answers `[]` at once: nothing is new and the wait is zero.
            Endpoint::LongPoll => ("GET /poll/long?timeout_ms=0", "", ""),
            Endpoint::ShortPoll => ("GET /poll/short", "", ""),
            Endpoint::Publish => (
                "POST /publish",
                "Content-Type: text/plain\r\nContent-Length: 1\r\n",
                "x",
            ),
        };
        format!("{line} HTTP/1.1\r\nHost: {host}\r\n{origin}{extra}\r\n{body}")
    }
}

/// One answer: the lower-cased head, and the body when it has a length (not a stream).
struct Answer {
    head: String,
    body: Vec<u8>,
}

/// Sends `endpoint`'s request with `Host: host` and `Origin: origin` and reads the answer.
async fn ask(addr: SocketAddr, endpoint: Endpoint, host: &str, origin: Option<&str>) -> Answer {
    let mut raw = Raw::send(addr, endpoint.request(host, origin).as_bytes()).await;
    let head = raw.head().await;
    let body = raw.sized_body(&head).await.unwrap_or_default();
    Answer { head, body }
}

/// The server's own `Host`, as a browser that loaded its page would send it.
fn own_host(server: &RunningServer) -> String {
    server.http_addr().to_string()
}

/// Asserts that `answer` served `endpoint`.
fn assert_served(endpoint: Endpoint, answer: &Answer, what: &str) {
    assert!(
        answer.head.starts_with(endpoint.served()),
        "{endpoint:?}, {what}: {}",
        answer.head
    );
}

/// Asserts that `answer` served `endpoint` as a same-origin answer: without CORS headers.
fn assert_served_without_cors(endpoint: Endpoint, answer: &Answer, what: &str) {
    assert_served(endpoint, answer, what);
    assert!(
        !answer.head.contains("access-control-allow-origin"),
        "{what}: {}",
        answer.head
    );
}

/// Asserts the contract's 403: the exact JSON body, no upgrade, no CORS headers.
fn assert_refused(endpoint: Endpoint, answer: &Answer, what: &str) {
    let head = &answer.head;
    assert!(
        head.starts_with("http/1.1 403"),
        "{endpoint:?}, {what}: {head}"
    );
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(!head.contains("upgrade: websocket"), "{head}");
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    assert_eq!(
        String::from_utf8_lossy(&answer.body),
        REFUSED,
        "{endpoint:?}, {what}"
    );
}

/// Asserts that nothing was opened, subscribed, polled or published on `server`.
fn assert_untouched(server: &RunningServer) {
    let snap = server.hub().counters().snapshot(server.hub().head());
    assert_eq!(snap.events_published, 0, "something was published");
    for (transport, t) in &snap.transports {
        assert_eq!(t.connections_total, 0, "{transport:?} was opened");
    }
    assert_eq!(server.hub().subscriber_count(), 0, "something subscribed");
}

/// curl, native clients and the lab's own client send no `Origin`: served, no CORS headers.
#[apply(for_every_endpoint)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_origin_is_served(endpoint: Endpoint) {
    let server = start(|_| {}).await;
    let answer = ask(server.http_addr(), endpoint, &own_host(&server), None).await;
    assert_served_without_cors(endpoint, &answer, "no Origin");
    server.shutdown().await.unwrap();
}

/// The page the server itself serves: its origin is `http://` plus the `Host` it was loaded
/// from, and `localhost`, `127.0.0.1` and `[::1]` are one host.
#[apply(for_every_endpoint)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_origin_is_served_under_any_loopback_name(endpoint: Endpoint) {
    let server = start(|_| {}).await;
    let port = server.http_addr().port();
    for (origin, host) in [
        (
            format!("http://127.0.0.1:{port}"),
            format!("127.0.0.1:{port}"),
        ),
        (
            format!("http://localhost:{port}"),
            format!("127.0.0.1:{port}"),
        ),
        (
            format!("http://127.0.0.1:{port}"),
            format!("localhost:{port}"),
        ),
        (format!("http://[::1]:{port}"), format!("localhost:{port}")),
    ] {
        let what = format!("Origin {origin} on Host {host}");
        let answer = ask(server.http_addr(), endpoint, &host, Some(&origin)).await;
        assert_served_without_cors(endpoint, &answer, &what);
    }
    server.shutdown().await.unwrap();
}

/// A page from anywhere else (another site, another port, another scheme, a sandboxed frame's
/// `null`, a malformed value) gets the JSON 403, and the server does nothing for it.
#[apply(for_every_endpoint)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_is_403_json_before_anything_happens(endpoint: Endpoint) {
    let server = start(|_| {}).await;
    let port = server.http_addr().port();
    let other_port = if port == u16::MAX { port - 1 } else { port + 1 };
    for origin in [
        "https://evil.example".to_owned(),
        format!("http://evil.example:{port}"),
        format!("http://127.0.0.1:{other_port}"),
        format!("https://127.0.0.1:{port}"),
        "null".to_owned(),
        format!("http://127.0.0.1:{port}/"),
        "evil".to_owned(),
    ] {
        let answer = ask(
            server.http_addr(),
            endpoint,
            &own_host(&server),
            Some(&origin),
        )
        .await;
        assert_refused(endpoint, &answer, &origin);
    }
    assert_untouched(&server);
    server.shutdown().await.unwrap();
}

/// `--allow-origin URL` admits that origin, with `Access-Control-Allow-Origin` echoing it and
/// `Vary: Origin` (a WebSocket handshake needs no CORS headers: browsers ignore them there);
/// any other origin is still refused.
#[apply(for_every_endpoint)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_origin_admits_a_listed_origin_with_cors_headers(endpoint: Endpoint) {
    let server = start(|c| {
        c.allow_origins = vec![parse_allow_origin(LISTED).expect("a valid origin")];
    })
    .await;
    let addr = server.http_addr();
    let answer = ask(addr, endpoint, &own_host(&server), Some(LISTED)).await;
    assert_served(endpoint, &answer, LISTED);
    if !endpoint.is_websocket() {
        let head = &answer.head;
        assert!(
            head.contains(&format!("access-control-allow-origin: {LISTED}")),
            "{head}"
        );
        assert!(head.contains("vary: origin"), "{head}");
    }
    let answer = ask(
        addr,
        endpoint,
        &own_host(&server),
        Some("https://evil.example"),
    )
    .await;
    assert_refused(endpoint, &answer, "unlisted");
    server.shutdown().await.unwrap();
}

/// `--allow-origin '*'` is the behaviour of a server that checks nothing: every origin in.
#[apply(for_every_endpoint)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_origin_star_admits_every_origin(endpoint: Endpoint) {
    let server = start(|c| c.allow_origins = vec![parse_allow_origin("*").expect("*")]).await;
    let answer = ask(
        server.http_addr(),
        endpoint,
        &own_host(&server),
        Some("https://evil.example"),
    )
    .await;
    assert_served(endpoint, &answer, "*");
    server.shutdown().await.unwrap();
}

/// The contract's example, with a real HTTP client: a cross-site publish is a JSON 403 and
/// publishes nothing, even when its body would be too large (the origin is checked first, before
/// a byte of the body is read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_publish_is_403_json_and_publishes_nothing() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let resp = within(
        "publish",
        reqwest::Client::new()
            .post(url(addr, "/publish"))
            .header("Origin", "https://evil.example")
            .body("x")
            .send(),
    )
    .await
    .expect("publish request");
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.text().await.expect("body"), REFUSED);

    let (head, body) = raw_request(
        addr,
        "POST /publish HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example\r\n\
         Content-Length: 10485760\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    assert_eq!(String::from_utf8_lossy(&body), REFUSED);
    assert_eq!(stats(addr).await.events_published, 0);
    server.shutdown().await.unwrap();
}

/// `OPTIONS /publish` is the preflight a browser sends before a cross-origin `POST` with a JSON
/// body: 204 with the allowed method and header for a listed origin, 403 for another, and
/// without `Origin` still the old 405 (the path's only method is `POST`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_preflight_answers_allowed_origins_only() {
    let server = start(|c| {
        c.allow_origins = vec![parse_allow_origin(LISTED).expect("a valid origin")];
    })
    .await;
    let preflight = |origin: &str| {
        format!(
            "OPTIONS /publish HTTP/1.1\r\nHost: t\r\n{origin}Access-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
        )
    };
    let addr = server.http_addr();
    let (head, _) = raw_request(addr, &preflight(&format!("Origin: {LISTED}\r\n"))).await;
    assert!(head.starts_with("http/1.1 204"), "{head}");
    assert!(
        head.contains(&format!("access-control-allow-origin: {LISTED}")),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-methods: post"),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-headers: content-type"),
        "{head}"
    );
    assert!(head.contains("vary: origin"), "{head}");

    let (head, body) = raw_request(addr, &preflight("Origin: https://evil.example\r\n")).await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    assert_eq!(String::from_utf8_lossy(&body), REFUSED);

    let (head, body) = raw_request(addr, &preflight("")).await;
    assert!(head.starts_with("http/1.1 405"), "{head}");
    assert!(head.contains("allow: post"), "{head}");
    assert_error_body(&serde_json::from_slice(&body).expect("JSON"));
    server.shutdown().await.unwrap();
}

/// Starts the real binary with `args` on free ports; returns it, its HTTP address and a task
/// that yields its stderr once it has exited.
async fn binary(
    args: &[&str],
) -> (
    tokio::process::Child,
    SocketAddr,
    tokio::task::JoinHandle<String>,
) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rtlab-server"))
        .args(["--addr", "127.0.0.1:0", "--tcp-addr", "127.0.0.1:0"])
        .args(["--rate", "0", "--workers", "1"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start rtlab-server");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = within("listening line", stdout.next_line())
        .await
        .expect("stdout")
        .expect("a listening line");
    let (http, _) = parse_listening(&line);
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    (child, http, stderr)
}

/// `POST /publish` with body `x` from `origin`: (status, `Access-Control-Allow-Origin`, body).
async fn publish_from(addr: SocketAddr, origin: &str) -> (u16, Option<String>, String) {
    let resp = within(
        "publish",
        reqwest::Client::new()
            .post(url(addr, "/publish"))
            .header("Origin", origin)
            .body("x")
            .send(),
    )
    .await
    .expect("publish request");
    let status = resp.status().as_u16();
    let allow = resp
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().expect("ASCII").to_owned());
    (status, allow, resp.text().await.expect("body"))
}

/// The real binary and its flags: `curl -H 'Origin: https://evil.example' -X POST --data x
/// …/publish` is the JSON 403, `--allow-origin URL` (repeatable) admits what it lists, and
/// `--allow-origin '*'` admits everything with a warning in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_evil_example_and_admits_what_allow_origin_lists() {
    let (mut child, addr, _) = binary(&[
        "--allow-origin",
        LISTED,
        "--allow-origin",
        "http://other.example",
    ])
    .await;
    assert_eq!(
        publish_from(addr, "https://evil.example").await,
        (403, None, REFUSED.to_owned())
    );
    for origin in [LISTED, "http://other.example"] {
        let (status, allow, _) = publish_from(addr, origin).await;
        assert_eq!((status, allow.as_deref()), (200, Some(origin)), "{origin}");
    }
    child.kill().await.expect("kill");

    let (mut child, addr, stderr) = binary(&["--allow-origin", "*"]).await;
    let (status, allow, _) = publish_from(addr, "https://evil.example").await;
    assert_eq!(
        (status, allow.as_deref()),
        (200, Some("https://evil.example"))
    );
    child.kill().await.expect("kill");
    let stderr = within("stderr", stderr).await.expect("stderr task");
    assert!(
        stderr.contains("WARN") && stderr.contains("--allow-origin '*'"),
        "no warning for '*':\n{stderr}"
    );
}
