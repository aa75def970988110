//! The reliability suite at a small scale (`Scale::small`: tens of clients, a thousand churn
//! cycles), against the real `rtlab-server` binary: every figure the report states is measured
//! and lands in its section, and the promises the real server keeps are checked here too, so a
//! server that stops keeping one fails this test.
//!
//! The server binary must be built first (`cargo build -p rtlab-server`).

use std::path::PathBuf;

use rtlab_bench::reliability::lab::Lab;
use rtlab_bench::reliability::{ReliabilityReport, Scale, churn, hostile, section, shutdown, slow};
use rtlab_wire::Transport;

/// The lab: the server binary next to this test's `rtlab`, not pinned.
fn lab() -> Lab {
    let server_bin = PathBuf::from(env!("CARGO_BIN_EXE_rtlab")).with_file_name("rtlab-server");
    assert!(
        server_bin.is_file(),
        "{} is missing: build it first with `cargo build -p rtlab-server`",
        server_bin.display()
    );
    Lab {
        server_bin,
        rtlab_bin: PathBuf::from(env!("CARGO_BIN_EXE_rtlab")),
        pin: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_is_cut_beside_healthy_ones_and_the_figures_are_reported() {
    // A few healthy subscribers of 8 KiB events at 1 000/s: the stalled socket's small window
    // and then the queue fill within a second, and a debug-build server keeps up with the rest.
    let scale = Scale {
        clients: 3,
        slow_rate: 1_000,
        slow_window: std::time::Duration::from_secs(6),
        // The cut comes ~0.55 s after the stall (35 events in the kernel, 512 queued): the
        // window must open before it.
        warmup: std::time::Duration::from_millis(100),
        ..Scale::small()
    };
    let lab = lab();
    for t in [Transport::Ws, Transport::Sse] {
        let r = slow::run(&lab, &scale, t).await;
        assert_eq!(r.error, None, "{t}");
        assert_eq!(
            r.stalled.len(),
            1,
            "{t}: one run with the stalled subscriber"
        );
        let stalled = &r.stalled[0];
        assert_eq!((stalled.stalled, stalled.cut), (1, 1), "{t}: {stalled:?}");
        let how = match t {
            Transport::Ws => "1008 lagging",
            _ => rtlab_client::ending::END_OF_STREAM,
        };
        assert_eq!(stalled.close_codes.get(how), Some(&1), "{t}: {stalled:?}");
        // What the kernel held before the cut: with the small window under a quarter of the
        // queue (default buffers would hold some 4 MiB, about the whole queue's worth).
        let got = stalled.events_before_cut[0];
        assert!(got > 0 && got <= scale.subscriber_queue / 4, "{t}: {got}");
        // Placed inside the window, from the last seq it received.
        assert!(
            matches!(r.cut_into_window_s[..], [s] if (0.0..=6.0).contains(&s)),
            "{t}: {:?}",
            r.cut_into_window_s
        );
        let p99 = r.p99.as_ref().expect("three healthy p99s");
        assert_eq!((p99.baselines_us.len(), p99.with_fault_us.len()), (2, 1));
        assert!(p99.ratio().is_some_and(|x| x > 0.0), "{t}: {r:?}");
        assert!(p99.noise().is_some_and(|x| x >= 1.0), "{t}: {r:?}");
        assert!(r.baseline_rss_peak_bytes > 0 && r.stalled_run_rss_peak_bytes > 0);
        assert_eq!(r.healthy_lagging, 0, "{t}: no healthy subscriber is cut");
        let md = section::markdown(&ReliabilityReport {
            scale: scale.clone(),
            slow: vec![r],
            ..ReliabilityReport::default()
        });
        assert!(md.contains(&format!("| {t} |")) && md.contains(how), "{md}");
        // The cases not run are named, not shown as empty tables.
        assert!(
            md.contains("Not run here") && !md.contains("### Churn"),
            "{md}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_leaves_no_open_file_behind_on_any_transport() {
    let (lab, scale) = (lab(), Scale::small());
    for t in Transport::ALL {
        let r = churn::run(&lab, &scale, t).await;
        assert_eq!(r.error, None, "{t}");
        assert_eq!(
            (r.cycles_done, r.cycles_failed),
            (scale.churn_cycles, 0),
            "{t}: {:?}",
            r.errors
        );
        assert!(r.errors.is_empty(), "{t}: {:?}", r.errors);
        assert_eq!(r.first_event_us.count, scale.churn_cycles, "{t}");
        // A leaked socket per cycle would be 1 000 more open files.
        assert!(
            r.fds_ratio.is_some_and(|x| x <= churn::GROWTH_GOAL),
            "{t}: open fds {:?} → {:?}",
            r.fds_before,
            r.fds_after
        );
        assert!(r.rss_ratio.is_some(), "{t}");
        // The heap, as the server's allocator reports it, at the same three moments.
        assert!(
            r.heap_before.is_some() && r.heap_after_second.is_some(),
            "{t}"
        );
        assert!(r.live_heap_ratio().is_some_and(|x| x > 0.0), "{t}");
        // Each reading came after a release of the allocator's free pages to the OS.
        let releases =
            [r.heap_before, r.heap_after, r.heap_after_second].map(|h| h.unwrap().releases);
        assert!(
            releases[0] >= 1 && releases[0] < releases[1] && releases[1] < releases[2],
            "{t}: {releases:?}"
        );
        // And the second churn: its files and its per-cycle growth are read too.
        assert_eq!(r.second_cycles, 100, "{t}");
        assert!(
            r.fds_after_second
                .is_some_and(|n| n as f64 <= churn::GROWTH_GOAL * r.fds_before.unwrap() as f64),
            "{t}: {:?}",
            r.fds_after_second
        );
        assert!(
            matches!(r.rss_growth_per_cycle(), (Some(_), Some(_))),
            "{t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_closes_every_transport_cleanly_and_exits_0_in_time() {
    let (lab, scale) = (lab(), Scale::small());
    for t in Transport::ALL {
        let r = shutdown::run(&lab, &scale, t, scale.shutdown_rates[0]).await;
        assert_eq!(r.error, None, "{t}");
        assert_eq!(r.exit_code, Some(0), "{t}");
        assert!(
            r.time_to_exit_ms
                .is_some_and(|ms| ms < shutdown::EXIT_GOAL.as_millis() as f64),
            "{t}: {:?}",
            r.time_to_exit_ms
        );
        assert_eq!(r.connected, scale.clients, "{t}");
        assert_eq!(r.cleanly_closed(), r.connected, "{t}: {:?}", r.close_codes);
        assert!(r.highest_seq > 0, "{t}");
        if t == Transport::LongPoll {
            assert_eq!(
                (r.parked_polls, r.parked_polls_answered),
                (scale.parked_polls, scale.parked_polls),
                "{t}"
            );
        }
        if t.is_streaming() {
            // The streams get every event published before the signal.
            assert_eq!(
                (r.subscribers_behind, r.subscribers_with_gaps),
                (0, 0),
                "{t}: behind by {} events",
                r.events_behind
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_headers_connections_are_dropped_by_the_server_deadlines() {
    let (lab, scale) = (lab(), Scale::small());
    let r = hostile::run(&lab, &scale, Transport::Ws).await;
    assert_eq!(r.error, None);
    assert_eq!(r.idle_opened, scale.idle_connections);
    assert_eq!(r.idle_dropped, r.idle_opened, "{r:?}");
    // The server's first-byte deadline is 10 s and up to 1 s more; client_request_timeout 10 s.
    let (first, last) = (
        r.idle_dropped_after_s_min.unwrap(),
        r.idle_dropped_after_s_max.unwrap(),
    );
    assert!(9.9 <= first && last < 12.0, "{r:?}");
    let slow = r
        .slow_headers_dropped_after_s
        .expect("the slow-headers client is dropped");
    assert!(
        (9.0..12.0).contains(&slow) && r.slow_headers_bytes_sent >= 8,
        "{r:?}"
    );
    assert!(r.p99.as_ref().and_then(|p| p.ratio()).is_some(), "{r:?}");
    // The hostile connections lived in a process of their own, which reports its CPU time.
    assert!(r.hostile_process_cpu_s.is_some_and(|s| s > 0.0), "{r:?}");
    let md = section::markdown(&ReliabilityReport {
        scale,
        hostile: vec![r],
        ..ReliabilityReport::default()
    });
    assert!(md.contains("### Hostile clients"), "{md}");
}

#[test]
fn the_binary_plans_the_reliability_suite_with_its_estimate() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtlab"))
        .args(["run", "--suite", "reliability", "--dry-run"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("churn: ws, sse, long-poll, short-poll, tcp (100000 cycles each)"),
        "{text}"
    );
    assert!(text.contains("estimated"), "{text}");
}
