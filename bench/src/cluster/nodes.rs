//! The cluster's nodes: `rtlab-server` processes that share one feed through the broker.
//!
//! Each node is an ordinary server child ([`ServerProcess`], which starts, watches and stops it)
//! with a name and, in cluster mode, the broker to join:
//!
//! ```text
//! rtlab-server --addr 127.0.0.1:0 --tcp-addr 127.0.0.1:0 … --broker nats://ADDR --node node-K
//! ```
//!
//! Without a broker the node is the embedded single-process server: several of them behind a proxy
//! are then independent feeds (each its own `seq`), which is what the proxy-only tests need and
//! what a cluster must not be.
//!
//! A node can be killed (`SIGKILL`, like a crash: its clients see their connections drop without
//! a close) and restarted on the *same* ports, because the proxy in front names its nodes by
//! address: the restarted node is back in the proxy's rotation once nginx retries it.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::server_process::{Launch, ServerOptions, ServerProcess, ServerProcessError};

/// How every node of a cluster is started.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The `rtlab-server` binary.
    pub server_bin: PathBuf,
    /// The settings [`ServerProcess`] passes (rate, payload, limits).
    pub server: ServerOptions,
    /// `nats://ADDR` to pass as `--broker`, or `None` for independent embedded servers.
    pub broker: Option<String>,
    /// Further `rtlab-server` arguments, after the others.
    pub extra_args: Vec<OsString>,
}

/// One running node.
#[derive(Debug)]
pub struct Node {
    name: String,
    process: ServerProcess,
}

/// What a caller may know of a node: its name, addresses and process id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeInfo {
    /// `node-K`, as passed to `--node`.
    pub name: String,
    /// Its HTTP listener.
    pub http: SocketAddr,
    /// Its raw-TCP listener.
    pub tcp: SocketAddr,
    /// Its process id.
    pub pid: u32,
}

impl Node {
    /// The name of the node at `index` (0-based): `node-1`, `node-2`, …
    pub fn name_at(index: usize) -> String {
        format!("node-{}", index + 1)
    }

    /// Starts the node at `index` on ephemeral ports.
    pub async fn start(spec: &NodeSpec, index: usize) -> Result<Node, ServerProcessError> {
        let launch = Launch::default();
        Self::start_on(spec, Self::name_at(index), launch).await
    }

    /// Starts a node named `name` where `launch` says (plus the spec's broker and arguments).
    async fn start_on(
        spec: &NodeSpec,
        name: String,
        mut launch: Launch,
    ) -> Result<Node, ServerProcessError> {
        if let Some(broker) = &spec.broker {
            launch.extra_args.extend([
                "--broker".into(),
                broker.into(),
                "--node".into(),
                name.clone().into(),
            ]);
        }
        launch.extra_args.extend(spec.extra_args.iter().cloned());
        let process = ServerProcess::start_with(&spec.server_bin, &spec.server, &launch).await?;
        Ok(Node { name, process })
    }

    /// Its name, addresses and pid.
    pub fn info(&self) -> NodeInfo {
        NodeInfo {
            name: self.name.clone(),
            http: self.process.http,
            tcp: self.process.tcp,
            pid: self.process.pid(),
        }
    }

    /// Whether it has exited.
    pub fn exited(&self) -> bool {
        self.process.exit_status().is_some()
    }

    /// The last lines it wrote.
    pub fn tail(&self) -> String {
        self.process.tail()
    }

    /// `SIGKILL`, as a crash: no close frames, no end of streams.
    pub async fn kill(&mut self) {
        self.process.kill().await;
    }

    /// Stops it in order (`SIGTERM`, then `SIGKILL` after a timeout).
    pub async fn stop(&mut self) {
        self.process.stop().await;
    }

    /// Stops it if it still runs, then starts it again under the same name on the same ports.
    pub async fn restart(&mut self, spec: &NodeSpec) -> Result<(), ServerProcessError> {
        self.process.stop().await;
        let launch = Launch {
            http: self.process.http,
            tcp: self.process.tcp,
            extra_args: Vec::new(),
        };
        let fresh = Self::start_on(spec, self.name.clone(), launch).await?;
        self.process = fresh.process;
        Ok(())
    }
}
