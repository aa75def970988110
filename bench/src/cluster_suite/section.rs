//! The cluster report, in Markdown, written from [`ClusterReport`] alone (so `cluster.json` can be
//! re-read and the report rewritten without re-running). Every figure and every sentence that
//! judges comes from the data.

use std::fmt::Write as _;

use super::ClusterReport;
use super::proxy::ProxyResult;
use crate::table::md_table;

/// µs as ms, two decimals.
fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1e3)
}

/// An optional figure with a unit, or "–".
fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.2}{unit}"))
}

fn transport(t: Option<rtlab_wire::Transport>) -> &'static str {
    t.map_or("?", |t| t.as_str())
}

/// The whole report.
pub fn markdown(r: &ClusterReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "The feed through nginx (`scripts/nginx/naive.conf` and `lab.conf`) and across nodes on one \
         NATS JetStream stream, every process started by the lab on ephemeral ports. Two cores \
         are shared by every node, nginx, nats-server and the client, so nothing is pinned.\n"
    );
    proxy_section(&mut o, &r.proxy);
    idle_section(&mut o, r);
    scale_out_section(&mut o, r);
    failover_section(&mut o, r);
    connections_section(&mut o, r);
    o
}

fn proxy_section(o: &mut String, rows: &[ProxyResult]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Through a proxy\n");
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|x| {
            let status = x
                .ws_upgrade_status
                .map_or_else(|| "–".into(), |s| s.to_string());
            let outcome = x
                .run_error
                .clone()
                .or_else(|| x.error.clone())
                .unwrap_or_else(|| {
                    if x.errors.is_empty() {
                        "ok".into()
                    } else {
                        x.errors
                            .iter()
                            .map(|(k, v)| format!("{k}: {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                });
            let measured = x.connected > 0 && x.run_error.is_none();
            let fig = |v: f64| if measured { ms(v) } else { "–".into() };
            vec![
                transport(x.transport).into(),
                x.route.clone(),
                format!("{} of {}", x.connected, x.clients),
                status,
                fig(x.first_event_us.p50),
                fig(x.latency_us.p50),
                fig(x.latency_us.p99),
                x.lost.to_string(),
                opt(x.proxy_cpu_ms_per_1000_events, " ms"),
                outcome,
            ]
        })
        .collect();
    o.push_str(&md_table(
        &[
            "transport",
            "route",
            "connected",
            "ws upgrade status",
            "first event p50",
            "latency p50",
            "p99",
            "lost",
            "nginx CPU per 1 000 events",
            "what happened",
        ],
        &table,
    ));
    o.push('\n');
    // What the lab hop adds, and what naive broke, per transport: computed from the rows.
    let mut transports: Vec<_> = rows.iter().filter_map(|x| x.transport).collect();
    transports.dedup();
    for t in transports {
        let of = |route: &str| {
            rows.iter()
                .find(|x| x.transport == Some(t) && x.route == route)
        };
        if let (Some(d), Some(l)) = (of("direct"), of("lab"))
            && d.connected > 0
            && l.connected > 0
        {
            let _ = writeln!(
                o,
                "- {t}: the `lab` hop added {:+.2} ms at p50 and {:+.2} ms at p99{}.",
                (l.latency_us.p50 - d.latency_us.p50) / 1e3,
                (l.latency_us.p99 - d.latency_us.p99) / 1e3,
                l.proxy_cpu_ms_per_1000_events
                    .map(|c| format!(", and nginx spent {c:.2} ms of CPU per 1 000 events"))
                    .unwrap_or_default()
            );
        }
        if let Some(n) = of("naive") {
            let broke = n.connected < n.clients || n.run_error.is_some();
            let _ = writeln!(
                o,
                "- {t} behind `naive`: {}",
                if broke {
                    format!(
                        "{} of {} connected{}",
                        n.connected,
                        n.clients,
                        n.ws_upgrade_status
                            .map(|s| format!(" (the upgrade was answered {s}, not 101)"))
                            .unwrap_or_default()
                    )
                } else {
                    format!(
                        "every subscriber connected; first event p50 {}, latency p99 {}",
                        ms(n.first_event_us.p50),
                        ms(n.latency_us.p99)
                    )
                }
            );
        }
    }
    o.push('\n');
}

fn idle_section(o: &mut String, r: &ClusterReport) {
    if r.idle.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Idle streams and the proxy's read timeout\n");
    let table: Vec<Vec<String>> = r
        .idle
        .iter()
        .map(|x| {
            vec![
                transport(x.transport).into(),
                x.route.clone(),
                format!("{:.0} s", x.read_timeout_s),
                format!("{:.0} s", x.keepalive_s),
                x.ended_after_s.map_or_else(
                    || format!("open after {:.0} s", x.watched_s),
                    |s| format!("cut after {s:.1} s"),
                ),
                if x.as_predicted() {
                    "as the timeouts predict".into()
                } else {
                    x.error.clone().unwrap_or_else(|| "NOT as predicted".into())
                },
            ]
        })
        .collect();
    o.push_str(&md_table(
        &[
            "transport",
            "proxy",
            "read timeout",
            "server keep-alive",
            "stream",
            "verdict",
        ],
        &table,
    ));
    o.push('\n');
}

fn scale_out_section(o: &mut String, r: &ClusterReport) {
    if r.scale_out.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Scale-out\n");
    let table: Vec<Vec<String>> = r
        .scale_out
        .iter()
        .map(|x| {
            vec![
                transport(x.transport).into(),
                x.label(),
                format!("{} of {}", x.connected, x.clients),
                format!("{:.0}", x.events_per_s),
                ms(x.latency_us.p50),
                ms(x.latency_us.p99),
                x.lost.to_string(),
                opt(x.nodes_cpu_ms_per_1000, " ms"),
                x.node_cpu_s
                    .iter()
                    .map(|c| format!("{c:.2}"))
                    .collect::<Vec<_>>()
                    .join(" / "),
                opt(x.proxy_cpu_ms_per_1000, " ms"),
                opt(x.broker_cpu_ms_per_1000, " ms"),
            ]
        })
        .collect();
    o.push_str(&md_table(
        &[
            "transport",
            "setup",
            "connected",
            "events/s",
            "p50",
            "p99",
            "lost",
            "nodes' CPU per 1 000",
            "CPU s per node",
            "nginx CPU per 1 000",
            "nats CPU per 1 000",
        ],
        &table,
    ));
    o.push('\n');
    let mut transports: Vec<_> = r.scale_out.iter().filter_map(|x| x.transport).collect();
    transports.dedup();
    for t in transports {
        let runs: Vec<_> = r
            .scale_out
            .iter()
            .filter(|x| x.transport == Some(t) && x.error.is_none())
            .collect();
        let embedded = runs.iter().find(|x| !x.broker);
        let hop = runs.iter().find(|x| x.broker && !x.proxied);
        if let (Some(e), Some(h)) = (embedded, hop) {
            let _ = writeln!(
                o,
                "- {t}: the broker hop added {:+.2} ms at p50 ({} → {}) and {:+.2} ms at p99.",
                (h.latency_us.p50 - e.latency_us.p50) / 1e3,
                ms(e.latency_us.p50),
                ms(h.latency_us.p50),
                (h.latency_us.p99 - e.latency_us.p99) / 1e3
            );
        }
        if let Some(widest) = runs.iter().filter(|x| x.proxied).max_by_key(|x| x.nodes)
            && let Some(cap) = widest.per_core_capacity()
        {
            let _ = writeln!(
                o,
                "- {t}: with {} nodes the nodes spent {} per 1 000 deliveries, so one core of \
                 another machine would carry about {:.0} deliveries/s; this machine's two \
                 cores are already shared by every process here, so adding nodes on it \
                 cannot add capacity.",
                widest.nodes,
                opt(widest.nodes_cpu_ms_per_1000, " ms"),
                cap
            );
        }
    }
    o.push('\n');
}

fn failover_section(o: &mut String, r: &ClusterReport) {
    if r.failover.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Failover\n");
    let table: Vec<Vec<String>> = r
        .failover
        .iter()
        .map(|x| {
            vec![
                transport(x.transport).into(),
                format!("{} → {}", x.nodes, x.nodes.saturating_sub(1)),
                format!("{} of {}", x.connected, x.clients),
                format!("{:.1} s", x.killed_at_s),
                x.drops.to_string(),
                x.reconnects.to_string(),
                x.gave_up.to_string(),
                if x.time_to_reconnect_us.count == 0 {
                    "–".into()
                } else {
                    format!(
                        "{} / {}",
                        ms(x.time_to_reconnect_us.p50),
                        ms(x.time_to_reconnect_us.p99)
                    )
                },
                x.lost.to_string(),
                x.duplicates.to_string(),
                if x.held() {
                    "held".into()
                } else {
                    x.error.clone().unwrap_or_else(|| "FAILED".into())
                },
            ]
        })
        .collect();
    o.push_str(&md_table(
        &[
            "transport",
            "nodes",
            "connected",
            "kill at",
            "drops",
            "reconnects",
            "gave up",
            "reconnect p50 / p99",
            "lost (goal 0)",
            "duplicates",
            "verdict",
        ],
        &table,
    ));
    o.push('\n');
}

fn connections_section(o: &mut String, r: &ClusterReport) {
    if r.connections.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Many connections\n");
    let table: Vec<Vec<String>> = r
        .connections
        .iter()
        .map(|x| {
            vec![
                transport(x.transport).into(),
                x.clients.to_string(),
                x.nodes.to_string(),
                x.connected.to_string(),
                x.completed.to_string(),
                x.lost.to_string(),
                ms(x.latency_us.p50),
                ms(x.latency_us.p99),
                ms(x.latency_us.max),
                opt(x.rss_per_connection().map(|b| b / 1024.0), " KiB"),
                if x.held() {
                    "held".into()
                } else {
                    x.error.clone().unwrap_or_else(|| "FAILED".into())
                },
            ]
        })
        .collect();
    o.push_str(&md_table(
        &[
            "transport",
            "asked",
            "nodes / client processes",
            "held",
            "to the end",
            "lost",
            "p50",
            "p99",
            "max",
            "server RSS per connection",
            "verdict",
        ],
        &table,
    ));
    o.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_suite::proxy::ProxyResult;
    use rtlab_wire::Transport;

    #[test]
    fn naive_breaking_a_websocket_is_said_from_the_rows() {
        let row = |route: &str, connected: u64, status: u16| ProxyResult {
            transport: Some(Transport::Ws),
            route: route.into(),
            clients: 5,
            connected,
            ws_upgrade_status: Some(status),
            ..ProxyResult::default()
        };
        let md = markdown(&ClusterReport {
            proxy: vec![
                row("direct", 5, 101),
                row("lab", 5, 101),
                row("naive", 0, 400),
            ],
            ..ClusterReport::default()
        });
        assert!(
            md.contains(
                "ws behind `naive`: 0 of 5 connected (the upgrade was answered 400, not 101)"
            ),
            "{md}"
        );
        assert!(md.contains("the `lab` hop added"), "{md}");
    }
}
