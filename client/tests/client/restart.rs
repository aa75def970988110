//! A server killed (SIGKILL) and restarted on the same port mid-run: the feed starts over.
//!
//! The real `rtlab-server` binary runs as a child process, so that it can die the way servers
//! do, with no close frame and no goodbye, and come back on the same port with an empty history
//! and a new feed epoch (`Rtlab-Epoch`, see the client's `feed_epoch.rs`). The subscribers must
//! ride over it: reconnect, see the new epoch, count one feed restart each, and count no loss,
//! duplicate or reordering for the jump from the old feed's seqs back to the new feed's.
//!
//! The test against the real server needs it to send `Rtlab-Epoch` (contract version 2):
//! against a server without it, the restart is invisible and the new feed's low seqs count as
//! duplicates. Until then the client's side is proven against [`restarting_feed`], a fake SSE
//! server written here that restarts its feed (with or without the header).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rstest::rstest;
use rstest_reuse::apply;
use rtlab_client::RunConfig;
use rtlab_wire::Transport;
use rtlab_wire::{Event, now_unix_nanos};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use crate::common::resuming_transports;

/// The `rtlab-server` binary beside this test binary, built first (a no-op when it is fresh):
/// the client's tests depend on the server's library, which does not build its binary.
fn server_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // …/target/<profile>/deps/client-<hash>
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>");
        let target_dir = profile_dir.parent().expect("target");
        let mut build = std::process::Command::new(env!("CARGO"));
        build
            .args(["build", "--quiet", "-p", "rtlab-server", "--target-dir"])
            .arg(target_dir);
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p rtlab-server failed");
        profile_dir.join("rtlab-server")
    })
}

/// A free port on 127.0.0.1 (bound, then released for the server to take).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts `rtlab-server` on `addr` at 100 events/s and waits until it answers `/stats`.
async fn start_server(addr: SocketAddr) -> Child {
    let child = Command::new(server_binary())
        .args(["--addr", &addr.to_string(), "--tcp-addr", "127.0.0.1:0"])
        .args(["--rate", "100", "--workers", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("rtlab-server starts");
    let stats = format!("http://{addr}/stats");
    for _ in 0..200 {
        if reqwest::get(&stats)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("rtlab-server on {addr} did not answer within 5 s");
}

#[apply(resuming_transports)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_restarted_server_is_a_feed_restart_not_loss(transport: Transport) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut first = start_server(addr).await;
    let config = RunConfig {
        clients: 5,
        duration: Duration::from_secs(3),
        warmup: Duration::from_millis(300),
        connect_rate: 1_000.0,
        ..RunConfig::new(transport, format!("http://{addr}"))
    };
    let run = tokio::spawn(rtlab_client::run(config));
    // Well into the window (the old feed is past seq 100), then SIGKILL: no close, no history.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    first.start_kill().expect("SIGKILL");
    first.wait().await.expect("the server is dead");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = start_server(addr).await;
    let report = run.await.unwrap();
    second.start_kill().ok();
    second.wait().await.ok();
    let report = report.expect("the run rides over the restart");
    assert_eq!(report.completed, 5, "{transport}: {:?}", report.errors);
    let resume = report.resume.as_ref().expect("reconnecting is the default");
    assert_eq!(
        (resume.feed_restarts, resume.gave_up),
        (5, 0),
        "{transport}: each subscriber saw the new epoch once: {resume:?}"
    );
    assert_eq!(
        resume.count, 5,
        "{transport}: one outage each, ended: {resume:?}"
    );
    // The new feed starts again at seq 1: no bogus loss, duplicates or reordering.
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (0, 0, 0),
        "{transport}: {resume:?}"
    );
    assert!(report.events_received > 0, "{transport}");
}

/// What [`restarting_feed`] saw: the `Last-Event-ID` of each request to the restarted feed.
type Resumes = Arc<Mutex<Vec<Option<String>>>>;

/// A fake SSE server whose feed restarts `restart_after` after it starts: connections opened
/// before then stream seqs 1, 2, … (10 ms apart) under epoch 1 and are closed at the restart;
/// connections opened after stream a new feed from seq 1, under epoch 2, whatever
/// `Last-Event-ID` they ask for (its history is gone). `with_epoch: false` sends no
/// `Rtlab-Epoch` at all. `/stats` is a 404.
async fn restarting_feed(restart_after: Duration, with_epoch: bool) -> (String, Resumes) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let restart_at = Instant::now() + restart_after;
    let resumes: Resumes = Arc::default();
    let seen = resumes.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 2048];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                if !head.starts_with("get /sse") {
                    let _ = sock
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let restarted = Instant::now() >= restart_at;
                let epoch = if restarted { 2 } else { 1 };
                if restarted {
                    let asked = head
                        .lines()
                        .find_map(|l| l.strip_prefix("last-event-id:"))
                        .map(|v| v.trim().to_owned());
                    seen.lock().unwrap().push(asked);
                }
                let epoch_header = if with_epoch {
                    format!("rtlab-epoch: {epoch}\r\n")
                } else {
                    String::new()
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                     transfer-encoding: chunked\r\n{epoch_header}\r\n"
                );
                if sock.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
                for seq in 1.. {
                    if !restarted && Instant::now() >= restart_at {
                        return; // killed: the connection just ends
                    }
                    let json = Event {
                        seq,
                        ts: now_unix_nanos(),
                        data: "x".into(),
                    }
                    .to_json();
                    let block = rtlab_wire::framing::sse_frame(seq, &json);
                    let mut chunk = format!("{:x}\r\n", block.len()).into_bytes();
                    chunk.extend_from_slice(&block);
                    chunk.extend_from_slice(b"\r\n");
                    if sock.write_all(&chunk).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            });
        }
    });
    (format!("http://{addr}"), resumes)
}

/// 3 sse subscribers against [`restarting_feed`], restarting 500 ms in, for 1.2 s.
async fn run_over_a_restart(with_epoch: bool) -> (rtlab_client::RunReport, Vec<Option<String>>) {
    let (url, resumes) = restarting_feed(Duration::from_millis(500), with_epoch).await;
    let config = RunConfig {
        clients: 3,
        duration: Duration::from_millis(1_200),
        warmup: Duration::ZERO,
        connect_rate: 1_000.0,
        ..RunConfig::new(Transport::Sse, url)
    };
    let report = rtlab_client::run(config)
        .await
        .expect("the run rides over the restart");
    let resumes = resumes.lock().unwrap().clone();
    (report, resumes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_epoch_restarts_the_seq_tracking_and_resubscribes_live() {
    let (report, resumes) = run_over_a_restart(true).await;
    let resume = report.resume.as_ref().unwrap();
    assert_eq!(report.completed, 3, "{:?}", report.errors);
    assert_eq!(
        (resume.drops, resume.count, resume.feed_restarts),
        (3, 3, 3),
        "{resume:?}"
    );
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (0, 0, 0),
        "the jump back to seq 1 is a restart, not loss or reordering: {resume:?}"
    );
    // Each subscriber first asked to resume after its old seq, saw epoch 2, and asked again
    // without Last-Event-ID: live on the new feed.
    let live = resumes.iter().filter(|r| r.is_none()).count();
    let resumed = resumes.iter().filter(|r| r.is_some()).count();
    assert_eq!((resumed, live), (3, 3), "{resumes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_epoch_a_restart_cannot_be_told_and_is_never_an_error() {
    let (report, resumes) = run_over_a_restart(false).await;
    let resume = report.resume.as_ref().unwrap();
    assert_eq!(report.completed, 3, "{:?}", report.errors);
    assert_eq!(resume.feed_restarts, 0, "{resume:?}");
    assert_eq!(resume.count, 3, "{resume:?}");
    // The new feed's seqs look like a replay of the old one's: counted as such.
    assert!(resume.duplicates_across_reconnects > 0, "{resume:?}");
    assert!(report.duplicates >= resume.duplicates_across_reconnects);
    assert!(
        resumes.iter().all(Option::is_some),
        "it kept resuming: {resumes:?}"
    );
}
