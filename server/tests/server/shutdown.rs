//! Graceful shutdown, in process and as the real binary receiving SIGTERM.

use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::*;

/// Reads WebSocket messages until the close frame, returning its code.
async fn close_code(ws: &mut Ws) -> Option<CloseCode> {
    ws_close_frame(ws).await.map(|f| f.code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_transport_cleanly_and_quickly() {
    let server = start(|c| c.rate = 50.0).await;
    let addr = server.http_addr();
    let mut ws = ws_connect(addr, "/ws").await;
    let mut echo = ws_connect(addr, "/ws/echo").await;
    let mut sse = Raw::sse(addr).await;
    let mut tcp = TcpStream::connect(server.tcp_addr()).await.unwrap();
    let parked = spawn_get(addr, "/poll/long?after=999999999&timeout_ms=60000");
    eventually("all connected", || {
        let s = server.hub().counters().snapshot(0);
        s.transports[&rtlab_wire::Transport::LongPoll].open_connections == 1
            && server.hub().subscriber_count() == 3
    })
    .await;
    ws_event(&mut ws).await;

    let started = Instant::now();
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Away));
    assert_eq!(close_code(&mut echo).await, Some(CloseCode::Away));
    // SSE: the chunked body ends properly with the last chunk.
    within("sse end", async { while !sse.chunk().await.is_empty() {} }).await;
    // Long poll: answered, 200 [].
    let resp = within("parked poll", parked).await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), "[]");
    // TCP: EOF after whole lines.
    let mut rest = Vec::new();
    within("tcp eof", tcp.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty() || rest.ends_with(b"\n"));
    within("shutdown completes", stopping)
        .await
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // Nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_websockets_1001_and_the_binary_exits_0() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rtlab-server"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--tcp-addr",
            "127.0.0.1:0",
            "--rate",
            "20",
        ])
        .args(["--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start rtlab-server");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within("listening line", stdout.next_line())
        .await
        .unwrap()
        .unwrap();
    let (http, tcp) = parse_listening(&line);
    let mut stderr = child.stderr.take().unwrap();
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    let mut ws = ws_connect(http, "/ws").await;
    let (event, _) = ws_event(&mut ws).await;
    assert!(event.seq >= 1);
    let tcp_conn = TcpStream::connect(tcp).await.unwrap();

    let started = Instant::now();
    let pid = Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
    kill(pid, Signal::SIGTERM).unwrap();
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Away));
    let status = within("exit", child.wait()).await.unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let stderr = within("stderr", stderr_task).await.unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    drop(tcp_conn);
    // Nothing more on stdout than the one line.
    assert_eq!(
        within("stdout end", stdout.next_line()).await.unwrap(),
        None
    );
}
