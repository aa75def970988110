//! Upstream: subscribers publish on an open-model schedule and time the round trip.

use rstest::rstest;
use rstest_reuse::apply;
use rtlab_wire::Transport;
use rtlab_wire::framing::ws_header_len;

use rtlab_client::{RunConfig, RunReport};

use crate::common::{assert_framing_exact, every_transport, run_then_shut_down, server, short_run};

/// 20 clients of `transport` publishing 10/s each for 1 s, against a server ticking at 10/s.
async fn publishing_run(transport: Transport) -> RunReport {
    let server = server(10.0).await;
    let config = RunConfig {
        publish_rate: Some(10.0),
        ..short_run(&server, transport)
    };
    run_then_shut_down(server, config).await
}

/// The publish section says `via`, and about as many publishes were sent (20 clients × 10/s ×
/// 1 s) as echoed, no echo counted twice; returns the human summary for further messages.
fn assert_published_via(report: &RunReport, via: &str) -> String {
    let summary = rtlab_client::printer::human(report);
    let p = report.publish.as_ref().expect("a publish section");
    assert_eq!(p.via, via);
    assert!((180..=220).contains(&p.sent), "{summary}");
    assert!(p.echoed.abs_diff(p.sent) <= 20, "{summary}");
    // Only echoes of publishes sent in the window count, each once.
    assert!(p.echoed <= p.sent, "{summary}");
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_publishes_over_its_own_socket_and_times_the_round_trip() {
    let report = publishing_run(Transport::Ws).await;
    let summary = assert_published_via(&report, "ws-frame");
    let p = report.publish.as_ref().expect("a publish section");
    assert_eq!(p.round_trip_us.count, p.echoed);
    assert!(p.round_trip_us.p50 > 0.0);
    // A masked client frame: the text (~40 bytes) plus a 6-byte header, nothing else.
    let text_len = p.bytes_up_per_publish - ws_header_len(40, true) as f64;
    assert!((30.0..60.0).contains(&text_len), "{summary}");
    assert_eq!(report.lost, 0, "{summary}");
    // The published events reach everybody: more events than the ticker alone sends.
    assert!(report.server_events_published > 150, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_publishes_with_post_and_pays_a_request_each() {
    let report = publishing_run(Transport::Sse).await;
    let summary = assert_published_via(&report, "http-post");
    let p = report.publish.as_ref().expect("a publish section");
    assert!(p.bytes_up_per_publish > 100.0, "{summary}");
    assert_eq!(report.requests, p.sent);
    // Exactness holds with publishes in the feed too.
    assert_framing_exact(&report);
}

#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_alone_feed_every_transport(transport: Transport) {
    // No ticker: every event is a subscriber's publish. Nothing may wait for an event before
    // the publishers start (a long poll's first request does).
    let server = server(0.0).await;
    let config = RunConfig {
        clients: 5,
        publish_rate: Some(20.0),
        poll_interval: std::time::Duration::from_millis(20),
        ..short_run(&server, transport)
    };
    let report = run_then_shut_down(server, config).await;
    let summary = rtlab_client::printer::human(&report);
    let p = report.publish.as_ref().unwrap();
    assert!((90..=110).contains(&p.sent), "{summary}");
    assert!(p.echoed.abs_diff(p.sent) <= 10, "{summary}");
    assert!(p.echoed <= p.sent, "{summary}");
    assert_eq!(p.round_trip_us.count, p.echoed, "{summary}");
    // Exact delivery by seq, with every event a publish.
    assert_eq!(report.undelivered, Some(0), "{summary}");
    assert_eq!(report.delivery_ratio, 1.0, "{summary}");
    assert_eq!((report.lost, report.duplicates), (0, 0), "{summary}");
    // Everybody receives everybody's publishes.
    assert!(report.events_received >= 4 * p.sent, "{summary}");
}
