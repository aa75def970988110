//! Failover: a node is killed (`SIGKILL`) mid-run; its subscribers reconnect through the proxy
//! to another node and resume by seq.
//!
//! This is what the broker is for. The proxy round-robins new connections over the nodes that
//! are alive, and because every node holds the same stream with the same seqs, the node a
//! subscriber lands on can answer `Last-Event-ID` or `?after=N` from its own history. The
//! subscribers of the dead node see their connection reset, back off (jittered, bounded), dial
//! the proxy again, and ask for what came after the last seq they saw. The client counts what
//! matters: events lost across the reconnects (goal 0), duplicates, how long each reconnect took
//! (p50/p99, from the drop to the new connection's answer), and whether anyone gave up.

use rtlab_client::RunReport;
use rtlab_client::report::LatencySummary;
use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

use super::Scale;
use super::lab::{Lab, client_config, node_options};
use crate::client_run::report_of;
use crate::cluster::Proxy;

/// One transport's failover.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverResult {
    /// The transport.
    pub transport: Option<Transport>,
    /// Nodes before the kill.
    pub nodes: usize,
    /// Subscribers.
    pub clients: u64,
    /// Subscribers connected.
    pub connected: u64,
    /// Seconds into the window at which the node was killed.
    pub killed_at_s: f64,
    /// Connections dropped under the subscribers.
    pub drops: u64,
    /// Reconnects that succeeded.
    pub reconnects: u64,
    /// Outages given up on.
    pub gave_up: u64,
    /// From the drop to the new connection's answer, µs.
    pub time_to_reconnect_us: LatencySummary,
    /// Events lost, in all (the goal is 0).
    pub lost: u64,
    /// Events lost across the reconnects.
    pub lost_across_reconnects: u64,
    /// Events received twice.
    pub duplicates: u64,
    /// Events out of order.
    pub out_of_order: u64,
    /// Latency over the whole window, µs (the kill's tail included).
    pub latency_us: LatencySummary,
    /// What went wrong, if the case could not be measured.
    pub error: Option<String>,
}

impl FailoverResult {
    /// Held: every dropped subscriber reconnected, nobody gave up, nothing lost. A poller may
    /// see no drop at all: between two requests it holds no connection to the dead node, and
    /// nginx sends a request that cannot reach one to the next node (`proxy_next_upstream`).
    pub fn held(&self) -> bool {
        self.error.is_none() && self.gave_up == 0 && self.lost == 0 && self.reconnects >= self.drops
    }
}

/// Runs the case for `transport`: `scale.failover_nodes` nodes behind the `lab` proxy, node 1
/// killed halfway through the window.
pub async fn run(lab: &Lab, scale: &Scale, transport: Transport) -> FailoverResult {
    let mut result = FailoverResult {
        transport: Some(transport),
        nodes: scale.failover_nodes,
        clients: scale.failover_clients,
        ..FailoverResult::default()
    };
    let options = node_options(scale.failover_rate, 64);
    let mut cluster = match lab
        .cluster(scale.failover_nodes, Some(Proxy::Lab), true, options)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    // The window is read from the node that survives.
    let survivor = cluster.nodes()[scale.failover_nodes - 1].http;
    let config = rtlab_client::RunConfig {
        control_url: Some(format!("http://{survivor}")),
        ..client_config(
            &cluster.front_url(),
            transport,
            scale.failover_clients,
            scale.warmup,
            scale.failover_window,
            scale.connect_rate,
        )
    };
    let ramp =
        std::time::Duration::from_secs_f64(scale.failover_clients as f64 / scale.connect_rate);
    let client = tokio::spawn(rtlab_client::run(config));
    let kill_at = ramp + scale.warmup + scale.failover_window / 2;
    tokio::time::sleep(kill_at).await;
    let killed = cluster.kill_node(0).await;
    result.killed_at_s = (scale.failover_window / 2).as_secs_f64();
    let run = client.await;
    cluster.stop().await;
    if let Err(e) = killed {
        result.error = Some(format!("kill node-1: {e}"));
        return result;
    }
    let run = run
        .map_err(|e| format!("the client task failed: {e}"))
        .and_then(report_of);
    let report: RunReport = match run {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    result.connected = report.connected;
    result.lost = report.lost;
    result.duplicates = report.duplicates;
    result.out_of_order = report.out_of_order;
    result.latency_us = report.latency_us.clone();
    if let Some(r) = &report.resume {
        result.drops = r.drops;
        result.reconnects = r.count;
        result.gave_up = r.gave_up;
        result.time_to_reconnect_us = r.time_to_reconnect_us.clone();
        result.lost_across_reconnects = r.lost_across_reconnects;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_needs_every_drop_reconnected_and_nothing_lost() {
        let ok = FailoverResult {
            drops: 10,
            reconnects: 10,
            ..FailoverResult::default()
        };
        assert!(ok.held());
        assert!(
            !FailoverResult {
                lost: 1,
                ..ok.clone()
            }
            .held()
        );
        assert!(
            !FailoverResult {
                gave_up: 1,
                ..ok.clone()
            }
            .held()
        );
        assert!(
            !FailoverResult {
                reconnects: 9,
                ..ok.clone()
            }
            .held(),
            "one dropped subscriber did not come back"
        );
        assert!(
            FailoverResult {
                drops: 0,
                reconnects: 0,
                ..ok
            }
            .held(),
            "a poller the proxy routed around the dead node"
        );
    }
}
