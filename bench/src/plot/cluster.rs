//! The cluster suite's charts: what a proxy hop costs, and what nodes on a broker cost.
//!
//! [`proxy_chart`] puts each transport's latency p50 and p99 over the three routes (straight to
//! the node, behind the `lab` nginx, behind the `naive` one); a transport the route broke (the
//! WebSocket behind `naive`) has no point there, which is the finding. [`scale_out_chart`] puts
//! latency and CPU per 1 000 deliveries against the nodes behind the `lab` proxy: on two shared
//! cores more nodes spread the work (each node's share falls) but cannot add capacity.
//! Both are drawn from `cluster.json` alone, like every chart.

use super::panel::{Panel, PanelRow};
use crate::cluster_suite::ClusterReport;

/// The routes in the proxy chart's order, and their x.
const ROUTES: [&str; 3] = ["direct", "lab", "naive"];

/// A route's name for its x.
fn route_label(x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    ROUTES
        .get(i as usize)
        .map_or(String::new(), |r| (*r).into())
}

/// Nodes as an axis label: whole numbers only.
fn nodes_label(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

/// Latency p50 and p99 per route and transport; `None` without proxy rows.
pub fn proxy_chart(r: &ClusterReport) -> Option<PanelRow> {
    if r.proxy.is_empty() {
        return None;
    }
    let mut p50 = Panel::new("latency p50", "route", "latency (ms, log)");
    let mut p99 = Panel::new("latency p99", "route", "latency (ms, log)");
    for p in [&mut p50, &mut p99] {
        p.x_log = false;
        p.x_fmt = route_label;
    }
    let mut transports: Vec<_> = r.proxy.iter().filter_map(|x| x.transport).collect();
    transports.dedup();
    for t in transports {
        let points = |pick: fn(&crate::cluster_suite::proxy::ProxyResult) -> f64| {
            r.proxy
                .iter()
                .filter(|x| x.transport == Some(t) && x.connected > 0 && x.run_error.is_none())
                .filter_map(|x| {
                    let i = ROUTES.iter().position(|r| *r == x.route)?;
                    Some((i as f64, pick(x) / 1e3))
                })
                .collect::<Vec<_>>()
        };
        p50.push_measured(t, points(|x| x.latency_us.p50));
        p99.push_measured(t, points(|x| x.latency_us.p99));
    }
    Some(PanelRow {
        name: "cluster-proxy",
        title: "Through nginx: latency per route (no point: the route broke the transport)".into(),
        panels: vec![p50, p99],
    })
}

/// Latency and CPU per 1 000 deliveries against nodes behind the `lab` proxy; `None` without
/// scale-out rows.
pub fn scale_out_chart(r: &ClusterReport) -> Option<PanelRow> {
    let proxied: Vec<_> = r
        .scale_out
        .iter()
        .filter(|x| x.proxied && x.error.is_none())
        .collect();
    if proxied.is_empty() {
        return None;
    }
    let mut latency = Panel::new("latency p50 and p99", "nodes", "latency (ms, log)");
    let mut cpu = Panel::new(
        "nodes' CPU per 1 000 deliveries, and each node's share",
        "nodes",
        "CPU (ms per 1 000 deliveries)",
    );
    for p in [&mut latency, &mut cpu] {
        p.x_log = false;
        p.x_fmt = nodes_label;
    }
    cpu.y_log = false;
    let mut transports: Vec<_> = proxied.iter().filter_map(|x| x.transport).collect();
    transports.dedup();
    for t in transports {
        let of_t: Vec<_> = proxied.iter().filter(|x| x.transport == Some(t)).collect();
        let series =
            |f: &dyn Fn(&crate::cluster_suite::scale_out::ScaleOutResult) -> Option<f64>| {
                of_t.iter()
                    .filter_map(|x| Some((x.nodes as f64, f(x)?)))
                    .collect::<Vec<_>>()
            };
        latency
            .series
            .push((t, "p50".into(), series(&|x| Some(x.latency_us.p50 / 1e3))));
        latency
            .series
            .push((t, "p99".into(), series(&|x| Some(x.latency_us.p99 / 1e3))));
        cpu.series
            .push((t, "all nodes".into(), series(&|x| x.nodes_cpu_ms_per_1000)));
        cpu.series.push((
            t,
            "per node".into(),
            series(&|x| Some(x.nodes_cpu_ms_per_1000? / x.nodes.max(1) as f64)),
        ));
    }
    Some(PanelRow {
        name: "cluster-scale-out",
        title: "Nodes on one NATS JetStream stream behind the lab proxy (two shared cores)".into(),
        panels: vec![latency, cpu],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_suite::proxy::ProxyResult;
    use rtlab_wire::Transport;

    #[test]
    fn a_broken_route_has_no_point_and_labels_name_the_routes() {
        let row = |route: &str, connected: u64| ProxyResult {
            transport: Some(Transport::Ws),
            route: route.into(),
            connected,
            ..ProxyResult::default()
        };
        let chart = proxy_chart(&ClusterReport {
            proxy: vec![row("direct", 5), row("lab", 5), row("naive", 0)],
            ..ClusterReport::default()
        })
        .unwrap();
        assert_eq!(chart.panels[0].series[0].2.len(), 2);
        assert_eq!(route_label(1.0), "lab");
        assert_eq!(route_label(0.5), "");
        assert!(scale_out_chart(&ClusterReport::default()).is_none());
    }
}
