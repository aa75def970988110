//! What can go wrong with a cluster: each error names the program (`nats-server`, `nginx`, a
//! node) and, where the user can act, what to do (install a package, build the server).
//!
//! Its own module so that the cluster's parts (`nats`, `nginx`) and the cluster itself can all
//! return it without importing each other.

use crate::server_process::ServerProcessError;

/// The environment variable that points at the nats-server to run (default: found on `PATH`).
pub const NATS_SERVER_VAR: &str = "RTLAB_NATS_SERVER";
/// The environment variable that points at the nginx to run (default: found on `PATH`).
pub const NGINX_VAR: &str = "RTLAB_NGINX";

/// What can go wrong starting or running a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A program the cluster needs is not installed.
    #[error(
        "{program} not found {looked}: install Debian's `{package}` package (`bash scripts/setup-test-deps` does)"
    )]
    MissingProgram {
        /// The program (`nats-server`, `nginx`).
        program: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
        /// Where it was looked for (`on PATH or in /usr/sbin`, or `at PATH` from the variable).
        looked: String,
    },
    /// A program could not be spawned.
    #[error("cannot start {program}: {cause}")]
    Spawn {
        /// The program.
        program: &'static str,
        /// The OS error (in the message, so not also a `source()`).
        cause: std::io::Error,
    },
    /// A program started but did not become ready.
    #[error("{program} did not start: {reason}\n--- {program} output (last lines) ---\n{tail}")]
    Startup {
        /// The program.
        program: &'static str,
        /// What happened.
        reason: String,
        /// The last lines it wrote.
        tail: String,
    },
    /// A node did not start.
    #[error("{node}: {cause}")]
    Node {
        /// The node's name.
        node: String,
        /// Why (in the message, so not also a `source()`: printed once).
        cause: ServerProcessError,
    },
    /// An nginx template names a field the renderer does not fill.
    #[error("the {proxy} nginx template has an unknown field: {field}")]
    Template {
        /// `naive` or `lab`.
        proxy: &'static str,
        /// The line from the field on.
        field: String,
    },
    /// The temporary folder (or a file in it) could not be made.
    #[error("cannot prepare the cluster's temporary folder: {0}")]
    TempDir(std::io::Error),
    /// No node has that index.
    #[error("no node {index}: the cluster has {nodes}")]
    NoSuchNode {
        /// The index asked for (0-based).
        index: usize,
        /// How many nodes there are.
        nodes: usize,
    },
}
