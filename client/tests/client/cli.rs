//! The real binary: exit codes and one-line errors for bad usage and failed runs, and files
//! written for a good run.

use rtlab_client::RunReport;

use crate::common::{RATE, assert_one_line_error, client, server};

#[tokio::test]
async fn usage_mistakes_exit_2_with_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["--transport", "ws", "--clients", "0"], "--clients"),
        (&["--transport", "ws", "--duration", "ten"], "--duration"),
        (&["--transport", "ws", "--url", "localhost:8080"], "--url"),
        (
            &["--transport", "ws", "--url", "ftp://example.org"],
            "ftp://",
        ),
        (&["--transport", "carrier-pigeon"], "--transport"),
        (
            &["--transport", "ws", "--connect-rate", "0/s"],
            "--connect-rate",
        ),
        (
            &["--transport", "tcp", "--url", "http://127.0.0.1:1"],
            "tcp://",
        ),
        (&["--clients", "5"], "--transport"),
    ];
    for (args, needle) in cases {
        let out = client(args).await;
        assert_one_line_error(&out, 2, needle);
    }
}

#[tokio::test]
async fn a_refused_connection_exits_1_with_one_line() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let out = client(&[
        "-t", "sse", "--url", &url, "-d", "1s", "--warmup", "0s", "-q",
    ])
    .await;
    assert_one_line_error(&out, 1, "refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_run_prints_a_table_and_writes_json_and_hgrm() {
    let server = server(RATE).await;
    let url = format!("http://{}", server.http_addr());
    let dir = std::env::temp_dir().join(format!("rtlab-client-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("out.json");
    let hgrm = dir.join("out.hgrm");
    let out = client(&[
        "--transport",
        "ws",
        "--url",
        &url,
        "--clients",
        "5",
        "--duration",
        "800ms",
        "--warmup",
        "200ms",
        "--json",
        json.to_str().unwrap(),
        "--hgrm",
        hgrm.to_str().unwrap(),
    ])
    .await;
    server.shutdown().await.ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("latency"), "{stdout}");
    assert!(!stdout.contains("LOSS"), "{stdout}");
    // Our server has /stats: the window is bounded exactly, and the table says so.
    assert!(
        stdout.contains("\n  window       exact by seq from /stats\n"),
        "{stdout}"
    );

    let report: RunReport = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report.clients, 5);
    assert!(report.events_received > 0);
    assert_eq!(
        report.window_mode,
        Some(rtlab_client::report::WindowMode::ExactBySeq)
    );
    // The JSON has the fields the issue lists, under those names.
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in [
        "transport",
        "clients",
        "duration_s",
        "events_received",
        "events_per_s",
        "lost",
        "duplicates",
        "out_of_order",
        "latency_us",
        "connect_us",
        "wire",
        "requests",
        "empty_polls",
        "latency_histogram_b64",
    ] {
        assert!(value.get(key).is_some(), "{key} missing");
    }
    for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
        assert!(
            value["latency_us"].get(key).is_some(),
            "latency_us.{key} missing"
        );
    }
    let hgrm_text = std::fs::read_to_string(&hgrm).unwrap();
    assert!(hgrm_text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)"));
    assert!(hgrm_text.contains(&format!(
        "Total count    = {:>12}]",
        report.latency_us.count
    )));
    std::fs::remove_dir_all(&dir).ok();
}
