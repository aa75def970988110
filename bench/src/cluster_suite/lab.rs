//! What every cluster case shares: starting a cluster the suite's way, running the lab's client
//! against it, and reading what the proxy and the nodes cost from `/proc`.
//!
//! A cluster here is [`crate::cluster::Cluster`], the same one `rtlab cluster` starts: nodes on
//! ephemeral ports, nats-server if the case needs the broker, nginx if it needs a proxy. Nothing
//! is pinned: with up to six processes on two cores, pinning would measure the pinning.
//!
//! **CPU of nginx.** nginx is a master and its workers; the master forwards nothing, the workers
//! do the proxying. Its cost is the sum over the master and its children (`/proc/PID/task/PID/
//! children`), read before and after the measured run.

use std::path::PathBuf;
use std::time::Duration;

use rtlab_client::RunConfig;
use rtlab_wire::Transport;

use crate::cluster::{Cluster, ClusterError, ClusterOptions, Proxy};
use crate::proc_sampler::read_sample;
use crate::server_process::ServerOptions;

/// Where the suite finds its programs.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The `rtlab-server` binary.
    pub server_bin: PathBuf,
    /// The `rtlab` binary, whose hidden `client-shard` subcommand runs one client process of a
    /// sharded run (the running `rtlab` itself in the suite; the tests name it).
    pub rtlab_bin: PathBuf,
}

impl Lab {
    /// Starts `nodes` nodes at `rate` events/s, with the broker if `broker`, behind `proxy`.
    pub async fn cluster(
        &self,
        nodes: usize,
        proxy: Option<Proxy>,
        broker: bool,
        server: ServerOptions,
    ) -> Result<Cluster, ClusterError> {
        Cluster::start(&ClusterOptions {
            nodes,
            proxy,
            broker,
            server_bin: self.server_bin.clone(),
            server,
            extra_server_args: Vec::new(),
            proxy_listen: None,
            proxy_read_timeout: None,
        })
        .await
    }
}

/// A node's settings for the suite: `rate` events/s of `payload_bytes`, nothing pinned.
pub fn node_options(rate: u64, payload_bytes: u64) -> ServerOptions {
    ServerOptions {
        rate,
        payload_bytes,
        subscriber_queue: None,
        max_connections: 19_000,
        keepalive_interval: None,
        pin: false,
        tls: None,
    }
}

/// The client's run against `url`: `clients` subscribers of `transport`, a warm-up, a window.
pub fn client_config(
    url: &str,
    transport: Transport,
    clients: u64,
    warmup: Duration,
    window: Duration,
    connect_rate: f64,
) -> RunConfig {
    let url = match transport {
        Transport::Tcp => url.replacen("http://", "tcp://", 1),
        _ => url.to_owned(),
    };
    RunConfig {
        clients,
        warmup,
        duration: window,
        connect_rate,
        ..RunConfig::new(transport, url)
    }
}

/// CPU seconds so far of process `pid` and its children (nginx's master and workers); `None`
/// once it is gone.
pub fn cpu_with_children(pid: u32) -> Option<f64> {
    let own = read_sample(pid).ok()?.cpu_s;
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
        .filter_map(|c| read_sample(c).ok())
        .map(|s| s.cpu_s)
        .sum::<f64>();
    Some(own + children)
}

/// CPU ms per 1 000 deliveries: `cpu_s` spent over `deliveries` (`None` under 50 ms of CPU,
/// five of the kernel's 10 ms ticks, too few to divide, or without deliveries).
pub fn cpu_ms_per_1000(cpu_s: f64, deliveries: u64) -> Option<f64> {
    (cpu_s >= 0.05 && deliveries > 0).then(|| cpu_s * 1e3 / (deliveries as f64 / 1e3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_per_thousand_needs_enough_ticks_and_deliveries() {
        assert_eq!(cpu_ms_per_1000(0.04, 1_000), None);
        assert_eq!(cpu_ms_per_1000(1.0, 0), None);
        assert_eq!(cpu_ms_per_1000(0.5, 100_000), Some(5.0));
    }

    #[test]
    fn this_process_has_cpu_and_a_tcp_url_becomes_tcp() {
        assert!(cpu_with_children(std::process::id()).is_some());
        let c = client_config(
            "http://127.0.0.1:1",
            Transport::Tcp,
            1,
            Duration::ZERO,
            Duration::from_secs(1),
            10.0,
        );
        assert_eq!(c.url, "tcp://127.0.0.1:1");
    }
}
