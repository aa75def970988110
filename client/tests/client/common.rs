//! Shared helpers: the real server on free ports, a short run's configuration, the real
//! `rtlab-client` binary, and the transport lists a behaviour test runs over.
//!
//! The lists are rstest templates (`rstest_reuse`): a test says `#[apply(every_transport)]` and
//! takes `transport: Transport`, and runs once per transport as its own named case
//! (`…::case_1_ws`, …). One list per set of transports, so a transport added to the lab is
//! added to every test of its set in one place.

use std::process::Output;
use std::time::Duration;

use rstest_reuse::template;
use rtlab_client::{RunConfig, RunReport};
use rtlab_server::{Config, RunningServer};
use rtlab_wire::Transport;

/// Every transport the lab compares: a behaviour that all of them share.
#[template]
#[rstest]
#[case::ws(Transport::Ws)]
#[case::sse(Transport::Sse)]
#[case::long_poll(Transport::LongPoll)]
#[case::short_poll(Transport::ShortPoll)]
#[case::tcp(Transport::Tcp)]
pub fn every_transport(#[case] transport: Transport) {}

/// The streaming transports (`Transport::is_streaming`): one long-lived connection whose
/// framing per event is fixed, so measured framing can be compared with the analytic one.
#[template]
#[rstest]
#[case::ws(Transport::Ws)]
#[case::sse(Transport::Sse)]
#[case::tcp(Transport::Tcp)]
pub fn streaming_transports(#[case] transport: Transport) {}

/// The streams over HTTP: they have keep-alive traffic (pings, heartbeats) and variable-size
/// frame headers, which raw TCP has neither of.
#[template]
#[rstest]
#[case::ws(Transport::Ws)]
#[case::sse(Transport::Sse)]
pub fn http_streams(#[case] transport: Transport) {}

/// The transports that resume by seq after a drop (`?after=N`, `Last-Event-ID`); the raw-TCP
/// floor cannot.
#[template]
#[rstest]
#[case::ws(Transport::Ws)]
#[case::sse(Transport::Sse)]
#[case::long_poll(Transport::LongPoll)]
#[case::short_poll(Transport::ShortPoll)]
pub fn resuming_transports(#[case] transport: Transport) {}

/// Events per second of the test server's ticker.
pub const RATE: f64 = 100.0;

/// The real server on 127.0.0.1, free ports, `rate` events per second.
pub async fn server(rate: f64) -> RunningServer {
    rtlab_server::spawn(Config {
        rate,
        workers: 1,
        ..Config::ephemeral()
    })
    .await
    .expect("the server starts")
}

/// The server's base URL for `transport`.
pub fn url(server: &RunningServer, transport: Transport) -> String {
    match transport {
        Transport::Tcp => format!("tcp://{}", server.tcp_addr()),
        _ => format!("http://{}", server.http_addr()),
    }
}

/// 20 clients, 1 s measured after 300 ms of warm-up: a run of about 1.4 s.
pub fn short_run(server: &RunningServer, transport: Transport) -> RunConfig {
    RunConfig {
        control_url: Some(format!("http://{}", server.http_addr())),
        clients: 20,
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(300),
        connect_rate: 2_000.0,
        ..RunConfig::new(transport, url(server, transport))
    }
}

/// `config` as before reconnecting existed (`--no-reconnect`): a dropped subscriber is lost at
/// once. For the tests of how drops and early ends are reported as such.
pub fn without_reconnecting(config: RunConfig) -> RunConfig {
    RunConfig {
        reconnect_give_up: None,
        ..config
    }
}

/// Runs `config` (which must succeed) against `server`, then shuts the server down.
pub async fn run_then_shut_down(server: RunningServer, config: RunConfig) -> RunReport {
    let report = rtlab_client::run(config).await.expect("the run succeeds");
    server.shutdown().await.ok();
    report
}

/// A [`short_run`] of `transport` against a fresh server at [`RATE`], which is shut down after.
pub async fn short_run_on_fresh_server(transport: Transport) -> RunReport {
    let server = server(RATE).await;
    let config = short_run(&server, transport);
    run_then_shut_down(server, config).await
}

/// Asserts that the framing the client measured on the wire is, to the byte, the framing the
/// contract's arithmetic predicts for the events it received.
pub fn assert_framing_exact(report: &RunReport) {
    let w = &report.wire;
    assert_eq!(
        Some(w.overhead_bytes),
        w.analytic_overhead_bytes,
        "measured vs analytic framing, {} events: {w:?}",
        report.events_received
    );
}

/// Runs the real `rtlab-client` binary with `args`; it must finish within 20 s.
pub async fn client(args: &[&str]) -> Output {
    tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_rtlab-client"))
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the client finishes")
    .expect("the client starts")
}

/// The binary failed with exit `code` and said so on one line of stderr, containing `needle`.
pub fn assert_one_line_error(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line, got: {stderr}"
    );
    assert!(stderr.starts_with("error"), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
