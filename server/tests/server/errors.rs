//! Client mistakes: every one is a JSON 4xx, never a 5xx, a panic or a hang.

use tokio_tungstenite::tungstenite;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_path_is_json_404() {
    let server = start(|_| {}).await;
    let (status, body) = get_json(server.http_addr(), "/nope").await;
    assert_eq!(status, 404);
    assert_error_body(&body);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_is_json_405_with_allow() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let client = reqwest::Client::new();
    for (method, path, allow) in [
        (reqwest::Method::POST, "/sse", "GET"),
        (reqwest::Method::DELETE, "/poll/long", "GET"),
        (reqwest::Method::PUT, "/ws", "GET"),
        (reqwest::Method::GET, "/publish", "POST"),
    ] {
        let resp = within(
            "405",
            client.request(method.clone(), url(addr, path)).send(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
        assert_eq!(resp.headers()["allow"], allow);
        assert_error_body(&resp.json().await.unwrap());
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_after_and_timeout_are_json_400() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    for path in [
        "/poll/long?after=abc",
        "/poll/long?after=-1",
        "/poll/long?timeout_ms=99999999999",
        "/poll/long?after=0&timeout_ms=60001",
        "/poll/long?timeout_ms=-3",
        "/poll/short?after=abc",
        "/poll/short?after=-1",
        "/sse?after=abc",
        "/sse?after=-1",
        "/ws?after=-1",
    ] {
        let (status, body) = get_json(addr, path).await;
        assert_eq!(status, 400, "{path}");
        assert_error_body(&body);
    }
    // A Last-Event-ID that is not a seq.
    let resp = reqwest::Client::new()
        .get(url(addr, "/sse"))
        .header("Last-Event-ID", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_error_body(&resp.json().await.unwrap());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_publish_is_json_413_and_publishes_nothing() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    // Announced size: refused before a byte of the body is read.
    let (head, body) = raw_request(
        addr,
        "POST /publish HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 10485760\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_error_body(&serde_json::from_slice(&body).unwrap());

    // The whole 10 MB actually sent, as a real client would.
    let big = "x".repeat(10 * 1024 * 1024);
    match within(
        "10 MB publish",
        reqwest::Client::new()
            .post(url(addr, "/publish"))
            .body(big)
            .send(),
    )
    .await
    {
        Ok(resp) => {
            assert_eq!(resp.status(), 413);
            assert_error_body(&resp.json().await.unwrap());
        }
        // The server may close before the client finished sending; that is not a 5xx either.
        Err(e) => assert!(!e.is_status(), "{e}"),
    }

    // Chunked, so the size is only discovered while reading.
    let mut raw = Raw::send(
        addr,
        b"POST /publish HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await;
    let chunk = format!("{:x}\r\n{}\r\n", 70_000, "y".repeat(70_000));
    use tokio::io::AsyncWriteExt;
    raw.stream.write_all(chunk.as_bytes()).await.unwrap();
    let head = raw.head().await;
    assert!(head.starts_with("http/1.1 413"), "{head}");

    assert_eq!(stats(addr).await.events_published, 0);
    // Exactly at the limit is fine.
    let seq = publish(addr, &"z".repeat(rtlab_wire::defaults::MAX_PUBLISH_BYTES)).await;
    assert_eq!(seq, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_version_8_handshake_is_json_400() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let (head, body) = raw_request(
        addr,
        "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\
         Connection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert!(!head.contains("upgrade: websocket"), "{head}");
    assert_error_body(&serde_json::from_slice(&body).unwrap());

    // No key at all, and a plain GET without upgrade: also 400 JSON.
    let (status, body) = get_json(addr, "/ws").await;
    assert_eq!(status, 400);
    assert_error_body(&body);
    let (head, _) = raw_request(
        addr,
        "GET /ws/echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert_eq!(
        server.hub().counters().snapshot(0).transports[&rtlab_wire::Transport::Ws]
            .connections_total,
        0
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_is_json_503_for_http_and_a_close_for_tcp() {
    let server = start(|c| c.max_connections = 2).await;
    let addr = server.http_addr();
    let _a = ws_connect(addr, "/ws").await;
    let _sse = Raw::sse(addr).await;

    match tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 503);
            let body = resp.body().as_deref().unwrap_or_default();
            assert_error_body(&serde_json::from_slice(body).unwrap());
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    let (status, body) = get_json(addr, "/sse").await;
    assert_eq!(status, 503);
    assert_error_body(&body);
    // Raw TCP: closed at once, nothing sent.
    let mut tcp = Raw {
        stream: tokio::net::TcpStream::connect(server.tcp_addr())
            .await
            .unwrap(),
        buf: Vec::new(),
    };
    assert!(tcp.read_to_eof().await.is_empty());
    // Polls are not capped.
    let (status, _) = get_json(addr, "/poll/short").await;
    assert_eq!(status, 200);
    assert_eq!(stats(addr).await.rejected_connections, 3);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_as_html() {
    let server = start(|_| {}).await;
    let resp = reqwest::get(url(server.http_addr(), "/")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text().await.unwrap().to_lowercase().contains("<html"));
    server.shutdown().await.unwrap();
}
