//! The cluster suite at a small scale (`Scale::small`: a few clients, 2 nodes, seconds per case)
//! against the real `rtlab-server`, nats-server and nginx: each case measures what the report
//! states, and the behaviours the suite exists to show are checked here, so a cluster that stops
//! showing them fails this test. nats-server and nginx come from `bash scripts/setup-test-deps`;
//! a missing one fails the test, it is never skipped.

use std::path::PathBuf;

use rtlab_bench::cluster_suite::lab::Lab;
use rtlab_bench::cluster_suite::{
    ClusterReport, Scale, connections, failover, proxy, scale_out, section,
};
use rtlab_wire::Transport;

fn lab() -> Lab {
    let rtlab_bin = PathBuf::from(env!("CARGO_BIN_EXE_rtlab"));
    let server_bin = rtlab_bin.with_file_name("rtlab-server");
    assert!(
        server_bin.is_file(),
        "{} is missing: build it first with `cargo build -p rtlab-server`",
        server_bin.display()
    );
    Lab {
        server_bin,
        rtlab_bin,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_breaks_the_websocket_upgrade_and_lab_carries_every_transport() {
    let (lab, scale) = (lab(), Scale::small());
    let ws = proxy::run(&lab, &scale, Transport::Ws).await;
    let route = |rows: &[proxy::ProxyResult], name: &str| {
        rows.iter().find(|r| r.route == name).cloned().unwrap()
    };
    for name in ["direct", "lab"] {
        let r = route(&ws, name);
        assert_eq!(r.error, None, "{name}");
        assert_eq!(r.ws_upgrade_status, Some(101), "{name}");
        assert_eq!(r.connected, scale.proxy_clients, "{name}: {r:?}");
        assert_eq!(r.lost, 0, "{name}");
    }
    let naive = route(&ws, "naive");
    assert_ne!(naive.ws_upgrade_status, Some(101), "{naive:?}");
    assert_eq!(naive.connected, 0, "{naive:?}");
    assert!(
        route(&ws, "lab").proxy_cpu_ms_per_1000_events.is_some()
            || route(&ws, "lab").latency_us.count > 0
    );
    let sse = proxy::run(&lab, &scale, Transport::Sse).await;
    for r in &sse {
        assert_eq!(r.connected, scale.proxy_clients, "sse {}: {r:?}", r.route);
    }
    let md = section::markdown(&ClusterReport {
        proxy: [ws, sse].concat(),
        ..ClusterReport::default()
    });
    assert!(md.contains("ws behind `naive`: 0 of"), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_feed_spreads_over_two_nodes_behind_the_proxy() {
    let (lab, scale) = (lab(), Scale::small());
    let runs = scale_out::run(&lab, &scale, Transport::Sse).await;
    assert_eq!(runs.len(), 2 + scale.max_nodes);
    for r in &runs {
        assert_eq!(r.error, None, "{}", r.label());
        assert_eq!(r.connected, scale.scale_out_clients, "{}", r.label());
        assert_eq!(r.lost, 0, "{}", r.label());
        assert_eq!(r.node_cpu_s.len(), r.nodes, "{}", r.label());
    }
    // Behind the proxy, both nodes served: each spent CPU.
    let two = runs.iter().find(|r| r.nodes == 2).unwrap();
    assert!(two.node_cpu_s.iter().all(|&c| c > 0.0), "{two:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_subscribers_resume_on_the_other_with_nothing_lost() {
    let (lab, scale) = (lab(), Scale::small());
    for t in [Transport::Sse, Transport::Ws] {
        let r = failover::run(&lab, &scale, t).await;
        assert_eq!(r.error, None, "{t}");
        assert!(r.drops > 0, "{t}: the kill dropped someone: {r:?}");
        assert!(r.held(), "{t}: {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_spread_over_nodes_and_client_processes_merge_exactly() {
    let (lab, scale) = (lab(), Scale::small());
    let r = connections::run(&lab, &scale, Transport::Sse).await;
    assert_eq!(r.nodes, 2);
    assert!(r.held(), "{r:?}");
    // Merged histograms: one latency sample per event per subscriber in the window.
    assert!(r.latency_us.count >= r.clients, "{r:?}");
    assert!(r.rss_per_connection().is_some());
}
