//! Scale-out: one feed on 1, 2 and 3 nodes behind the `lab` proxy, on one NATS JetStream stream.
//!
//! What a broker buys is that any node serves any client, so nodes can be added behind a
//! round-robin proxy without sticky sessions. What it costs is a hop: every event goes from the
//! node that made it to nats-server and back to every node before any subscriber sees it. This
//! case measures both, with the same subscribers and rate in every run:
//!
//! - `embedded, direct`: one node, no broker, no proxy: the lab's default, the baseline;
//! - `cluster, direct`: one node on the broker, no proxy: the difference is the broker hop;
//! - `cluster, lab proxy` with 1, 2, 3 nodes: what the proxy adds, and how the work spreads.
//!
//! Per run: delivered events/s, latency p50/p99, and CPU per 1 000 deliveries of the nodes
//! (summed, and each node's own share), of nginx and of nats-server, read from `/proc`.
//!
//! **Two cores.** This machine has two cores, and every node, nginx, nats-server and the client
//! share them, so a second node cannot add capacity here; it can only show that the work spreads
//! and what each node costs. The report therefore projects capacity from the measured cost: a
//! core that spends *c* ms per 1 000 deliveries carries 10⁶ / *c* deliveries/s, and an added
//! machine adds that per core, less the broker's per-event cost on the node.

use std::time::Duration;

use rtlab_client::report::LatencySummary;
use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

use super::Scale;
use super::lab::{Lab, client_config, cpu_ms_per_1000, cpu_with_children, node_options};
use crate::client_run::report_of;
use crate::cluster::Proxy;
use crate::proc_sampler::read_sample;

/// One run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScaleOutResult {
    /// The transport.
    pub transport: Option<Transport>,
    /// Nodes.
    pub nodes: usize,
    /// On the broker.
    pub broker: bool,
    /// Behind the `lab` proxy.
    pub proxied: bool,
    /// Subscribers asked for, and connected.
    pub clients: u64,
    /// Subscribers connected.
    pub connected: u64,
    /// Events received per second, all subscribers.
    pub events_per_s: f64,
    /// Events missing from the subscribers' streams.
    pub lost: u64,
    /// Latency, µs.
    pub latency_us: LatencySummary,
    /// Every node's CPU per 1 000 deliveries (all nodes' CPU over all deliveries), ms.
    pub nodes_cpu_ms_per_1000: Option<f64>,
    /// Each node's CPU seconds in the run.
    pub node_cpu_s: Vec<f64>,
    /// nginx's CPU per 1 000 deliveries, ms.
    pub proxy_cpu_ms_per_1000: Option<f64>,
    /// nats-server's CPU per 1 000 deliveries, ms.
    pub broker_cpu_ms_per_1000: Option<f64>,
    /// What went wrong, if the run could not be measured.
    pub error: Option<String>,
}

impl ScaleOutResult {
    /// The run's label: `embedded, direct`, `cluster, direct`, `cluster ×3, lab proxy`.
    pub fn label(&self) -> String {
        let mode = if self.broker {
            format!("cluster ×{}", self.nodes)
        } else {
            "embedded".into()
        };
        let via = if self.proxied { "lab proxy" } else { "direct" };
        format!("{mode}, {via}")
    }

    /// Deliveries per second one core would carry at the nodes' measured cost.
    pub fn per_core_capacity(&self) -> Option<f64> {
        self.nodes_cpu_ms_per_1000.map(|c| 1e6 / c)
    }
}

/// The runs of one transport, in the order the module names them.
pub async fn run(lab: &Lab, scale: &Scale, transport: Transport) -> Vec<ScaleOutResult> {
    let mut setups = vec![(1, false, false), (1, true, false)];
    for n in 1..=scale.max_nodes {
        setups.push((n, true, true));
    }
    let mut out = Vec::new();
    for (nodes, broker, proxied) in setups {
        let r = one_run(lab, scale, transport, nodes, broker, proxied).await;
        eprintln!(
            "rtlab: scale-out, {transport}, {}: {:.0} events/s, p99 {:.2} ms{}",
            r.label(),
            r.events_per_s,
            r.latency_us.p99 / 1e3,
            r.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        out.push(r);
    }
    out
}

async fn one_run(
    lab: &Lab,
    scale: &Scale,
    transport: Transport,
    nodes: usize,
    broker: bool,
    proxied: bool,
) -> ScaleOutResult {
    let mut result = ScaleOutResult {
        transport: Some(transport),
        nodes,
        broker,
        proxied,
        clients: scale.scale_out_clients,
        ..ScaleOutResult::default()
    };
    let proxy = proxied.then_some(Proxy::Lab);
    let options = node_options(scale.scale_out_rate, 64);
    let mut cluster = match lab.cluster(nodes, proxy, broker, options).await {
        Ok(c) => c,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    let node_pids: Vec<u32> = cluster.nodes().iter().map(|n| n.pid).collect();
    let config = rtlab_client::RunConfig {
        control_url: Some(format!("http://{}", cluster.nodes()[0].http)),
        ..client_config(
            &cluster.front_url(),
            transport,
            scale.scale_out_clients,
            scale.warmup,
            scale.scale_out_window,
            scale.connect_rate,
        )
    };
    let cpu = |pid: u32| read_sample(pid).ok().map(|s| s.cpu_s);
    let nodes_before: Vec<Option<f64>> = node_pids.iter().map(|&p| cpu(p)).collect();
    let proxy_before = cluster.nginx_pid().and_then(cpu_with_children);
    let broker_before = cluster.nats_pid().and_then(cpu);
    let run = rtlab_client::run(config).await;
    let nodes_after: Vec<Option<f64>> = node_pids.iter().map(|&p| cpu(p)).collect();
    let proxy_after = cluster.nginx_pid().and_then(cpu_with_children);
    let broker_after = cluster.nats_pid().and_then(cpu);
    cluster.stop().await;
    let report = match report_of(run) {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    result.connected = report.connected;
    result.events_per_s = report.events_per_s;
    result.lost = report.lost;
    result.latency_us = report.latency_us.clone();
    let deliveries = report.events_received;
    result.node_cpu_s = nodes_before
        .iter()
        .zip(&nodes_after)
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        })
        .collect();
    result.nodes_cpu_ms_per_1000 = cpu_ms_per_1000(result.node_cpu_s.iter().sum(), deliveries);
    let spent = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => cpu_ms_per_1000(b - a, deliveries),
        _ => None,
    };
    result.proxy_cpu_ms_per_1000 = spent(proxy_before, proxy_after);
    result.broker_cpu_ms_per_1000 = spent(broker_before, broker_after);
    result
}

/// How long the runs of `scale` take, about (for the plan).
pub fn estimated(scale: &Scale) -> Duration {
    let run = scale.warmup
        + scale.scale_out_window
        + Duration::from_secs_f64(scale.scale_out_clients as f64 / scale.connect_rate)
        + Duration::from_secs(3);
    run * (2 + scale.max_nodes as u32) * scale.scale_out_transports.len() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_capacity_come_from_the_run() {
        let r = ScaleOutResult {
            nodes: 3,
            broker: true,
            proxied: true,
            nodes_cpu_ms_per_1000: Some(4.0),
            ..ScaleOutResult::default()
        };
        assert_eq!(r.label(), "cluster ×3, lab proxy");
        assert_eq!(r.per_core_capacity(), Some(250_000.0));
        let base = ScaleOutResult::default();
        assert_eq!(base.label(), "embedded, direct");
        assert_eq!(base.per_core_capacity(), None);
    }
}
