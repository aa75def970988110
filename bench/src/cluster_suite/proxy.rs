//! Through a reverse proxy: every transport straight to the node, behind the `lab` nginx, and
//! behind the `naive` one.
//!
//! "Proxies may block or buffer WebSockets" is the claim; this case measures it. One node (no
//! broker: the proxy is the only difference), the same subscribers and rate, three routes:
//!
//! - **direct**: the client talks to the node;
//! - **lab**: nginx with the configuration a real-time feed needs (`scripts/nginx/lab.conf`);
//! - **naive**: nginx with `proxy_pass` alone (`scripts/nginx/naive.conf`).
//!
//! Per route and transport it records what connected, the WebSocket upgrade's status (a raw
//! handshake through the route: nginx's default speaks HTTP/1.0 to the upstream and drops the
//! `Upgrade` header, so the node never sees an upgrade request), time to first event, latency
//! p50/p99 (what the hop adds is the difference to direct), and nginx's CPU per 1 000 events
//! delivered through it. The client does not reconnect here: a route that breaks a transport
//! should show broken, not retried.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use rtlab_client::report::LatencySummary;
use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Scale;
use super::lab::{Lab, client_config, cpu_ms_per_1000, cpu_with_children, node_options};
use crate::client_run::report_of;
use crate::cluster::Proxy;

/// How a client reaches the node.
pub const ROUTES: [Option<Proxy>; 3] = [None, Some(Proxy::Lab), Some(Proxy::Naive)];

/// The route's name in the report.
pub fn route_name(route: Option<Proxy>) -> &'static str {
    route.map_or("direct", Proxy::name)
}

/// One transport over one route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyResult {
    /// The transport.
    pub transport: Option<Transport>,
    /// `direct`, `lab` or `naive`.
    pub route: String,
    /// Subscribers asked for.
    pub clients: u64,
    /// Subscribers that connected.
    pub connected: u64,
    /// The status line's code of a WebSocket handshake through the route (ws only).
    pub ws_upgrade_status: Option<u16>,
    /// Events received in the window, per second.
    pub events_per_s: f64,
    /// Events missing from the subscribers' streams.
    pub lost: u64,
    /// Time to first event, µs.
    pub first_event_us: LatencySummary,
    /// Latency, µs.
    pub latency_us: LatencySummary,
    /// Failures by kind, as the client counted them.
    pub errors: BTreeMap<String, u64>,
    /// nginx's CPU (master and workers) per 1 000 events delivered through it, ms.
    pub proxy_cpu_ms_per_1000_events: Option<f64>,
    /// Why the client's run failed as a whole, if it did (a route that breaks the transport).
    pub run_error: Option<String>,
    /// What went wrong, if the case could not be measured.
    pub error: Option<String>,
}

/// Runs `transport` over every route.
pub async fn run(lab: &Lab, scale: &Scale, transport: Transport) -> Vec<ProxyResult> {
    let mut out = Vec::new();
    for route in ROUTES {
        out.push(one_route(lab, scale, transport, route).await);
    }
    out
}

async fn one_route(
    lab: &Lab,
    scale: &Scale,
    transport: Transport,
    route: Option<Proxy>,
) -> ProxyResult {
    let mut result = ProxyResult {
        transport: Some(transport),
        route: route_name(route).into(),
        clients: scale.proxy_clients,
        ..ProxyResult::default()
    };
    let mut cluster = match lab
        .cluster(1, route, false, node_options(scale.proxy_rate, 64))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    if transport == Transport::Ws {
        result.ws_upgrade_status = upgrade_status(cluster.front()).await;
    }
    let config = rtlab_client::RunConfig {
        control_url: Some(format!("http://{}", cluster.nodes()[0].http)),
        reconnect_give_up: None,
        ..client_config(
            &cluster.front_url(),
            transport,
            scale.proxy_clients,
            scale.warmup,
            scale.proxy_window,
            scale.connect_rate,
        )
    };
    let nginx = cluster.nginx_pid();
    let cpu_before = nginx.and_then(cpu_with_children);
    let run = rtlab_client::run(config).await;
    let cpu_after = nginx.and_then(cpu_with_children);
    cluster.stop().await;
    let report = match report_of(run) {
        Ok(r) => r,
        Err(e) => {
            result.run_error = Some(e);
            return result;
        }
    };
    result.connected = report.connected;
    result.events_per_s = report.events_per_s;
    result.lost = report.lost;
    result.first_event_us = report.first_event_us.clone();
    result.latency_us = report.latency_us.clone();
    result.errors = report.errors.clone();
    if let (Some(a), Some(b)) = (cpu_before, cpu_after) {
        result.proxy_cpu_ms_per_1000_events = cpu_ms_per_1000(b - a, report.events_received);
    }
    result
}

/// The status code of a WebSocket handshake to `front` (`None`: no HTTP answer).
pub async fn upgrade_status(front: SocketAddr) -> Option<u16> {
    let mut s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(front))
        .await
        .ok()?
        .ok()?;
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {front}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.ok()?;
    let mut head = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut head))
        .await
        .ok()?
        .ok()?;
    status_code(&head[..n])
}

/// The code of an HTTP status line (`HTTP/1.1 101 …`).
fn status_code(head: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(head).ok()?.lines().next()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_line_gives_its_code() {
        assert_eq!(
            status_code(b"HTTP/1.1 101 Switching Protocols\r\n"),
            Some(101)
        );
        assert_eq!(status_code(b"HTTP/1.1 400 Bad Request\r\n"), Some(400));
        assert_eq!(status_code(b"garbage"), None);
    }
}
