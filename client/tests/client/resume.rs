//! Reconnect and resume against the real server: connections cut under the subscribers while
//! the server (and its history) lives on, and a server killed and restarted on the same port
//! (a new feed, another epoch).
//!
//! The cuts go through [`CuttingRelay`], a TCP relay written here that forwards every
//! connection to the server and can drop all of them at once, as a proxy or a network that
//! loses its connections would: the subscribers see their streams end or reset, reconnect
//! through the relay, and resume by seq from the server's history.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rstest::rstest;
use rstest_reuse::apply;
use rtlab_client::{RunConfig, RunReport};
use rtlab_wire::Transport;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::common::{RATE, resuming_transports, server};
use crate::schema::check_json;

/// A TCP relay to one server whose live connections can all be cut at once.
struct CuttingRelay {
    addr: SocketAddr,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl CuttingRelay {
    /// Relays 127.0.0.1:(free port) to `upstream`.
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let live = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                live.lock().unwrap().push(relay);
            }
        });
        Self {
            addr,
            connections,
            accept,
        }
    }

    /// Drops every connection relayed so far (both its sockets close); returns how many.
    fn cut(&self) -> usize {
        let cut: Vec<JoinHandle<()>> = std::mem::take(&mut *self.connections.lock().unwrap());
        let live = cut.iter().filter(|c| !c.is_finished()).count();
        for c in cut {
            c.abort();
        }
        live
    }
}

impl Drop for CuttingRelay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// `clients` subscribers of `transport` through `relay` for a 3 s window, `/stats` straight
/// from the server; every connection is cut twice in the window. Returns the report and the
/// connections cut each time.
async fn run_with_cuts(
    transport: Transport,
    relay: &CuttingRelay,
    control: SocketAddr,
) -> (RunReport, Vec<usize>) {
    let scheme = if transport == Transport::Tcp {
        "tcp"
    } else {
        "http"
    };
    let config = RunConfig {
        control_url: Some(format!("http://{control}")),
        clients: 5,
        duration: Duration::from_secs(3),
        warmup: Duration::from_millis(300),
        connect_rate: 1_000.0,
        ..RunConfig::new(transport, format!("{scheme}://{}", relay.addr))
    };
    let run = tokio::spawn(rtlab_client::run(config));
    let mut cuts = Vec::new();
    for at in [Duration::from_millis(1_000), Duration::from_millis(1_000)] {
        tokio::time::sleep(at).await;
        cuts.push(relay.cut());
    }
    let report = run.await.unwrap().expect("the run rides over the cuts");
    (report, cuts)
}

#[apply(resuming_transports)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_connections_reconnect_and_resume_with_nothing_lost(transport: Transport) {
    let server = server(RATE).await;
    let relay = CuttingRelay::start(server.http_addr()).await;
    let (report, cuts) = run_with_cuts(transport, &relay, server.http_addr()).await;
    server.shutdown().await.ok();
    assert!(cuts.iter().all(|&n| n > 0), "{transport}: cut {cuts:?}");
    assert_eq!(report.completed, 5, "{transport}: {:?}", report.errors);
    let resume = report.resume.as_ref().expect("reconnecting is the default");
    // Resumed after the last seq seen: the server's history filled every outage.
    assert_eq!(
        (report.lost, resume.lost_across_reconnects),
        (0, 0),
        "{transport}: {resume:?}"
    );
    assert_eq!(
        (report.duplicates, resume.duplicates_across_reconnects),
        (0, 0),
        "{transport}: {resume:?}"
    );
    assert_eq!(report.out_of_order, 0, "{transport}");
    assert_eq!(resume.gave_up, 0, "{transport}: {resume:?}");
    assert_eq!(
        resume.feed_restarts, 0,
        "{transport}: the same server all along"
    );
    assert_eq!(
        report.undelivered,
        Some(0),
        "{transport}: every event of the window reached every subscriber"
    );
    // A stream sees each cut as a drop. A poll sees it only with a request in flight (a long
    // poll nearly always; a short poll rarely); between two requests it finds its connection
    // closed and opens another, as after a keep-alive close. Either way, it re-opened.
    match transport {
        Transport::Ws | Transport::Sse => {
            assert!(resume.drops >= 10, "{transport}: two cuts of 5: {resume:?}");
        }
        _ => assert!(
            report.reconnects + resume.drops >= 10,
            "{transport}: {} re-opened, {resume:?}",
            report.reconnects
        ),
    }
    if transport == Transport::LongPoll {
        assert!(resume.drops > 0, "{transport}: {resume:?}");
    }
    assert_eq!(
        resume.count, resume.drops,
        "{transport}: every drop came back"
    );
    assert_eq!(resume.time_to_reconnect_us.count, resume.count);
    assert!(
        resume.time_to_reconnect_us.max < 2_000_000.0,
        "{transport}: {resume:?}"
    );
    check_json(&serde_json::to_value(&report).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tcp_floor_reconnects_without_resuming_and_counts_the_gap_as_lost() {
    let server = server(RATE).await;
    let relay = CuttingRelay::start(server.tcp_addr()).await;
    let (report, cuts) = run_with_cuts(Transport::Tcp, &relay, server.http_addr()).await;
    server.shutdown().await.ok();
    assert!(cuts.iter().all(|&n| n > 0), "cut {cuts:?}");
    assert_eq!(report.completed, 5, "{:?}", report.errors);
    let resume = report.resume.as_ref().unwrap();
    assert!(resume.drops >= 10, "{resume:?}");
    assert_eq!(resume.gave_up, 0, "{resume:?}");
    // Events published while it was away are gone: lost, all of them across the reconnects.
    assert!(resume.lost_across_reconnects > 0, "{resume:?}");
    assert_eq!(report.lost, resume.lost_across_reconnects, "{resume:?}");
}

#[apply(resuming_transports)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reconnecting_a_cut_loses_the_subscribers(transport: Transport) {
    let server = server(RATE).await;
    let relay = CuttingRelay::start(server.http_addr()).await;
    let config = RunConfig {
        control_url: Some(format!("http://{}", server.http_addr())),
        clients: 3,
        duration: Duration::from_secs(2),
        warmup: Duration::from_millis(200),
        ..crate::common::without_reconnecting(RunConfig::new(
            transport,
            format!("http://{}", relay.addr),
        ))
    };
    let run = tokio::spawn(rtlab_client::run(config));
    tokio::time::sleep(Duration::from_millis(900)).await;
    relay.cut();
    let result = run.await.unwrap();
    server.shutdown().await.ok();
    match transport {
        // A poll opens another connection as after a keep-alive close, whatever the flag.
        Transport::ShortPoll | Transport::LongPoll => {
            let report = result.expect("polls re-open their connection");
            assert!(report.resume.is_none(), "{transport}");
        }
        _ => {
            let Err(rtlab_client::RunError::AllDisconnected {
                partial: Some(report),
                ..
            }) = result
            else {
                panic!("{transport}: {result:?}");
            };
            assert!(report.resume.is_none(), "{transport}");
            assert_eq!(report.disconnects, 3, "{transport}");
        }
    }
}
