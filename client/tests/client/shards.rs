//! `--shards`: one run split over several `rtlab-client` processes, merged into one report that
//! means what an unsharded run's means; a server nobody can reach fails the run as it would
//! unsharded, and a shard process that fails fails the run on one line.

use rstest::rstest;
use rstest_reuse::apply;
use rtlab_client::histograms::from_base64;
use rtlab_client::{RunConfig, RunError, RunReport, ShardProgram, run_sharded};
use rtlab_wire::Transport;

use crate::common::{RATE, assert_one_line_error, client, every_transport, server, short_run, url};
use crate::schema::check_json;

#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_report_the_whole_run(transport: Transport) {
    let server = server(RATE).await;
    let (url, control) = (
        url(&server, transport),
        format!("http://{}", server.http_addr()),
    );
    let out = client(&[
        "--transport",
        &transport.to_string(),
        "--url",
        &url,
        "--control-url",
        &control,
        "--clients",
        "6",
        "--shards",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "300ms",
        "--quiet",
        "--json",
        "-",
    ])
    .await;
    server.shutdown().await.ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON report");
    check_json(&json).expect("the sharded report has the unsharded report's schema");
    let report: RunReport = serde_json::from_value(json).unwrap();
    let summary = rtlab_client::printer::human(&report);

    // Every subscriber of both shards is in the one report.
    assert_eq!((report.connected, report.completed), (6, 6), "{summary}");
    assert_eq!(report.connect_us.count, 6, "{summary}");
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (0, 0, 0),
        "{summary}"
    );
    assert!(report.errors.is_empty(), "{summary}");
    // Each shard's window is exact for its own S0/S1, and the sum of them is delivered in full.
    assert_eq!(report.undelivered, Some(0), "{summary}");
    assert_eq!(report.delivery_ratio, 1.0, "{summary}");
    assert_eq!(report.latency_us.count, report.events_in_range, "{summary}");
    // The report's window spans the shards' windows: the sum of six subscribers' windows fits
    // in it, and the shards' reads of /stats differ by at most a few events.
    let (s0, s1) = (
        report.window_seq_start.unwrap(),
        report.window_seq_end.unwrap(),
    );
    assert!(s1 > s0 + 10, "{summary}");
    assert!(report.events_in_range <= (s1 - s0) * 6, "{summary}");
    assert!(report.events_in_range >= (s1 - s0 - 10) * 6, "{summary}");
    // The histogram in the report is the merged one, every sample in it.
    let histogram = from_base64(&report.latency_histogram_b64).unwrap();
    assert_eq!(histogram.len(), report.latency_us.count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_reports_each_shard_process_and_merges_round_trips() {
    let server = server(RATE).await;
    let config = RunConfig {
        clients: 4,
        publish_rate: Some(10.0),
        ..short_run(&server, Transport::Ws)
    };
    let (pids, mut started) = tokio::sync::mpsc::unbounded_channel();
    let program =
        ShardProgram::new(env!("CARGO_BIN_EXE_rtlab-client"), &["shard-worker"]).with_pids(pids);
    let report = run_sharded(config, 3, program)
        .await
        .expect("the run succeeds");
    server.shutdown().await.ok();
    let summary = rtlab_client::printer::human(&report);

    // Three child processes, none of them this one.
    let mut seen = Vec::new();
    while let Ok(pid) = started.try_recv() {
        seen.push(pid);
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(!seen.contains(&std::process::id()));
    // 4 subscribers split 2 + 1 + 1, all in the one report, publishes and their echoes too.
    assert_eq!((report.connected, report.completed), (4, 4), "{summary}");
    let p = report.publish.as_ref().expect("a publish section");
    assert!(p.sent > 0, "{summary}");
    assert_eq!(p.round_trip_us.count, p.echoed, "{summary}");
    assert_eq!(report.undelivered, Some(0), "{summary}");
    assert_eq!(report.latency_us.count, report.events_in_range, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_process_that_fails_fails_the_run_on_one_line() {
    let server = server(RATE).await;
    let config = RunConfig {
        clients: 4,
        ..short_run(&server, Transport::Sse)
    };
    // A shard that exits at once without an answer (a bad argument), and one that cannot start.
    let bad_argument = ShardProgram::new(env!("CARGO_BIN_EXE_rtlab-client"), &["--no-such-flag"]);
    let missing = ShardProgram::new("/nonexistent/rtlab-client", &["shard-worker"]);
    for (program, needle) in [
        (
            bad_argument,
            "without an answer: error: unexpected argument",
        ),
        (missing, "cannot start /nonexistent/rtlab-client"),
    ] {
        let e = tokio::time::timeout(
            std::time::Duration::from_secs(15),
            run_sharded(config.clone(), 2, program),
        )
        .await
        .expect("no hang")
        .unwrap_err();
        assert!(matches!(e, RunError::Shard { shards: 2, .. }), "{e}");
        let message = e.to_string();
        assert!(message.contains("of 2 failed: "), "{message}");
        assert!(message.contains(needle), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
    server.shutdown().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_nobody_reaches_fails_the_sharded_run_on_one_line() {
    // A port with nobody listening: every shard's connects are refused, which (as unsharded) is
    // the run's verdict once the shards' counts are merged, not a shard's failure.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = client(&[
        "-t",
        "ws",
        "--url",
        &url,
        "--clients",
        "4",
        "--shards",
        "2",
        "--duration",
        "500ms",
        "--warmup",
        "100ms",
        "--quiet",
    ])
    .await;
    assert_one_line_error(&out, 1, "no subscriber could connect");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("shard"));
}

#[rstest]
#[case::more_shards_than_clients(&["--clients", "2", "--shards", "3"], "--shards must be between 1 and 2")]
#[case::too_many(&["--clients", "100", "--shards", "65"], "--shards")]
#[case::zero(&["--shards", "0"], "--shards")]
#[tokio::test]
async fn a_bad_shard_count_is_a_usage_error(#[case] args: &[&str], #[case] needle: &str) {
    let mut all = vec!["-t", "sse", "--url", "http://127.0.0.1:9", "--quiet"];
    all.extend_from_slice(args);
    assert_one_line_error(&client(&all).await, 2, needle);
}
