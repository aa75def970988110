//! Every transport against the real server: consecutive events, no loss, exact byte accounting
//! for the streaming transports, request counts for the polls.

use rstest::rstest;
use rstest_reuse::apply;
use rtlab_wire::Transport;

use crate::common::{
    RATE, assert_framing_exact, every_transport, http_streams, run_then_shut_down, server,
    short_run, short_run_on_fresh_server, streaming_transports,
};

#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_every_event_in_order(transport: Transport) {
    let report = short_run_on_fresh_server(transport).await;
    let summary = rtlab_client::printer::human(&report);

    assert_eq!(report.transport, Some(transport));
    assert_eq!((report.connected, report.completed), (20, 20), "{summary}");
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (0, 0, 0),
        "{summary}"
    );
    assert!(report.errors.is_empty(), "{summary}");
    // 20 subscribers × ~100 events/s × 1 s.
    assert!(
        (1_500..=2_500).contains(&report.events_received),
        "{summary}"
    );
    // Exact by seq: every event published in the window reached every subscriber, the last
    // ones during the drain; nothing is left over and the ratio is exactly 1.
    let (s0, s1) = (
        report.window_seq_start.unwrap(),
        report.window_seq_end.unwrap(),
    );
    assert!(s1 > s0, "{summary}");
    assert_eq!(report.events_in_range, (s1 - s0) * 20, "{summary}");
    assert_eq!(report.undelivered, Some(0), "{summary}");
    assert_eq!(report.delivery_ratio, 1.0, "{summary}");
    // One latency population: each event of the window once per subscriber, drain included
    // (not also the earlier events that happened to arrive in the window).
    assert_eq!(report.latency_us.count, report.events_in_range, "{summary}");
    assert_eq!(report.connect_us.count, 20);
    assert!(report.latency_us.p50 > 0.0 && report.latency_us.p50 < 200_000.0);
    assert!(!report.latency_histogram_b64.is_empty());
    assert!(report.wire.payload_bytes_per_event > 40.0, "{summary}");
}

#[apply(streaming_transports)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measured_framing_equals_the_analytic_framing(transport: Transport) {
    let report = short_run_on_fresh_server(transport).await;
    let w = &report.wire;
    assert!(report.events_received > 0);
    assert_framing_exact(&report);
    assert_eq!(
        w.bytes_down,
        w.payload_bytes + w.overhead_bytes + w.keepalive_bytes_down
    );
    let per_event = w.overhead_bytes_per_event;
    match transport {
        Transport::Ws => assert_eq!(per_event, 2.0, "a <126-byte frame has a 2-byte header"),
        Transport::Tcp => assert_eq!(per_event, 1.0, "the newline"),
        // id:/data: lines (13 + digits) and chunking (hex digits + 4).
        _ => assert!((18.0..=26.0).contains(&per_event), "{per_event}"),
    }
    // Set-up happened and was kept apart: an upgrade or a response head, or nothing for tcp.
    if transport == Transport::Tcp {
        assert_eq!((w.setup_bytes_up, w.setup_bytes_down), (0, 0));
    } else {
        assert!(w.setup_bytes_up > 50 && w.setup_bytes_down > 50, "{w:?}");
    }
}

#[rstest]
#[case::long_poll(Transport::LongPoll)]
#[case::short_poll(Transport::ShortPoll)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_count_requests_and_their_heads(#[case] transport: Transport) {
    let report = short_run_on_fresh_server(transport).await;
    let summary = rtlab_client::printer::human(&report);
    let per_event = report
        .requests_per_event
        .expect("polls report requests per event");
    assert!(report.requests > 0, "{summary}");
    let request_bytes = report.wire.request_bytes_per_request.unwrap();
    let head_bytes = report.wire.response_head_bytes_per_request.unwrap();
    assert!((30.0..300.0).contains(&request_bytes), "{summary}");
    assert!((30.0..400.0).contains(&head_bytes), "{summary}");
    // Every poll pays both heads: framing per event is at least heads × requests per event.
    assert!(report.wire.overhead_bytes_per_event >= (request_bytes.min(head_bytes)) * per_event);
    match transport {
        // One request per answer; at 100 events/s answers carry one event or a few.
        Transport::LongPoll => assert!((0.2..=1.05).contains(&per_event), "{summary}"),
        // 10 polls/s per client against 100 events/s: about 0.1 request per event, none empty.
        _ => {
            assert!((0.05..=0.2).contains(&per_event), "{summary}");
            assert!(report.empty_poll_share.unwrap() < 0.2, "{summary}");
            let polls_expected = 20.0 * 10.0;
            // Ticks are skipped, not bunched, when the machine is busy: fewer, never many more.
            assert!(
                (polls_expected * 0.6..=polls_expected * 1.15).contains(&(report.requests as f64)),
                "{summary}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_polls_against_a_quiet_feed_are_mostly_empty() {
    let server = server(2.0).await;
    let config = rtlab_client::RunConfig {
        clients: 5,
        poll_interval: std::time::Duration::from_millis(50),
        ..short_run(&server, Transport::ShortPoll)
    };
    let report = run_then_shut_down(server, config).await;
    let share = report.empty_poll_share.unwrap();
    assert!(share > 0.7, "{}", rtlab_client::printer::human(&report));
    assert_eq!(report.lost, 0);
}

/// Short polls must not poll in lockstep with the ticker. At 20 events/s (a tick every 50 ms)
/// and a 100 ms interval, a poll collects two events, aged `c` and `c + 50 ms`, where `c` is its
/// offset after a tick. With every subscriber's timer started right after its connect, all of
/// them shared one `c`, and latency fell in two narrow bands (a mean of 28 ms instead of 50);
/// with a random phase each, latency spreads over the whole interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_polls_are_not_in_phase_with_the_ticker() {
    const SEED: u64 = 2024;
    let server = server(20.0).await;
    let config = rtlab_client::RunConfig {
        clients: 20,
        poll_interval: std::time::Duration::from_millis(100),
        seed: Some(SEED),
        ..short_run(&server, Transport::ShortPoll)
    };
    let report = run_then_shut_down(server, config).await;
    let summary = rtlab_client::printer::human(&report);
    assert_eq!(report.seed, Some(SEED), "the seed is recorded");
    assert!(summary.contains("--seed 2024"), "{summary}");
    let h = rtlab_client::histograms::from_base64(&report.latency_histogram_b64).unwrap();
    assert!(h.len() >= 200, "{summary}");
    // Every fifth of the interval holds a fair share of the samples (a fifth when uniform);
    // two narrow bands would leave at least one fifth empty.
    let fifth = 20_000u64;
    let shares: Vec<f64> = (0..5)
        .map(|i| h.count_between(i * fifth, (i + 1) * fifth - 1) as f64 / h.len() as f64)
        .collect();
    assert!(
        shares.iter().all(|s| *s >= 0.08),
        "latency shares per 20 ms of the interval {shares:?}\n{summary}"
    );
}

#[apply(http_streams)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_bytes_are_kept_apart_from_framing(transport: Transport) {
    // A slow feed with frequent pings and heartbeats: keep-alive traffic in the window.
    let server = rtlab_server::spawn(rtlab_server::Config {
        rate: 5.0,
        workers: 1,
        ping_interval: std::time::Duration::from_millis(100),
        heartbeat_interval: std::time::Duration::from_millis(40),
        ..rtlab_server::Config::ephemeral()
    })
    .await
    .unwrap();
    let config = rtlab_client::RunConfig {
        clients: 5,
        ..short_run(&server, transport)
    };
    let report = run_then_shut_down(server, config).await;
    let w = &report.wire;
    assert!(w.keepalive_bytes_down > 0, "{w:?}");
    assert_framing_exact(&report);
    match transport {
        // Counted at the socket: whole pings of the server's 5-byte payload ("rtlab") with a
        // 2-byte header down, whole masked pongs (6-byte header) up.
        Transport::Ws => {
            assert!(w.keepalive_bytes_up > 0, "{w:?}");
            assert_eq!(w.keepalive_bytes_down % 7, 0, "{w:?}");
            assert_eq!(w.keepalive_bytes_up % 11, 0, "{w:?}");
        }
        // `:\n\n` in a chunk of its own: "3\r\n" + 3 + "\r\n" = 8 bytes each.
        _ => assert_eq!(w.keepalive_bytes_down % 8, 0, "{w:?}"),
    }
    assert_eq!(report.completed, 5);
}

/// The yardstick: 100 clients × 100 events/s, consecutive, nothing lost, and for the
/// streaming transports framing to the byte.
#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_clients_at_a_hundred_events_per_second(transport: Transport) {
    let server = server(RATE).await;
    let config = rtlab_client::RunConfig {
        clients: 100,
        ..short_run(&server, transport)
    };
    let report = run_then_shut_down(server, config).await;
    let summary = rtlab_client::printer::human(&report);
    assert_eq!(report.completed, 100, "{summary}");
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (0, 0, 0),
        "{summary}"
    );
    assert_eq!(report.delivery_ratio, 1.0, "{summary}");
    assert_eq!(report.undelivered, Some(0), "{summary}");
    if transport.is_streaming() {
        assert_framing_exact(&report);
    } else {
        assert!(report.requests > 0, "{summary}");
    }
}

#[apply(http_streams)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_stays_exact_at_64_kib_events(transport: Transport) {
    // A 64 KiB event arrives in several reads: a phase boundary that falls between two of them
    // must not split its bytes from the event (the lab once measured 311 B of SSE "framing"
    // per event, and 0 for long polls, at this size).
    let server = big_event_server().await;
    let config = rtlab_client::RunConfig {
        clients: 5,
        ..short_run(&server, transport)
    };
    let report = run_then_shut_down(server, config).await;
    let w = &report.wire;
    assert!(report.events_received >= 50, "{w:?}");
    assert_framing_exact(&report);
    let per_event = w.overhead_bytes_per_event;
    match transport {
        // 65 536 bytes of data make a JSON over 65 535 bytes: the 64-bit length form.
        Transport::Ws => assert_eq!(per_event, 10.0),
        // `id: N\ndata: ` … `\n\n` (13 + 1..2 digits) and a 5-hex-digit chunk size (+4).
        _ => assert!((23.0..=24.0).contains(&per_event), "{per_event}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_heads_are_not_lost_at_64_kib_events() {
    let server = big_event_server().await;
    let config = rtlab_client::RunConfig {
        clients: 5,
        ..short_run(&server, Transport::LongPoll)
    };
    let report = run_then_shut_down(server, config).await;
    let w = &report.wire;
    // Every answer's bytes are its head and its body, all inside the window with its events:
    // response heads and the JSON array's brackets, never zero.
    let heads = w.response_head_bytes_per_request.unwrap() * report.requests as f64;
    assert!(report.requests > 0 && heads > 0.0, "{w:?}");
    assert!(
        w.overhead_bytes as f64 >= heads,
        "framing {} below the response heads {heads}: {w:?}",
        w.overhead_bytes
    );
}

/// The real server sending 20 events of 64 KiB of data per second.
async fn big_event_server() -> rtlab_server::RunningServer {
    rtlab_server::spawn(rtlab_server::Config {
        rate: 20.0,
        payload_bytes: 65_536,
        workers: 1,
        ..rtlab_server::Config::ephemeral()
    })
    .await
    .expect("the server starts")
}
