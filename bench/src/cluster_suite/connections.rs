//! 100 000 connections: more than one process may hold here, held by several.
//!
//! On this machine a process may have at most 20 000 open files (`ulimit -Hn`, not raisable),
//! and every connection is one on each side. So the case runs enough nodes (each under
//! [`PER_NODE`] connections) on one NATS JetStream stream, and as many client processes
//! (`rtlab_client`'s shards, one per node, each dialling its own node), whose HdrHistograms are
//! merged bucket by bucket into one report: the merged p99 is the p99 of every sample of every
//! shard. The event rate is low (the point is the connections, not the throughput), every
//! connection is held through the window, and the report gives what a production team sizes a
//! machine by: connections held, events lost (goal 0), merged latency percentiles, and the
//! nodes' resident memory per connection (their peak RSS over the run, less their RSS before
//! any client connected, over the connections).

use std::time::Duration;

use rtlab_client::ShardProgram;
use rtlab_client::report::LatencySummary;
use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

use super::Scale;
use super::lab::{Lab, client_config, node_options};
use crate::client_run::SHARD_SUBCOMMAND;
use crate::client_run::report_of;
use crate::proc_sampler::{Sampler, read_sample};

/// Connections per node in the full suite, at most: under the 20 000 open files, with room for
/// the node's own.
pub const PER_NODE: u64 = 18_000;

/// One run of many connections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionsResult {
    /// The transport.
    pub transport: Option<Transport>,
    /// Connections asked for.
    pub clients: u64,
    /// Nodes (and client processes).
    pub nodes: usize,
    /// Connections that were held.
    pub connected: u64,
    /// Held to the window's end.
    pub completed: u64,
    /// The feed's rate, events/s.
    pub rate: u64,
    /// Events received per second, all subscribers.
    pub events_per_s: f64,
    /// Events lost.
    pub lost: u64,
    /// Subscribers cut as lagging, or dropped.
    pub disconnects: u64,
    /// Merged latency, µs.
    pub latency_us: LatencySummary,
    /// The nodes' RSS before any client, summed, bytes.
    pub rss_before_bytes: u64,
    /// The nodes' peak RSS, summed, bytes.
    pub rss_peak_bytes: u64,
    /// Failures by kind.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// What went wrong, if the run could not be measured.
    pub error: Option<String>,
}

impl ConnectionsResult {
    /// Server memory per held connection, bytes.
    pub fn rss_per_connection(&self) -> Option<f64> {
        (self.connected > 0).then(|| {
            self.rss_peak_bytes.saturating_sub(self.rss_before_bytes) as f64 / self.connected as f64
        })
    }

    /// Held: every connection held to the end, nothing lost.
    pub fn held(&self) -> bool {
        self.error.is_none()
            && self.connected == self.clients
            && self.completed == self.clients
            && self.lost == 0
    }
}

/// The nodes `clients` connections need at `per_node` each.
pub fn nodes_for(clients: u64, per_node: u64) -> usize {
    clients.div_ceil(per_node.max(1)).max(1) as usize
}

/// Runs `scale.connections` subscribers of `transport`.
pub async fn run(lab: &Lab, scale: &Scale, transport: Transport) -> ConnectionsResult {
    let clients = scale.connections;
    let nodes = nodes_for(clients, scale.connections_per_node);
    let mut result = ConnectionsResult {
        transport: Some(transport),
        clients,
        nodes,
        rate: scale.connections_rate,
        ..ConnectionsResult::default()
    };
    let mut options = node_options(scale.connections_rate, 64);
    options.max_connections = scale.connections_per_node + 500;
    let mut cluster = match lab.cluster(nodes, None, true, options).await {
        Ok(c) => c,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    let infos = cluster.nodes();
    let urls: Vec<String> = infos.iter().map(|n| format!("http://{}", n.http)).collect();
    result.rss_before_bytes = infos
        .iter()
        .filter_map(|n| read_sample(n.pid).ok())
        .map(|s| s.rss_bytes)
        .sum();
    let samplers: Vec<Sampler> = infos.iter().map(|n| Sampler::start(n.pid)).collect();
    let config = rtlab_client::RunConfig {
        control_url: Some(urls[0].clone()),
        spread_urls: urls[1..].to_vec(),
        connect_timeout: Duration::from_secs(20),
        ..client_config(
            &urls[0],
            transport,
            clients,
            scale.warmup,
            scale.connections_window,
            scale.connections_connect_rate,
        )
    };
    let program = ShardProgram::new(&lab.rtlab_bin, &[SHARD_SUBCOMMAND]);
    let shards = u32::try_from(nodes).unwrap_or(u32::MAX);
    let run = rtlab_client::run_sharded(config, shards, program).await;
    for s in samplers {
        result.rss_peak_bytes += s.finish().await.rss_peak();
    }
    cluster.stop().await;
    let report = match report_of(run) {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    result.connected = report.connected;
    result.completed = report.completed;
    result.events_per_s = report.events_per_s;
    result.lost = report.lost;
    result.disconnects = report.disconnects + report.lagging_disconnects;
    result.latency_us = report.latency_us.clone();
    result.errors = report.errors.clone();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_thousand_need_six_nodes_and_memory_is_per_held_connection() {
        assert_eq!(nodes_for(100_000, PER_NODE), 6);
        assert_eq!(nodes_for(10, PER_NODE), 1);
        let r = ConnectionsResult {
            clients: 2,
            connected: 2,
            completed: 2,
            rss_before_bytes: 1_000,
            rss_peak_bytes: 5_000,
            ..ConnectionsResult::default()
        };
        assert_eq!(r.rss_per_connection(), Some(2_000.0));
        assert!(r.held());
        assert!(!ConnectionsResult { lost: 1, ..r }.held());
    }
}
