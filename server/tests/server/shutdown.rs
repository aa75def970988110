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

/// Every `"seq":N` in `bytes`, in order (TCP lines and SSE blocks alike).
fn seqs_in(bytes: &[u8]) -> Vec<u64> {
    let text = String::from_utf8_lossy(bytes);
    text.split("{\"seq\":")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_delivers_every_event_queued_for_a_stream_before_ending_it() {
    // 8 KiB events at 2 000/s, and subscribers that read nothing for a second: their sockets
    // fill, and the rest waits in their queues (deep enough not to cut them). At shutdown the
    // server must write those queued events, published before the signal, before it ends the
    // streams.
    let server = start(|c| {
        c.rate = 2_000.0;
        c.payload_bytes = 8_192;
        c.subscriber_queue = 100_000;
    })
    .await;
    let mut tcp = TcpStream::connect(server.tcp_addr()).await.unwrap();
    let mut sse = TcpStream::connect(server.http_addr()).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut sse,
        b"GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let head = server.hub().head();
    let stopping = tokio::spawn(server.shutdown());
    let (mut tcp_bytes, mut sse_bytes) = (Vec::new(), Vec::new());
    let (a, b) = tokio::join!(
        within("tcp eof", tcp.read_to_end(&mut tcp_bytes)),
        within("sse end", sse.read_to_end(&mut sse_bytes)),
    );
    a.unwrap();
    b.unwrap();
    within("shutdown completes", stopping)
        .await
        .unwrap()
        .unwrap();
    for (name, bytes) in [("tcp", &tcp_bytes), ("sse", &sse_bytes)] {
        let seqs = seqs_in(bytes);
        let last = seqs.last().copied().unwrap_or(0);
        assert!(
            last >= head,
            "{name}: the last event received is {last}, but {head} was published before the signal"
        );
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "{name}: a gap in {} events",
            seqs.len()
        );
    }
}
