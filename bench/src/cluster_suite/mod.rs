//! The `cluster` suite (`rtlab run --suite cluster`): the feed through a real reverse proxy and
//! across nodes on a real broker, measured.
//!
//! Two claims real teams trip over are "proxies may block or buffer WebSockets" and "horizontal
//! scaling is hard because the connection is stateful". The comparison suites run one server on
//! loopback and cannot show either; this suite starts nginx (Debian's `nginx-light`) and
//! nats-server (JetStream) itself, through [`crate::cluster`], and measures:
//!
//! | case | what it shows |
//! |---|---|
//! | [`proxy`] | every transport direct, behind the `lab` nginx and behind the `naive` one: what breaks, what the hop costs |
//! | [`idle`] | idle streams through each proxy, with keep-alive shorter and longer than its read timeout |
//! | [`scale_out`] | 1, 2, 3 nodes on the broker behind the proxy: throughput, latency, the broker hop, CPU per node |
//! | [`failover`] | a node killed mid-run: reconnects through the proxy, resume by seq, loss (goal 0) |
//! | [`connections`] | 100 000 concurrent streaming connections over several nodes and client processes |
//!
//! Each case starts its own processes on ephemeral ports and stops them; nothing is pinned
//! (several processes share two cores). [`Scale::full`] is the suite, [`Scale::small`] the
//! tests' version of every case.

pub mod connections;
pub mod failover;
pub mod idle;
pub mod lab;
pub mod proxy;
pub mod scale_out;
pub mod section;

use std::time::Duration;

use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

use lab::Lab;

/// The suite's sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    /// New connections per second while ramping up.
    pub connect_rate: f64,
    /// Warm-up before each window.
    #[serde(with = "crate::reliability::scale::seconds")]
    pub warmup: Duration,
    /// Proxy case: subscribers, rate, window, transports.
    pub proxy_clients: u64,
    /// Proxy case: events/s.
    pub proxy_rate: u64,
    /// Proxy case: the window.
    #[serde(with = "crate::reliability::scale::seconds")]
    pub proxy_window: Duration,
    /// Proxy case: the transports.
    pub proxy_transports: Vec<Transport>,
    /// Run the idle-streams case (it takes the proxies' read timeouts: about 90 s).
    pub idle: bool,
    /// Scale-out: subscribers.
    pub scale_out_clients: u64,
    /// Scale-out: events/s.
    pub scale_out_rate: u64,
    /// Scale-out: the window.
    #[serde(with = "crate::reliability::scale::seconds")]
    pub scale_out_window: Duration,
    /// Scale-out: most nodes.
    pub max_nodes: usize,
    /// Scale-out: the transports.
    pub scale_out_transports: Vec<Transport>,
    /// Failover: nodes.
    pub failover_nodes: usize,
    /// Failover: subscribers.
    pub failover_clients: u64,
    /// Failover: events/s.
    pub failover_rate: u64,
    /// Failover: the window (the kill is halfway).
    #[serde(with = "crate::reliability::scale::seconds")]
    pub failover_window: Duration,
    /// Failover: the transports.
    pub failover_transports: Vec<Transport>,
    /// Many connections: how many.
    pub connections: u64,
    /// Many connections: most per node (and per client process).
    pub connections_per_node: u64,
    /// Many connections: events/s.
    pub connections_rate: u64,
    /// Many connections: new connections per second while ramping up.
    pub connections_connect_rate: f64,
    /// Many connections: the window.
    #[serde(with = "crate::reliability::scale::seconds")]
    pub connections_window: Duration,
    /// Many connections: the transports.
    pub connections_transports: Vec<Transport>,
}

impl Scale {
    /// The suite's sizes.
    pub fn full() -> Self {
        Self {
            connect_rate: 1_000.0,
            warmup: Duration::from_secs(2),
            proxy_clients: 200,
            proxy_rate: 100,
            proxy_window: Duration::from_secs(8),
            proxy_transports: vec![
                Transport::Ws,
                Transport::Sse,
                Transport::LongPoll,
                Transport::ShortPoll,
            ],
            idle: true,
            scale_out_clients: 500,
            scale_out_rate: 200,
            scale_out_window: Duration::from_secs(10),
            max_nodes: 3,
            scale_out_transports: vec![Transport::Sse, Transport::Ws],
            failover_nodes: 3,
            failover_clients: 300,
            failover_rate: 100,
            failover_window: Duration::from_secs(12),
            failover_transports: vec![
                Transport::Sse,
                Transport::Ws,
                Transport::LongPoll,
                Transport::ShortPoll,
            ],
            connections: 100_000,
            connections_per_node: connections::PER_NODE,
            connections_rate: 1,
            connections_connect_rate: 5_000.0,
            connections_window: Duration::from_secs(20),
            connections_transports: vec![Transport::Ws, Transport::Sse],
        }
    }

    /// The tests' sizes: a few clients, seconds per case, no idle case, 2 nodes.
    pub fn small() -> Self {
        Self {
            connect_rate: 500.0,
            warmup: Duration::from_millis(500),
            proxy_clients: 5,
            proxy_window: Duration::from_secs(2),
            idle: false,
            scale_out_clients: 10,
            scale_out_window: Duration::from_secs(2),
            max_nodes: 2,
            scale_out_transports: vec![Transport::Sse],
            failover_nodes: 2,
            failover_clients: 10,
            failover_window: Duration::from_secs(6),
            connections: 400,
            connections_per_node: 200,
            connections_rate: 5,
            connections_connect_rate: 1_000.0,
            connections_window: Duration::from_secs(2),
            connections_transports: vec![Transport::Sse],
            ..Self::full()
        }
    }

    /// Rough wall time of the suite, for the plan.
    pub fn estimated(&self) -> Duration {
        let per_run = |clients: u64, rate: f64, window: Duration| {
            self.warmup + window + Duration::from_secs_f64(clients as f64 / rate + 3.0)
        };
        let proxy = per_run(self.proxy_clients, self.connect_rate, self.proxy_window)
            * 3
            * self.proxy_transports.len() as u32;
        let idle = if self.idle {
            Duration::from_secs(95)
        } else {
            Duration::ZERO
        };
        let failover = per_run(
            self.failover_clients,
            self.connect_rate,
            self.failover_window,
        ) * self.failover_transports.len() as u32;
        let connections = per_run(
            self.connections,
            self.connections_connect_rate,
            self.connections_window,
        ) * self.connections_transports.len() as u32;
        proxy + idle + scale_out::estimated(self) + failover + connections
    }
}

/// Everything the suite measured: what `cluster.json` holds and the report reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    /// The sizes it ran at.
    pub scale: Option<Scale>,
    /// Proxy case, per transport and route.
    pub proxy: Vec<proxy::ProxyResult>,
    /// Idle streams.
    pub idle: Vec<idle::IdleResult>,
    /// Scale-out runs.
    pub scale_out: Vec<scale_out::ScaleOutResult>,
    /// Failover, per transport.
    pub failover: Vec<failover::FailoverResult>,
    /// Many connections, per transport.
    pub connections: Vec<connections::ConnectionsResult>,
}

/// Runs the suite, printing each case's line to stderr as it ends.
pub async fn run(lab: &Lab, scale: &Scale) -> ClusterReport {
    let mut report = ClusterReport {
        scale: Some(scale.clone()),
        ..ClusterReport::default()
    };
    for &t in &scale.proxy_transports {
        for r in proxy::run(lab, scale, t).await {
            eprintln!(
                "rtlab: proxy, {t} {}: {} of {} connected{}",
                r.route,
                r.connected,
                r.clients,
                r.run_error
                    .as_deref()
                    .or(r.error.as_deref())
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
            report.proxy.push(r);
        }
    }
    if scale.idle {
        eprintln!("rtlab: idle streams through each proxy (about 90 s)");
        report.idle = idle::run(lab).await;
    }
    for &t in &scale.scale_out_transports {
        report.scale_out.extend(scale_out::run(lab, scale, t).await);
    }
    for &t in &scale.failover_transports {
        let r = failover::run(lab, scale, t).await;
        eprintln!(
            "rtlab: failover, {t}: {} drops, {} reconnects, {} lost{}",
            r.drops,
            r.reconnects,
            r.lost,
            r.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        report.failover.push(r);
    }
    for &t in &scale.connections_transports {
        let r = connections::run(lab, scale, t).await;
        eprintln!(
            "rtlab: {} connections, {t}: {} held to the end, {} lost{}",
            r.clients,
            r.completed,
            r.lost,
            r.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        report.connections.push(r);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_suite_fits_in_a_quarter_hour_and_round_trips_through_json() {
        let est = Scale::full().estimated().as_secs();
        assert!((300..=900).contains(&est), "{est} s");
        assert!(Scale::small().estimated() < Scale::full().estimated());
        let json = serde_json::to_string(&Scale::full()).unwrap();
        assert_eq!(serde_json::from_str::<Scale>(&json).unwrap(), Scale::full());
    }
}
