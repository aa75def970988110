//! The client's reliability modes against the real server: a run the server ends early still
//! reports (marked `ended_early`, exit 3), stalled subscribers are cut by the server and kept out
//! of the healthy figures (`--stalled`), and churn runs its cycles (`--churn`).

use std::time::Duration;

use rstest::rstest;
use rstest_reuse::apply;
use rtlab_client::{RunConfig, RunError, RunReport};
use rtlab_wire::Transport;

use crate::common::{RATE, client, every_transport, http_streams, server, short_run};
use crate::schema::check_json;

/// Runs `config` without reconnecting and shuts the server down gracefully (as on SIGTERM)
/// `after` into the run; the run must end early, with its partial report.
async fn shut_down_mid_run(transport: Transport, after: Duration) -> (RunReport, String) {
    shut_down_mid_run_with(transport, after, None).await
}

/// [`shut_down_mid_run`], reconnecting for up to `reconnect_give_up`.
async fn shut_down_mid_run_with(
    transport: Transport,
    after: Duration,
    reconnect_give_up: Option<Duration>,
) -> (RunReport, String) {
    let server = server(RATE).await;
    let config = RunConfig {
        clients: 10,
        duration: Duration::from_secs(5),
        reconnect_give_up,
        ..short_run(&server, transport)
    };
    let run = tokio::spawn(rtlab_client::run(config));
    tokio::time::sleep(after).await;
    server.shutdown().await.ok();
    match run.await.unwrap() {
        Err(RunError::AllDisconnected {
            reason,
            partial: Some(report),
        }) => (*report, reason),
        other => panic!("{transport}: {other:?}"),
    }
}

#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_the_server_shuts_down_reports_when_and_cuts_its_window(transport: Transport) {
    let (report, _) = shut_down_mid_run(transport, Duration::from_millis(1_300)).await;
    let ended = report.ended_early.as_ref().expect("marked ended early");
    // Shut down 1.3 s in: 0.3 s of warm-up after the ramp, then about 1 s of window.
    assert!((1.2..3.0).contains(&ended.at_s), "{transport}: {ended:?}");
    assert_eq!(ended.planned_duration_s, 5.0);
    assert!(
        (0.5..2.0).contains(&report.duration_s),
        "{transport}: the window is cut at the end: {}",
        report.duration_s
    );
    let per_s = report.events_received as f64 / report.duration_s;
    assert!((report.events_per_s - per_s).abs() < 1e-6, "{transport}");
    assert_eq!(
        ended.close_codes.values().sum::<u64>(),
        10,
        "{transport}: {ended:?}"
    );
    assert!(ended.highest_seq > 0, "{transport}");
    check_json(&serde_json::to_value(&report).unwrap()).unwrap();
}

#[apply(http_streams)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_ends_streams_cleanly_and_nobody_misses_the_last_events(transport: Transport) {
    let (report, reason) = shut_down_mid_run(transport, Duration::from_millis(1_000)).await;
    let ended = report.ended_early.unwrap();
    let clean = match transport {
        Transport::Ws => "1001",
        _ => rtlab_client::ending::END_OF_STREAM,
    };
    assert_eq!(
        ended.close_codes.get(clean),
        Some(&10),
        "{transport}: {:?} ({reason})",
        ended.close_codes
    );
    // The contract: every event published before the signal reaches every subscriber.
    assert_eq!(
        (
            ended.subscribers_behind,
            ended.events_behind,
            ended.subscribers_with_gaps
        ),
        (0, 0, 0),
        "{transport}: highest seq {}",
        ended.highest_seq
    );
    assert_eq!(report.lost, 0, "{transport}");
}

#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_that_give_up_reconnecting_end_the_run_early_as_before(transport: Transport) {
    let give_up = Duration::from_millis(700);
    let (report, reason) =
        shut_down_mid_run_with(transport, Duration::from_millis(1_300), Some(give_up)).await;
    let ended = report.ended_early.as_ref().expect("marked ended early");
    // The same verdict as without reconnecting: the reason and the ends are the drops'.
    assert_eq!(
        ended.close_codes.values().sum::<u64>(),
        10,
        "{transport}: {ended:?} ({reason})"
    );
    if transport == Transport::Ws {
        assert_eq!(ended.close_codes.get("1001"), Some(&10), "{ended:?}");
    }
    // Lost when the connection dropped, not when they gave up 0.7 s later.
    assert!((1.2..1.9).contains(&ended.at_s), "{transport}: {ended:?}");
    let resume = report.resume.as_ref().expect("reconnecting runs report it");
    assert_eq!(
        (resume.gave_up, resume.count, resume.give_up_ms),
        (10, 0, 700),
        "{transport}: {resume:?}"
    );
    assert!(resume.drops >= 10, "{transport}: {resume:?}");
    // The attempts found nobody listening.
    assert!(
        report.errors.get("connect refused").copied().unwrap_or(0) >= 10,
        "{transport}: {:?}",
        report.errors
    );
    check_json(&serde_json::to_value(&report).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_the_report_of_a_run_ended_early_and_exits_3() {
    let server = server(RATE).await;
    let url = format!("http://{}", server.http_addr());
    let dir = std::env::temp_dir().join(format!("rtlab-client-early-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, hgrm) = (dir.join("out.json"), dir.join("out.hgrm"));
    let (json_arg, hgrm_arg) = (json.to_str().unwrap(), hgrm.to_str().unwrap());
    let args = [
        "-t",
        "ws",
        "--url",
        &url,
        "-c",
        "5",
        "-d",
        "10s",
        "--warmup",
        "200ms",
        "--json",
        json_arg,
        "--hgrm",
        hgrm_arg,
        "--no-reconnect",
    ];
    let stop = async {
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        server.shutdown().await.ok();
    };
    let (out, ()) = tokio::join!(client(&args), stop);
    crate::common::assert_one_line_error(&out, 3, "ended early");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1001"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ENDED EARLY"), "{stdout}");
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    check_json(&value).unwrap();
    assert_eq!(value["ended_early"]["close_codes"]["1001"], 5, "{value}");
    assert!(
        std::fs::read_to_string(&hgrm)
            .unwrap()
            .contains("Percentile")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[apply(http_streams)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_is_cut_and_left_out_of_the_healthy_figures(transport: Transport) {
    // A stalled socket first fills the kernel's buffers (kept small: the stalled subscriber
    // dials with a 4 KiB receive buffer and an Ethernet MSS, see `stalled.rs`), then the
    // server's queue of 512 events, and then it is cut: at 8 KiB events and 1 000/s within a
    // second. The two healthy subscribers keep well within the queue (SSE at a lower rate: its
    // debug-build parsing, in-process with a debug-build server, is the slower).
    let queue = 512;
    let rate = match transport {
        Transport::Ws => 1_000.0,
        _ => 400.0,
    };
    let server = rtlab_server::spawn(rtlab_server::Config {
        rate,
        payload_bytes: 8_192,
        subscriber_queue: queue,
        workers: 1,
        ..rtlab_server::Config::ephemeral()
    })
    .await
    .unwrap();
    let config = RunConfig {
        clients: 3,
        stalled: 1,
        duration: Duration::from_secs(4),
        ..short_run(&server, transport)
    };
    let report = rtlab_client::run(config)
        .await
        .expect("the healthy ones complete");
    server.shutdown().await.ok();
    let stalled = report.stalled.as_ref().expect("a stalled report");
    let how = match transport {
        Transport::Ws => "1008 lagging",
        _ => rtlab_client::ending::END_OF_STREAM,
    };
    assert_eq!(
        (stalled.asked, stalled.stalled, stalled.cut),
        (1, 1, 1),
        "{stalled:?}"
    );
    assert_eq!(stalled.close_codes.get(how), Some(&1), "{stalled:?}");
    // It got what the kernel's buffers held before the cut (the server drops its queue then):
    // some, but with the small window a few hundred KiB at most, under a quarter of the queue
    // (with the default buffers, some 4 MiB: about the whole queue's worth of these events).
    let got = stalled.events_before_cut[0];
    assert!(
        got > 0 && got <= queue as u64 / 4,
        "{got} events before the cut"
    );
    // And the last seq among them, which places the cut in the feed: at least as many seqs as
    // events received (the feed was already running when it connected).
    assert!(
        matches!(stalled.last_seq_before_cut[..], [last] if last >= got),
        "{stalled:?}"
    );
    // The healthy two are the run: all completed, none lagging, no loss.
    assert_eq!((report.connected, report.completed), (2, 2), "{report:?}");
    assert_eq!((report.lagging_disconnects, report.lost), (0, 0));
    assert_eq!(
        report.connect_us.count, 2,
        "the stalled one's set-up is not in the figures"
    );
    assert!(report.delivery_ratio > 0.99, "{}", report.delivery_ratio);
    check_json(&serde_json::to_value(&report).unwrap()).unwrap();
}

#[test]
fn stalled_needs_a_stream_and_a_healthy_subscriber() {
    let base = RunConfig {
        clients: 3,
        ..RunConfig::new(Transport::Ws, "http://127.0.0.1:1")
    };
    for bad in [
        RunConfig {
            stalled: 3,
            ..base.clone()
        },
        RunConfig {
            stalled: 1,
            ..RunConfig {
                transport: Transport::LongPoll,
                ..base.clone()
            }
        },
        RunConfig {
            churn: Some(0),
            ..base.clone()
        },
        RunConfig {
            churn: Some(5),
            stalled: 1,
            ..base.clone()
        },
    ] {
        assert!(bad.validate().unwrap_err().is_usage(), "{bad:?}");
    }
    assert!(RunConfig { stalled: 2, ..base }.validate().is_ok());
}

#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_runs_every_cycle_and_times_each_first_event(transport: Transport) {
    let server = server(1_000.0).await;
    let cycles = 300;
    let config = RunConfig {
        clients: 10,
        churn: Some(cycles),
        duration: Duration::from_secs(15),
        ..short_run(&server, transport)
    };
    let report = rtlab_client::run(config).await.expect("the churn runs");
    let stats = server.shutdown().await;
    let churn = report.churn.as_ref().expect("a churn report");
    assert_eq!(
        (churn.cycles_asked, churn.cycles_done, churn.cycles_failed),
        (cycles, cycles, 0),
        "{transport}: {:?}",
        report.errors
    );
    assert!(report.errors.is_empty(), "{transport}: {:?}", report.errors);
    assert_eq!(report.first_event_us.count, cycles, "{transport}");
    assert!(
        churn.cycles_per_s > 10.0 && churn.elapsed_s < 15.0,
        "{churn:?}"
    );
    assert!(stats.is_ok(), "{transport}");
    check_json(&serde_json::to_value(&report).unwrap()).unwrap();
}
