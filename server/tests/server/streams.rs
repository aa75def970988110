//! Long-lived connections: slow subscribers, resumption, echo, keep-alive pings, message limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rtlab_wire::Transport;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::*;

/// A feed that a subscriber which stops reading falls behind at once: 32 KiB events at 200/s
/// (6.4 MB/s) with a 64-event queue.
fn flood(c: &mut rtlab_server::Config) {
    c.rate = 200.0;
    c.payload_bytes = 32 * 1024;
    c.subscriber_queue = 64;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_never_reads_is_cut_off_while_a_healthy_one_gets_everything() {
    // 32 KiB events at 200/s (6.4 MB/s) with a 64-event queue: the silent client's socket
    // buffers, actix's 32-frame channel and then its hub queue fill within a few seconds, while
    // the healthy client has 320 ms of slack at any moment.
    let server = start(|c| {
        flood(c);
        c.workers = 2;
    })
    .await;
    let addr = server.http_addr();
    let mut silent = ws_connect(addr, "/ws").await;
    let healthy = ws_connect(addr, "/ws").await;

    let last_seen = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&last_seen);
    let reader = tokio::spawn(async move {
        let mut healthy = healthy;
        let mut previous = None;
        loop {
            let (event, _) = ws_event(&mut healthy).await;
            if let Some(p) = previous {
                assert_eq!(event.seq, p + 1, "healthy client saw a gap or reordering");
            }
            previous = Some(event.seq);
            seen.store(event.seq, Ordering::Relaxed);
        }
    });

    let stats_of = |server: &rtlab_server::RunningServer| {
        server.hub().counters().snapshot(0).transports[&Transport::Ws].clone()
    };
    eventually("the silent client is cut off as lagging", || {
        stats_of(&server).lagging_disconnects == 1
    })
    .await;
    assert!(
        !reader.is_finished(),
        "healthy reader failed: {:?}",
        reader.await
    );
    // The healthy client keeps receiving, in order, after the kick.
    let at_kick = server.hub().head();
    eventually("healthy client continues", || {
        last_seen.load(Ordering::Relaxed) >= at_kick + 20
    })
    .await;
    assert!(!reader.is_finished());
    assert_eq!(
        stats_of(&server).lagging_disconnects,
        1,
        "only the silent one lags"
    );

    // The silent client, reading at last: consecutive events that were already queued, then
    // close 1008 "lagging".
    let close = within("close frame for the lagging client", async {
        let mut previous = None;
        loop {
            match silent.next().await {
                Some(Ok(Message::Text(t))) => {
                    let seq = rtlab_wire::EventView::parse(t.as_bytes()).unwrap().seq;
                    if let Some(p) = previous {
                        assert_eq!(seq, p + 1);
                    }
                    previous = Some(seq);
                }
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                other => panic!("lagging client got {other:?} instead of a close frame"),
            }
        }
    })
    .await
    .expect("close frame with a code");
    assert_eq!(close.code, CloseCode::Policy);
    assert_eq!(
        u16::from(close.code),
        rtlab_wire::defaults::LAGGING_CLOSE_CODE
    );
    assert_eq!(
        close.reason.as_str(),
        rtlab_wire::defaults::LAGGING_CLOSE_REASON
    );
    drop(silent);
    eventually("silent connection released", || {
        stats_of(&server).open_connections == 1
    })
    .await;
    reader.abort();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_reconnect_with_last_event_id_gets_exactly_the_missed_events() {
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let block = |seq| {
        format!(
            "id: {seq}\ndata: {}\n\n",
            String::from_utf8_lossy(&json_of(&server, seq))
        )
    };
    let mut first = Raw::sse(addr).await;
    publish(addr, "1").await;
    publish(addr, "2").await;
    assert_eq!(String::from_utf8(first.chunk().await).unwrap(), block(1));
    assert_eq!(String::from_utf8(first.chunk().await).unwrap(), block(2));
    drop(first);
    // Missed while away.
    for i in 3..=5 {
        publish(addr, &i.to_string()).await;
    }
    let mut second = Raw::send(
        addr,
        b"GET /sse?after=0 HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 2\r\n\r\n",
    )
    .await;
    second.head().await;
    for seq in 3..=5 {
        assert_eq!(String::from_utf8(second.chunk().await).unwrap(), block(seq));
    }
    publish(addr, "6").await;
    assert_eq!(String::from_utf8(second.chunk().await).unwrap(), block(6));
    // And `?after=N` does the same without the header.
    let mut third = Raw::send(addr, b"GET /sse?after=4 HTTP/1.1\r\nHost: t\r\n\r\n").await;
    third.head().await;
    assert_eq!(String::from_utf8(third.chunk().await).unwrap(), block(5));
    assert_eq!(String::from_utf8(third.chunk().await).unwrap(), block(6));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_returns_text_binary_and_pongs_unchanged() {
    let server = start(|_| {}).await;
    let mut ws = ws_connect(server.http_addr(), "/ws/echo").await;
    ws.send(Message::Text("héllo".into())).await.unwrap();
    assert_eq!(ws_next(&mut ws).await, Message::Text("héllo".into()));
    let blob: Vec<u8> = (0..=255).collect();
    ws.send(Message::Binary(blob.clone().into())).await.unwrap();
    assert_eq!(ws_next(&mut ws).await, Message::Binary(blob.into()));
    ws.send(Message::Ping(b"p1"[..].into())).await.unwrap();
    let pong = within("pong", async {
        loop {
            if let Some(Ok(Message::Pong(p))) = ws.next().await {
                return p;
            }
        }
    })
    .await;
    assert_eq!(&pong[..], b"p1");
    // Echo is not the feed: nothing published.
    assert_eq!(server.hub().head(), 0);
    ws.close(None).await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_pings_and_closes_a_silent_peer() {
    let server = start(|c| c.ping_interval = Duration::from_millis(100)).await;
    let mut ws = ws_connect(server.http_addr(), "/ws").await;
    // Not reading means not answering pings (tungstenite answers while reading).
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut pings = 0;
    let close = within("ping timeout close", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(p))) => {
                    assert_eq!(&p[..], b"rtlab");
                    pings += 1;
                }
                Some(Ok(Message::Close(frame))) => return frame,
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .expect("close frame");
    assert!(pings >= 1);
    assert_eq!(close.reason.as_str(), "ping timeout");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answering_peer_stays_connected_and_a_too_big_message_is_closed_1009() {
    let server = start(|c| {
        c.ping_interval = Duration::from_millis(200);
        c.max_publish_bytes = 1000;
    })
    .await;
    let addr = server.http_addr();
    let mut ws = ws_connect(addr, "/ws").await;
    // Reading answers the pings (tungstenite pongs while reading): after five intervals the
    // connection is still alive. Publish through the hub so there is no silent gap.
    let _ = tokio::time::timeout(Duration::from_millis(1000), ws_next(&mut ws)).await;
    server
        .hub()
        .publish("still here".into(), rtlab_server::hub::Origin::Ticker);
    let (event, _) = ws_event(&mut ws).await;
    assert_eq!(event.data, "still here");
    assert!(stats(addr).await.transports[&Transport::Ws].bytes_sent > 0);

    ws.send(Message::Text("x".repeat(1001).into()))
        .await
        .unwrap();
    let close = ws_close_frame(&mut ws).await.expect("close frame");
    assert_eq!(close.code, CloseCode::Size);
    assert_eq!(
        server.hub().head(),
        1,
        "the oversized message was not published"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_feed_does_not_starve_pongs_into_a_ping_timeout() {
    // 1000 events/s and a ping every 50 ms: the feed is never idle, yet the client's pongs must
    // still be read, or the server would close a healthy client for silence.
    let server = start(|c| {
        c.rate = 1000.0;
        c.ping_interval = Duration::from_millis(50);
    })
    .await;
    let mut ws = ws_connect(server.http_addr(), "/ws").await;
    let (first, _) = ws_event(&mut ws).await;
    let mut previous = first.seq;
    let until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < until {
        let (event, _) = ws_event(&mut ws).await;
        assert_eq!(event.seq, previous + 1);
        previous = event.seq;
    }
    assert!(
        previous > first.seq + 500,
        "only {} events",
        previous - first.seq
    );
    let snap = server.hub().counters().snapshot(0);
    assert_eq!(snap.lagging_disconnects, 0);
    assert_eq!(snap.transports[&Transport::Ws].open_connections, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sse_and_tcp_subscribers_are_cut_off_too() {
    let server = start(flood).await;
    let sse = Raw::sse(server.http_addr()).await;
    let tcp = tokio::net::TcpStream::connect(server.tcp_addr())
        .await
        .unwrap();
    let lagging = |t| server.hub().counters().snapshot(0).transports[&t].lagging_disconnects;
    eventually("sse and tcp cut off as lagging", || {
        lagging(Transport::Sse) == 1 && lagging(Transport::Tcp) == 1
    })
    .await;
    assert_eq!(server.hub().subscriber_count(), 0);
    // The TCP subscriber, reading at last: whole consecutive lines, then EOF.
    let mut raw = Raw {
        stream: tcp,
        buf: Vec::new(),
    };
    let bytes = raw.read_to_eof().await;
    let mut previous = None;
    assert!(bytes.ends_with(b"\n"));
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let seq = rtlab_wire::EventView::parse(line).unwrap().seq;
        if let Some(p) = previous {
            assert_eq!(seq, p + 1);
        }
        previous = Some(seq);
    }
    assert!(previous.is_some());
    drop(sse);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_idle_is_cut_after_actix_default_5s_timeouts() {
    // actix's keep_alive and client_request_timeout default to 5 s; a parked long poll, an idle
    // SSE stream and an idle WebSocket must all survive well past that.
    let server = start(|_| {}).await;
    let addr = server.http_addr();
    let parked = spawn_get(addr, "/poll/long?after=0&timeout_ms=60000");
    let mut sse = Raw::sse(addr).await;
    let mut ws = ws_connect(addr, "/ws").await;
    tokio::time::sleep(Duration::from_millis(6500)).await;
    assert!(!parked.is_finished(), "the long poll was answered early");
    let seq = publish(addr, "late").await;
    let body = within("long poll", parked)
        .await
        .unwrap()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        rtlab_wire::EventView::parse_array(&body).unwrap()[0].seq,
        seq
    );
    assert!(
        String::from_utf8(sse.chunk().await)
            .unwrap()
            .starts_with(&format!("id: {seq}\n"))
    );
    assert_eq!(ws_event(&mut ws).await.0.seq, seq);
    server.shutdown().await.unwrap();
}
