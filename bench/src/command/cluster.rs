//! `rtlab cluster`: a whole cluster in the foreground, for a person, a browser or a script.
//!
//! ```text
//! rtlab cluster --nodes 3 --proxy lab
//! cluster front=http://127.0.0.1:41234 nats=nats://127.0.0.1:40111 nodes=127.0.0.1:38001/1201,…
//! ```
//!
//! It starts the broker, the nodes and the proxy ([`crate::cluster`]), prints **one line on
//! stdout** once every process answers (the [`Announcement`]: a script reads it and knows where
//! to connect and which processes to watch), says what it is doing on stderr, and stays in the
//! foreground. Ctrl-C or SIGTERM stops every process it started and exits 0; so does nothing
//! else: if a process dies on its own, the cluster is no longer what was announced, so `rtlab`
//! stops the rest and exits non-zero naming it.
//!
//! The signals are caught *before* anything starts, so a signal during start-up stops what has
//! started so far instead of killing `rtlab` and orphaning it (the children's parent-death guard
//! would catch that too, but not nginx's workers).

use std::ffi::OsString;
use std::net::SocketAddr;

use anyhow::{Context, bail};

use super::Exit;
use super::signals::StopSignals;
use crate::cli::{ClusterArgs, on_loopback};
use crate::cluster::{Cluster, ClusterOptions, NodeInfo, Proxy};
use crate::server_process::{ServerOptions, locate_server};

/// What the start-up line says: where to connect, and every process started.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Announcement {
    /// `http://ADDR` of the proxy, or of the first node without one.
    pub front: String,
    /// `nats://ADDR` of the broker, `None` without one.
    pub nats: Option<String>,
    /// Every node, in order.
    pub nodes: Vec<AnnouncedNode>,
    /// The proxy's configuration, if any.
    pub proxy: Option<String>,
    /// nginx's master process id, if any.
    pub nginx_pid: Option<u32>,
    /// nats-server's process id, if any.
    pub nats_pid: Option<u32>,
}

/// A node as announced: its HTTP address and process id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AnnouncedNode {
    /// `node-K`.
    pub name: String,
    /// Its HTTP listener.
    pub http: SocketAddr,
    /// Its process id.
    pub pid: u32,
}

impl Announcement {
    /// What a started cluster looks like from outside.
    pub fn of(cluster: &Cluster, proxy: Option<Proxy>) -> Self {
        Announcement {
            front: cluster.front_url(),
            nats: cluster.nats_url(),
            nodes: cluster
                .nodes()
                .into_iter()
                .map(
                    |NodeInfo {
                         name, http, pid, ..
                     }| AnnouncedNode { name, http, pid },
                )
                .collect(),
            proxy: proxy.map(|p| p.name().to_owned()),
            nginx_pid: cluster.nginx_pid(),
            nats_pid: cluster.nats_pid(),
        }
    }

    /// `cluster front=http://ADDR nats=nats://ADDR nodes=ADDR/PID,ADDR/PID,...` (`nats=none`
    /// without a broker).
    pub fn line(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{}/{}", n.http, n.pid))
            .collect();
        format!(
            "cluster front={} nats={} nodes={}",
            self.front,
            self.nats.as_deref().unwrap_or("none"),
            nodes.join(",")
        )
    }

    /// Reads [`line`](Self::line) back: the front, the broker and the nodes (named in order).
    /// The line does not carry the proxy's or the broker's pid, so those are `None`.
    pub fn parse_line(line: &str) -> Option<Self> {
        let rest = line.trim().strip_prefix("cluster ")?;
        let (mut front, mut nats, mut nodes) = (None, None, None);
        for part in rest.split_whitespace() {
            if let Some(v) = part.strip_prefix("front=") {
                front = Some(v.to_owned());
            } else if let Some(v) = part.strip_prefix("nats=") {
                nats = Some((v != "none").then(|| v.to_owned()));
            } else if let Some(v) = part.strip_prefix("nodes=") {
                let parsed: Option<Vec<AnnouncedNode>> = v
                    .split(',')
                    .enumerate()
                    .map(|(i, n)| {
                        let (http, pid) = n.split_once('/')?;
                        Some(AnnouncedNode {
                            name: crate::cluster::Node::name_at(i),
                            http: http.parse().ok()?,
                            pid: pid.parse().ok()?,
                        })
                    })
                    .collect();
                nodes = Some(parsed?);
            }
        }
        Some(Announcement {
            front: front?,
            nats: nats?,
            nodes: nodes?,
            proxy: None,
            nginx_pid: None,
            nats_pid: None,
        })
    }
}

/// `rtlab cluster`: start, announce, wait for a stop signal (or a process dying), stop.
pub fn run(args: ClusterArgs) -> anyhow::Result<Exit> {
    if let Some(listen) = args.proxy_listen {
        on_loopback(listen).map_err(|why| anyhow::anyhow!("--proxy-listen {why}"))?;
    }
    let server_bin = locate_server(args.server_bin.as_deref())?;
    let opts = ClusterOptions {
        nodes: args.nodes as usize,
        proxy: args.proxy,
        broker: !args.no_broker,
        server_bin,
        server: ServerOptions {
            rate: args.rate,
            payload_bytes: args.payload_bytes,
            subscriber_queue: None,
            max_connections: args.max_connections,
            keepalive_interval: None,
            pin: false,
            tls: None,
        },
        extra_server_args: args.server_args.iter().map(OsString::from).collect(),
        proxy_listen: args.proxy_listen,
        proxy_read_timeout: None,
    };
    // Before any output: a missing program is the one line the user sees.
    crate::cluster::find_programs(&opts)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    rt.block_on(async {
        let mut signals = StopSignals::listen().context("cannot catch Ctrl-C")?;
        eprintln!("{}", plan(&opts));
        let mut cluster = tokio::select! {
            started = Cluster::start(&opts) => started?,
            name = signals.recv() => {
                // Dropping the half-started cluster kills what it had started.
                eprintln!("rtlab: {name} during start-up: stopped");
                return Ok(Exit::Interrupted);
            }
        };
        let announcement = Announcement::of(&cluster, opts.proxy);
        if args.json {
            println!("{}", serde_json::to_string(&announcement)?);
        } else {
            println!("{}", announcement.line());
        }
        eprintln!("rtlab: cluster up; Ctrl-C stops it");
        let lost = tokio::select! {
            name = signals.recv() => {
                eprintln!("rtlab: {name}: stopping the cluster");
                None
            }
            part = lost_part(&cluster) => Some(part),
        };
        cluster.stop().await;
        match lost {
            None => {
                eprintln!("rtlab: cluster stopped");
                Ok(Exit::Success)
            }
            Some(part) => bail!("{part} exited on its own; the rest of the cluster was stopped"),
        }
    })
}

/// Resolves with the name of the first process that exits on its own.
async fn lost_part(cluster: &Cluster) -> String {
    loop {
        if let Some(part) = cluster.exited() {
            return part;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// `starting nats-server, 3 nodes and nginx (lab)…` on stderr.
fn plan(opts: &ClusterOptions) -> String {
    let mut parts = Vec::new();
    if opts.broker {
        parts.push("nats-server (JetStream)".to_owned());
    }
    parts.push(match opts.nodes {
        1 => "1 node".to_owned(),
        n => format!("{n} nodes"),
    });
    if let Some(p) = opts.proxy {
        parts.push(format!("nginx ({})", p.name()));
    }
    format!("rtlab: starting {}…", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement(nats: Option<&str>) -> Announcement {
        Announcement {
            front: "http://127.0.0.1:9000".into(),
            nats: nats.map(str::to_owned),
            nodes: vec![
                AnnouncedNode {
                    name: "node-1".into(),
                    http: "127.0.0.1:8001".parse().unwrap(),
                    pid: 11,
                },
                AnnouncedNode {
                    name: "node-2".into(),
                    http: "127.0.0.1:8002".parse().unwrap(),
                    pid: 12,
                },
            ],
            proxy: None,
            nginx_pid: None,
            nats_pid: None,
        }
    }

    #[test]
    fn the_line_reads_back() {
        let a = announcement(Some("nats://127.0.0.1:4222"));
        assert_eq!(
            a.line(),
            "cluster front=http://127.0.0.1:9000 nats=nats://127.0.0.1:4222 \
             nodes=127.0.0.1:8001/11,127.0.0.1:8002/12"
        );
        assert_eq!(Announcement::parse_line(&a.line()), Some(a));
        let without = announcement(None);
        assert!(without.line().contains(" nats=none "));
        assert_eq!(Announcement::parse_line(&without.line()), Some(without));
        assert_eq!(Announcement::parse_line("listening http=1 tcp=2"), None);
        assert_eq!(
            Announcement::parse_line("cluster front=x nats=none nodes=127.0.0.1:1/x"),
            None
        );
    }
}
