//! A whole cluster on this machine: a broker, N server nodes, and a reverse proxy in front.
//!
//! One server process cannot hold the connections production feeds hold per machine (here a
//! process may open at most 20 000 files), and a real deployment runs several servers behind a
//! load balancer anyway. What makes that hard for real-time feeds is state: a client's stream
//! lives on one node, and the events must reach every node. rtlab's answer (the server's
//! `--broker`) is one NATS JetStream stream that every node publishes to and delivers from, so
//! every node serves the whole feed with the same `seq`, and a client may reconnect to any node
//! and resume: no sticky sessions.
//!
//! ```text
//!                 ┌──────── nginx (naive | lab), round-robin ────────┐
//!   clients ──►   │                                                  │
//!                 ▼                    ▼                             ▼
//!              node-1               node-2          …             node-N      (rtlab-server)
//!                 └────────────── nats-server -js ───────────────────┘        (one stream)
//! ```
//!
//! [`Cluster::start`] starts it all in that order (broker, nodes, proxy), each step waiting until
//! its process *answers*: nats-server greets a client, a node prints its `listening …` line, the
//! proxy answers `GET /stats` from a node. [`Cluster::stop`] stops them in the reverse order,
//! each with its own clean signal and `SIGKILL` after a timeout; [`Drop`] kills whatever is left,
//! and the temporary folder (the JetStream store, nginx's prefix) is removed. Every process is
//! started under a parent-death guard, so even a killed `rtlab` leaves no node or broker behind.
//!
//! | file | part |
//! |---|---|
//! | [`nats`] | the broker: nats-server with JetStream in a temporary store |
//! | [`nodes`] | the `rtlab-server` nodes, killed and restarted on their own ports |
//! | [`nginx`] | the proxy: the shipped `naive` and `lab` templates, rendered and run |
//! | [`child`] | the broker's and the proxy's process supervision |
//! | [`error`] | what can go wrong, each naming the program and what to do |

pub mod child;
pub mod error;
pub mod nats;
pub mod nginx;
pub mod nodes;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{ClusterError, NATS_SERVER_VAR, NGINX_VAR};
pub use nats::Nats;
pub use nginx::{Nginx, Proxy};
pub use nodes::{Node, NodeInfo, NodeSpec};

use crate::server_process::{ServerOptions, find_program};

/// Most nodes a cluster may have (`rtlab cluster --nodes`): far beyond what 2 cores run usefully,
/// below where start-up would take minutes.
pub const MAX_NODES: i64 = 64;

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// How many nodes (at least 1).
    pub nodes: usize,
    /// The proxy in front, if any.
    pub proxy: Option<Proxy>,
    /// Start nats-server and pass `--broker` to the nodes; without it, the nodes are independent
    /// embedded servers (a proxy-only setup).
    pub broker: bool,
    /// The `rtlab-server` binary.
    pub server_bin: PathBuf,
    /// Every node's settings.
    pub server: ServerOptions,
    /// Further `rtlab-server` arguments for every node.
    pub extra_server_args: Vec<OsString>,
    /// Where the proxy listens (a free loopback port if `None`).
    pub proxy_listen: Option<SocketAddr>,
    /// The proxy's read timeout, if not its template's own (tests shorten it).
    pub proxy_read_timeout: Option<Duration>,
}

/// A running cluster. Stop it with [`Cluster::stop`]; dropping it kills everything left.
#[derive(Debug)]
pub struct Cluster {
    // Declared in stop order: fields drop top to bottom, so even a plain drop kills the proxy
    // before the nodes and the nodes before the broker. The temporary folder goes last.
    nginx: Option<Nginx>,
    nodes: Vec<Node>,
    spec: NodeSpec,
    nats: Option<Nats>,
    temp: TempDir,
}

impl Cluster {
    /// Starts the broker (if asked), the nodes, and the proxy (if asked), each once the one
    /// before it answers. On any failure, whatever was started is stopped before returning.
    pub async fn start(opts: &ClusterOptions) -> Result<Cluster, ClusterError> {
        // Both found before anything starts: a missing program costs nothing to report.
        let (nats_bin, nginx_bin) = find_programs(opts)?;
        let temp = TempDir::new()?;
        let nats = match &nats_bin {
            Some(bin) => {
                let store = nats::store_dir(&temp.path);
                std::fs::create_dir(&store).map_err(ClusterError::TempDir)?;
                Some(Nats::start(bin, &store).await?)
            }
            None => None,
        };
        let spec = NodeSpec {
            server_bin: opts.server_bin.clone(),
            server: opts.server.clone(),
            broker: nats.as_ref().map(Nats::url),
            extra_args: opts.extra_server_args.clone(),
        };
        let mut cluster = Cluster {
            nginx: None,
            nodes: Vec::with_capacity(opts.nodes),
            spec,
            nats,
            temp,
        };
        for index in 0..opts.nodes.max(1) {
            match Node::start(&cluster.spec, index).await {
                Ok(node) => cluster.nodes.push(node),
                Err(cause) => {
                    cluster.stop().await;
                    return Err(ClusterError::Node {
                        node: Node::name_at(index),
                        cause,
                    });
                }
            }
        }
        if let (Some(proxy), Some(bin)) = (opts.proxy, &nginx_bin) {
            let prefix = cluster.temp.path.join("nginx");
            let started = match std::fs::create_dir(&prefix) {
                Ok(()) => {
                    let upstreams: Vec<SocketAddr> =
                        cluster.nodes.iter().map(|n| n.info().http).collect();
                    Nginx::start(
                        bin,
                        proxy,
                        opts.proxy_listen,
                        &upstreams,
                        &prefix,
                        opts.proxy_read_timeout,
                    )
                    .await
                }
                Err(e) => Err(ClusterError::TempDir(e)),
            };
            match started {
                Ok(nginx) => cluster.nginx = Some(nginx),
                Err(e) => {
                    cluster.stop().await;
                    return Err(e);
                }
            }
        }
        Ok(cluster)
    }

    /// Where clients connect: the proxy if there is one, else the first node.
    pub fn front(&self) -> SocketAddr {
        match &self.nginx {
            Some(n) => n.addr(),
            None => self.nodes[0].info().http,
        }
    }

    /// `http://` + [`front`](Self::front).
    pub fn front_url(&self) -> String {
        format!("http://{}", self.front())
    }

    /// The broker's `nats://ADDR`, if there is a broker.
    pub fn nats_url(&self) -> Option<String> {
        self.nats.as_ref().map(Nats::url)
    }

    /// The broker's process id, if there is a broker.
    pub fn nats_pid(&self) -> Option<u32> {
        self.nats.as_ref().map(Nats::pid)
    }

    /// The proxy's master process id, if there is a proxy.
    pub fn nginx_pid(&self) -> Option<u32> {
        self.nginx.as_ref().map(Nginx::pid)
    }

    /// Every node's name, addresses and pid, in order.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.nodes.iter().map(Node::info).collect()
    }

    /// The last lines node `index` wrote (for a failure message).
    pub fn node_tail(&self, index: usize) -> Result<String, ClusterError> {
        Ok(self.node(index)?.tail())
    }

    /// Kills node `index` (0-based) with `SIGKILL`, as a crash, and waits until it is gone.
    pub async fn kill_node(&mut self, index: usize) -> Result<(), ClusterError> {
        self.node_mut(index)?.kill().await;
        Ok(())
    }

    /// Restarts node `index` (0-based) under its name on its ports (stopping it first if it
    /// still runs), and waits until it listens.
    pub async fn restart_node(&mut self, index: usize) -> Result<(), ClusterError> {
        let spec = self.spec.clone();
        let node = self.node_mut(index)?;
        node.restart(&spec)
            .await
            .map_err(|cause| ClusterError::Node {
                node: Node::name_at(index),
                cause,
            })
    }

    /// The first process that has exited on its own, named (`node-2`, `nginx`, `nats-server`):
    /// a cluster that lost a part is no longer the cluster that was announced.
    pub fn exited(&self) -> Option<String> {
        if let Some(n) = self.nodes.iter().find(|n| n.exited()) {
            return Some(n.info().name);
        }
        if self.nginx.as_ref().is_some_and(Nginx::exited) {
            return Some(nginx::NGINX.into());
        }
        if self.nats.as_ref().is_some_and(Nats::exited) {
            return Some(nats::NATS_SERVER.into());
        }
        None
    }

    /// Stops everything, proxy first (no new requests reach a stopping node), then the nodes
    /// (together: each closes its clients in order), then the broker the nodes were using.
    pub async fn stop(&mut self) {
        if let Some(nginx) = &mut self.nginx {
            nginx.stop().await;
        }
        let stops = self.nodes.iter_mut().map(Node::stop);
        futures_util::future::join_all(stops).await;
        if let Some(nats) = &mut self.nats {
            nats.stop().await;
        }
    }

    fn node(&self, index: usize) -> Result<&Node, ClusterError> {
        let nodes = self.nodes.len();
        self.nodes
            .get(index)
            .ok_or(ClusterError::NoSuchNode { index, nodes })
    }

    fn node_mut(&mut self, index: usize) -> Result<&mut Node, ClusterError> {
        let nodes = self.nodes.len();
        self.nodes
            .get_mut(index)
            .ok_or(ClusterError::NoSuchNode { index, nodes })
    }
}

/// Finds the helper programs `opts` needs (nats-server with a broker, nginx with a proxy), or
/// says which Debian package is missing.
pub fn find_programs(
    opts: &ClusterOptions,
) -> Result<(Option<PathBuf>, Option<PathBuf>), ClusterError> {
    let nats = match opts.broker {
        true => Some(program(
            nats::NATS_SERVER,
            nats::NATS_PACKAGE,
            NATS_SERVER_VAR,
        )?),
        false => None,
    };
    let nginx = match opts.proxy {
        Some(_) => Some(program(nginx::NGINX, nginx::NGINX_PACKAGE, NGINX_VAR)?),
        None => None,
    };
    Ok((nats, nginx))
}

/// Finds a helper program: at the path in `variable` if it is set (`RTLAB_NATS_SERVER`,
/// `RTLAB_NGINX`), else on `PATH`, else in `/usr/sbin` (where Debian installs both, and which an
/// unprivileged user's `PATH` may lack); or says which Debian package provides it.
fn program(
    name: &'static str,
    package: &'static str,
    variable: &str,
) -> Result<PathBuf, ClusterError> {
    let missing = |looked: String| ClusterError::MissingProgram {
        program: name,
        package,
        looked,
    };
    if let Some(path) = std::env::var_os(variable) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(missing(format!("at {} ({variable})", path.display())))
        };
    }
    find_program(name)
        .or_else(|| {
            let sbin = Path::new("/usr/sbin").join(name);
            sbin.is_file().then_some(sbin)
        })
        .ok_or_else(|| missing("on PATH or in /usr/sbin".into()))
}

/// A fresh folder under the system's temp dir, removed (with everything in it) on drop.
#[derive(Debug)]
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<Self, ClusterError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "rtlab-cluster-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).map_err(ClusterError::TempDir)?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
