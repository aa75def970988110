//! TLS and HTTP/2 (`--tls-cert`, `--tls-key`, `--tcp-tls-addr`): the real server on free ports
//! with a certificate made at test time ([`TestCert`]), spoken to by clients that trust exactly
//! that certificate.
//!
//! What is pinned: SSE and both polls work over HTTP/1.1 *and* HTTP/2 on the TLS listener, and a
//! client that offers both by ALPN gets HTTP/2; WSS completes its handshake over HTTP/1.1 and
//! delivers events, with the `https` page's own origin admitted and a foreign one refused; the
//! TCP-TLS listener delivers byte for byte the lines plain TCP does; and the payloads never change
//! with the transport's wrapping (each test compares with the server's own encoding).
//! The command-line side (flag pairs, bad files, the `scripts/make-cert` pair) is in
//! `tls_cli.rs`.

use std::net::SocketAddr;

use reqwest::Version;
use rstest::rstest;
use rtlab_server::RunningServer;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::common::*;
use crate::test_cert::{HttpVersion, TestCert};

/// Starts the real server with TLS on `--addr` and the TCP-TLS baseline, ticker off.
async fn start_tls(cert: &TestCert) -> RunningServer {
    let cert_path = cert.cert.clone();
    let key_path = cert.key.clone();
    let server = start(move |c| {
        c.tls_cert = Some(cert_path);
        c.tls_key = Some(key_path);
        c.tcp_tls_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    assert!(server.tls());
    assert_eq!(server.scheme(), "https");
    server
}

/// `https://ADDR/PATH`.
fn https(addr: SocketAddr, path: &str) -> String {
    format!("https://{addr}{path}")
}

/// The version a client asking for `version` must end up with.
fn expected(version: HttpVersion) -> Version {
    match version {
        HttpVersion::H1 => Version::HTTP_11,
        // The server prefers h2 when the client offers both.
        HttpVersion::H2 | HttpVersion::Alpn => Version::HTTP_2,
    }
}

/// `POST /publish` over `client` (so over TLS, in the client's HTTP version); returns the seq.
async fn publish_over(client: &reqwest::Client, addr: SocketAddr, text: &str) -> u64 {
    let resp = within(
        "publish",
        client
            .post(https(addr, "/publish"))
            .body(text.to_owned())
            .send(),
    )
    .await
    .expect("publish over TLS");
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = within("publish answer", resp.json())
        .await
        .expect("publish answer is JSON");
    v["seq"].as_u64().expect("seq")
}

/// SSE over TLS: the response arrives in the negotiated version with the stream's headers, and a
/// published event arrives as exactly `id: N\ndata: JSON\n\n` (no HTTP/1.1 chunk framing, no
/// HTTP/2 framing: those are below what the client reads).
#[rstest]
#[case::h1(HttpVersion::H1)]
#[case::h2(HttpVersion::H2)]
#[case::alpn_picks_h2(HttpVersion::Alpn)]
#[tokio::test]
async fn sse_streams_events_over_tls(#[case] version: HttpVersion) {
    let cert = TestCert::new();
    let server = start_tls(&cert).await;
    let addr = server.http_addr();
    let client = cert.reqwest(version);
    let resp = within("GET /sse", client.get(https(addr, "/sse")).send())
        .await
        .expect("GET /sse over TLS");
    assert_eq!(resp.version(), expected(version));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    let mut body = resp;

    let mut wanted = Vec::new();
    for text in ["over", "tls"] {
        let seq = publish_over(&client, addr, text).await;
        let json = json_of(&server, seq);
        wanted.extend_from_slice(format!("id: {seq}\ndata: ").as_bytes());
        wanted.extend_from_slice(&json);
        wanted.extend_from_slice(b"\n\n");
    }
    let mut got = Vec::new();
    while got.len() < wanted.len() {
        let chunk = within("sse bytes", body.chunk())
            .await
            .expect("sse chunk")
            .expect("stream still open");
        got.extend_from_slice(&chunk);
    }
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&wanted)
    );
    // An idle HTTP/2 connection left open holds actix's graceful stop for its whole grace period
    // (actix-http sends no GOAWAY on shutdown): close the client's first.
    drop((body, client));
    server.shutdown().await.expect("clean shutdown");
}

/// Both polls over TLS, in each HTTP version: a parked long poll is answered by a publish, and a
/// short poll returns the history, with the same JSON answer as over plain HTTP.
#[rstest]
#[case::h1(HttpVersion::H1)]
#[case::h2(HttpVersion::H2)]
#[tokio::test]
async fn polls_answer_over_tls(#[case] version: HttpVersion) {
    let cert = TestCert::new();
    let server = start_tls(&cert).await;
    let addr = server.http_addr();
    let client = cert.reqwest(version);

    let parked = tokio::spawn(
        client
            .get(https(addr, "/poll/long?after=0&timeout_ms=10000"))
            .send(),
    );
    long_poll_parked(&server).await;
    let seq = publish_over(&client, addr, "wake").await;
    let resp = within("long poll answer", parked)
        .await
        .expect("task")
        .expect("long poll over TLS");
    assert_eq!(resp.version(), expected(version));
    let answer: serde_json::Value = resp.json().await.expect("JSON answer");
    assert_eq!(answer[0]["seq"], seq);
    assert_eq!(answer[0]["data"], "wake");

    let resp = within(
        "short poll",
        client.get(https(addr, "/poll/short?after=0")).send(),
    )
    .await
    .expect("short poll over TLS");
    assert_eq!(resp.version(), expected(version));
    let body = resp.bytes().await.expect("body");
    let mut want = b"[".to_vec();
    want.extend_from_slice(&json_of(&server, seq));
    want.push(b']');
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&want)
    );
    drop(client);
    server.shutdown().await.expect("clean shutdown");
}

/// WSS: the handshake runs over HTTP/1.1 (the client offers only `http/1.1` by ALPN, as browsers
/// do for WebSocket, since the server has no RFC 8441), events arrive as the same text frames as
/// over `ws://`, and the page's own `https` origin is served while a foreign one is a 403.
#[tokio::test]
async fn wss_handshake_and_events() {
    let cert = TestCert::new();
    let server = start_tls(&cert).await;
    let addr = server.http_addr();

    let tls = cert.connect(addr, &[b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut request = format!("wss://{addr}/ws")
        .into_client_request()
        .expect("request");
    let own = HeaderValue::from_str(&format!("https://localhost:{}", addr.port())).expect("value");
    request.headers_mut().insert("origin", own);
    let (mut ws, resp) = within(
        "wss handshake",
        tokio_tungstenite::client_async(request, tls),
    )
    .await
    .expect("WSS handshake");
    assert_eq!(resp.status(), 101);
    eventually("ws subscribed", || server.hub().subscriber_count() == 1).await;

    let seq = publish_over(&cert.reqwest(HttpVersion::Alpn), addr, "secure").await;
    let (event, text) = ws_event(&mut ws).await;
    assert_eq!(event.seq, seq);
    assert_eq!(text.as_bytes(), &json_of(&server, seq)[..]);

    // A page from elsewhere cannot open the feed over TLS either.
    let tls = cert.connect(addr, &[b"http/1.1"]).await;
    let mut request = format!("wss://{addr}/ws")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_static("https://evil.example"));
    match within("foreign wss", tokio_tungstenite::client_async(request, tls)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 403);
        }
        other => panic!("a foreign origin must get 403, got {other:?}"),
    }
    drop(ws);
    server.shutdown().await.expect("clean shutdown");
}

/// A WebSocket cannot be opened inside an HTTP/2 stream (no RFC 8441): `GET /ws` over h2 is the
/// JSON 400 of a failed handshake, not a hang and not a 5xx.
#[tokio::test]
async fn websocket_over_http2_is_a_json_400() {
    let cert = TestCert::new();
    let server = start_tls(&cert).await;
    let client = cert.reqwest(HttpVersion::H2);
    let resp = within(
        "GET /ws over h2",
        client
            .get(https(server.http_addr(), "/ws"))
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .send(),
    )
    .await
    .expect("an answer");
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_error_body(&body);
    assert_eq!(server.hub().subscriber_count(), 0);
    drop(client);
    server.shutdown().await.expect("clean shutdown");
}

/// The TCP-TLS baseline: after the handshake (no ALPN: it speaks no HTTP), the same newline
/// framed JSON as plain TCP, byte for byte.
#[tokio::test]
async fn tcp_tls_delivers_the_same_lines_as_plain_tcp() {
    let cert = TestCert::new();
    let server = start_tls(&cert).await;
    let tcp_tls_addr = server.tcp_tls_addr().expect("--tcp-tls-addr bound");

    let plain = within(
        "tcp connect",
        tokio::net::TcpStream::connect(server.tcp_addr()),
    )
    .await
    .expect("connect");
    let tls = cert.connect(tcp_tls_addr, &[]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    let mut plain = BufReader::new(plain);
    let mut tls = BufReader::new(tls);
    eventually("both subscribed", || server.hub().subscriber_count() == 2).await;

    let client = cert.reqwest(HttpVersion::Alpn);
    let mut seqs = Vec::new();
    for text in ["one", "two", "three"] {
        seqs.push(publish_over(&client, server.http_addr(), text).await);
    }
    for seq in seqs {
        let mut want = json_of(&server, seq).to_vec();
        want.push(b'\n');
        let (mut from_plain, mut from_tls) = (Vec::new(), Vec::new());
        within("plain line", plain.read_until(b'\n', &mut from_plain))
            .await
            .expect("plain line");
        within("tls line", tls.read_until(b'\n', &mut from_tls))
            .await
            .expect("tls line");
        assert_eq!(from_plain, want, "plain tcp");
        assert_eq!(from_tls, want, "tcp over tls");
    }
    drop(client);
    // Shutdown closes both the same way: the lines so far, then EOF (over TLS a close_notify,
    // so the client can tell the end from a cut).
    server.shutdown().await.expect("clean shutdown");
    let (mut rest_plain, mut rest_tls) = (Vec::new(), Vec::new());
    let n = within("plain eof", plain.read_until(b'\n', &mut rest_plain)).await;
    assert_eq!(n.expect("clean EOF"), 0);
    let n = within("tls eof", tls.read_until(b'\n', &mut rest_tls)).await;
    assert_eq!(n.expect("clean TLS EOF (close_notify)"), 0);
}
