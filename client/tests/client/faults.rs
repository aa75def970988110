//! Servers that misbehave, written here in a few lines: one that skips, repeats and reorders
//! seqs, one that speaks no JSON, one that hangs up. The client must report each as data (loss,
//! disconnects) or as a one-line run error, never panic.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rstest::rstest;
use rstest_reuse::apply;
use rtlab_client::{RunConfig, RunError};
use rtlab_wire::{Event, Transport, now_unix_nanos};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::common::{assert_framing_exact, every_transport, http_streams, without_reconnecting};

/// What a fake server writes on connection number `n`, given the event seqs to send.
#[derive(Clone, Copy)]
enum Script {
    /// The events of `seqs` as TCP lines, 10 ms apart, then keep the connection open.
    Lines(&'static [u64]),
    /// The events as SSE blocks in a chunked HTTP response.
    Sse(&'static [u64]),
    /// A line that is not JSON.
    Garbage,
    /// Three events then close (connection 0 only when `only_first`).
    HangUp { only_first: bool },
    /// 64 KiB events, each written in two parts 60 ms apart, back to back: at any moment an
    /// event is most likely half read (no `/stats`: a 404). SSE (chunked) or long-poll answers (one event each).
    Dribble(Transport),
}

/// A 64 KiB event, as `Script::Dribble` sends it.
fn big_event_json(seq: u64) -> Vec<u8> {
    Event {
        seq,
        ts: now_unix_nanos(),
        data: "x".repeat(65_536),
    }
    .to_json()
    .to_vec()
}

/// Writes the bytes of event `seq` in two parts with a pause between them. The split point
/// moves from event to event (1/99 to 97/99 of the bytes), so that the bytes a boundary cuts
/// off at the window's start and at its end differ and do not cancel out.
async fn dribble(sock: &mut tokio::net::TcpStream, seq: u64, bytes: &[u8]) -> std::io::Result<()> {
    let part = (seq * 37 % 97 + 1) as usize;
    let (a, b) = bytes.split_at(bytes.len() * part / 99);
    sock.write_all(a).await?;
    // Longer than the client waits for an idle moment before forcing a boundary (50 ms).
    tokio::time::sleep(Duration::from_millis(60)).await;
    sock.write_all(b).await
}

/// Reads one request head; `false` when the client has gone, or asked for `/stats` (answered
/// 404: this fake has none).
async fn read_request(sock: &mut tokio::net::TcpStream) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::io::AsyncReadExt::read(sock, &mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    if head.starts_with(b"GET /stats") {
        let _ = sock
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            .await;
        return false;
    }
    true
}

fn event_json(seq: u64) -> Vec<u8> {
    Event {
        seq,
        ts: now_unix_nanos(),
        data: "x".repeat(16),
    }
    .to_json()
    .to_vec()
}

async fn fake_server(script: Script) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                match script {
                    Script::Lines(seqs) => {
                        for &seq in seqs {
                            let mut line = event_json(seq);
                            line.push(b'\n');
                            if sock.write_all(&line).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Script::Sse(seqs) => {
                        // Read (and ignore) the request head, then stream.
                        let mut buf = [0u8; 2048];
                        let n = tokio::io::AsyncReadExt::read(&mut sock, &mut buf)
                            .await
                            .unwrap_or(0);
                        if !buf[..n].starts_with(b"GET /sse") {
                            // No /stats here: the client falls back to the seq range.
                            let _ = sock
                                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                                .await;
                            return;
                        }
                        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                                    transfer-encoding: chunked\r\n\r\n";
                        if sock.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        for &seq in seqs {
                            let block = rtlab_wire::framing::sse_frame(seq, &event_json(seq));
                            let mut chunk = format!("{:x}\r\n", block.len()).into_bytes();
                            chunk.extend_from_slice(&block);
                            chunk.extend_from_slice(b"\r\n");
                            if sock.write_all(&chunk).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Script::Dribble(Transport::Sse) => {
                        if !read_request(&mut sock).await {
                            return;
                        }
                        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                                    transfer-encoding: chunked\r\n\r\n";
                        if sock.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        for seq in 1.. {
                            let block = rtlab_wire::framing::sse_frame(seq, &big_event_json(seq));
                            let mut chunk = format!("{:x}\r\n", block.len()).into_bytes();
                            chunk.extend_from_slice(&block);
                            chunk.extend_from_slice(b"\r\n");
                            if dribble(&mut sock, seq, &chunk).await.is_err() {
                                return;
                            }
                        }
                    }
                    Script::Dribble(Transport::Ws) => {
                        let Ok(mut ws) = tokio_tungstenite::accept_async(sock).await else {
                            return;
                        };
                        // After the upgrade, write raw frames straight to the socket.
                        let sock = ws.get_mut();
                        for seq in 1.. {
                            let json = big_event_json(seq);
                            let mut frame = vec![0x81, 127];
                            frame.extend_from_slice(&(json.len() as u64).to_be_bytes());
                            frame.extend_from_slice(&json);
                            if dribble(sock, seq, &frame).await.is_err() {
                                return;
                            }
                        }
                    }
                    Script::Dribble(_) => {
                        // Long polls: every request is answered with the next event.
                        for seq in 1.. {
                            if !read_request(&mut sock).await {
                                return;
                            }
                            let body = rtlab_wire::framing::json_array([&big_event_json(seq)[..]]);
                            let mut answer = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                 content-length: {}\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            answer.extend_from_slice(&body);
                            if dribble(&mut sock, seq, &answer).await.is_err() {
                                return;
                            }
                        }
                    }
                    Script::Garbage => {
                        let _ = sock.write_all(b"hello, I am not an rtlab server\n").await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Script::HangUp { only_first } => {
                        let seqs: &[u64] = if only_first && n > 0 { &[] } else { &[1, 2, 3] };
                        for &seq in seqs {
                            let mut line = event_json(seq);
                            line.push(b'\n');
                            let _ = sock.write_all(&line).await;
                        }
                        if only_first && n > 0 {
                            for seq in 1..200 {
                                let mut line = event_json(seq);
                                line.push(b'\n');
                                if sock.write_all(&line).await.is_err() {
                                    return;
                                }
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                        }
                        // Dropping the socket closes it.
                    }
                }
            });
        }
    });
    addr.to_string()
}

fn tcp_run(addr: &str, clients: u64) -> RunConfig {
    RunConfig {
        clients,
        duration: Duration::from_millis(700),
        warmup: Duration::ZERO,
        connect_rate: 1_000_000.0,
        ..RunConfig::new(Transport::Tcp, format!("tcp://{addr}"))
    }
}

const SKIPS_REPEATS_REORDERS: &[u64] = &[1, 2, 4, 3, 5, 5, 6, 8, 9, 10, 11, 12];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_seq_is_lost_a_repeat_is_a_duplicate_a_late_one_out_of_order() {
    let addr = fake_server(Script::Lines(SKIPS_REPEATS_REORDERS)).await;
    let report = rtlab_client::run(tcp_run(&addr, 2)).await.unwrap();
    // Per subscriber: 7 is lost, 5 repeated, 3 late (and not lost after all).
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (2, 2, 2)
    );
    let human = rtlab_client::printer::human(&report);
    assert!(human.starts_with("!!! LOSS: 2 lost"), "{human}");
    // No /stats for tcp without --control-url: the seq range stands in.
    assert_eq!(report.server_events_published, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_loss_is_detected_too() {
    let addr = fake_server(Script::Sse(&[1, 2, 3, 5, 6, 7])).await;
    let config = RunConfig {
        clients: 2,
        duration: Duration::from_millis(500),
        warmup: Duration::ZERO,
        connect_rate: 1_000_000.0,
        ..RunConfig::new(Transport::Sse, format!("http://{addr}"))
    };
    let report = rtlab_client::run(config).await.unwrap();
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (2, 0, 0)
    );
    // The fake writes the first event right behind the response head, so hyper usually reads
    // both at once: that event then counts as set-up (with its bytes), the other five per
    // subscriber in the window.
    assert!(
        (10..=12).contains(&report.events_received),
        "{}",
        report.events_received
    );
    // No /stats on the fake: the seq range seen in the window (2..=7 or 1..=7) stands in.
    assert!((6..=7).contains(&report.server_events_published));
    // The fake frames like the real server: measured framing is the analytic one.
    assert_framing_exact(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_speaks_no_json_is_a_protocol_error() {
    let addr = fake_server(Script::Garbage).await;
    let err = rtlab_client::run(tcp_run(&addr, 3)).await.unwrap_err();
    assert!(matches!(err, RunError::Protocol { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("does not speak the rtlab contract")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_hanging_up_on_everybody_fails_the_run() {
    let addr = fake_server(Script::HangUp { only_first: false }).await;
    let err = rtlab_client::run(without_reconnecting(tcp_run(&addr, 3)))
        .await
        .unwrap_err();
    let RunError::AllDisconnected {
        partial: Some(report),
        ..
    } = &err
    else {
        panic!("{err}");
    };
    // What was measured until then comes with the error.
    assert_eq!((report.connected, report.disconnects), (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_disconnect_is_counted_not_fatal() {
    let addr = fake_server(Script::HangUp { only_first: true }).await;
    let report = rtlab_client::run(without_reconnecting(tcp_run(&addr, 3)))
        .await
        .unwrap();
    assert_eq!(
        (report.connected, report.completed, report.disconnects),
        (3, 2, 1)
    );
    assert_eq!(report.errors.get("disconnected"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_listening_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    for transport in Transport::ALL {
        let url = match transport {
            Transport::Tcp => format!("tcp://{addr}"),
            _ => format!("http://{addr}"),
        };
        let config = RunConfig {
            clients: 2,
            duration: Duration::from_millis(300),
            warmup: Duration::ZERO,
            ..RunConfig::new(transport, url)
        };
        let err = rtlab_client::run(config).await.unwrap_err();
        assert!(
            matches!(err, RunError::Connect { .. }),
            "{transport}: {err}"
        );
        assert!(err.to_string().contains("refused"), "{err}");
    }
}

#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_server_stopping_mid_run_fails_the_run(transport: Transport) {
    let server = crate::common::server(crate::common::RATE).await;
    let config = RunConfig {
        clients: 5,
        ..without_reconnecting(crate::common::short_run(&server, transport))
    };
    let run = tokio::spawn(rtlab_client::run(config));
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.shutdown().await.ok();
    let err = run.await.unwrap().unwrap_err();
    assert!(
        matches!(err, RunError::AllDisconnected { .. }),
        "{transport}: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_websocket_subscribers_are_reported_as_lagging() {
    // A queue of 2 events against bursts of several: the server drops subscribers as lagging.
    let server = rtlab_server::spawn(rtlab_server::Config {
        rate: 5_000.0,
        subscriber_queue: 2,
        workers: 1,
        ..rtlab_server::Config::ephemeral()
    })
    .await
    .unwrap();
    // Without reconnecting: a subscriber closed as lagging is lost, and counted so.
    let config = RunConfig {
        clients: 5,
        ..without_reconnecting(crate::common::short_run(&server, Transport::Ws))
    };
    let report = match rtlab_client::run(config).await {
        Ok(report) => report,
        Err(RunError::AllDisconnected {
            partial: Some(report),
            ..
        }) => *report,
        Err(e) => panic!("{e}"),
    };
    server.shutdown().await.ok();
    assert!(report.lagging_disconnects > 0, "{report:?}");
    assert!(rtlab_client::printer::human(&report).starts_with("!!! LOSS"));
    assert_eq!(
        report.errors.get("lagging"),
        None,
        "lagging is not an error kind"
    );
}

/// A run against `Script::Dribble(transport)` whose window boundaries fall, most likely, in
/// the middle of a 64 KiB event.
async fn dribbled_run(transport: Transport) -> rtlab_client::RunReport {
    let addr = fake_server(Script::Dribble(transport)).await;
    let config = RunConfig {
        clients: 4,
        duration: Duration::from_millis(700),
        warmup: Duration::from_millis(100),
        connect_rate: 1_000_000.0,
        ..RunConfig::new(transport, format!("http://{addr}"))
    };
    rtlab_client::run(config).await.unwrap()
}

#[apply(http_streams)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_is_exact_when_boundaries_fall_inside_a_64_kib_event(transport: Transport) {
    let report = dribbled_run(transport).await;
    let w = &report.wire;
    assert!(report.events_received >= 10, "{w:?}");
    // Bytes read but not yet an event move across the boundary with their event.
    assert_framing_exact(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_answers_are_not_split_by_a_boundary() {
    let report = dribbled_run(Transport::LongPoll).await;
    let w = &report.wire;
    assert!(report.requests >= 10, "{w:?}");
    // Each answer is one event: its head and the array's two brackets are the framing, exactly.
    let heads = w.response_head_bytes_per_request.unwrap() * report.requests as f64;
    assert_eq!(
        w.overhead_bytes as f64,
        heads + 2.0 * report.requests as f64,
        "{w:?}"
    );
    assert_eq!(report.requests, report.events_received, "{w:?}");
}
