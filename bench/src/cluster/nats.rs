//! The broker: a `nats-server` with JetStream, in a temporary store, on an ephemeral port.
//!
//! In cluster mode every node publishes the events it originates to one JetStream stream and
//! delivers that stream to its own subscribers (the server's side of it is `--broker`). The lab's
//! broker is a single nats-server, started fresh for each cluster:
//!
//! ```text
//! nats-server -js -sd <temp dir> -a 127.0.0.1 -p -1
//! ```
//!
//! - `-js -sd DIR`: JetStream on, its files in a temporary folder that is removed afterwards, so
//!   every cluster starts from an empty stream (sequence 1) and nothing accumulates on disk;
//! - `-a 127.0.0.1`: loopback only, like everything the lab starts;
//! - `-p -1`: the OS picks a free port, which nats-server names in its log
//!   (`Listening for client connections on 127.0.0.1:PORT`): no port is ever guessed;
//! - ready means its log said `Server is ready` *and* a TCP client is greeted with the protocol's
//!   `INFO {…}` line: the port answers, not just the process.
//!
//! A production deployment would run a cluster of three nats-servers with the stream replicated
//! (`R3`), so losing the broker machine loses nothing; one is enough to measure the hop.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

use super::child::{Child, StartupLines};
use super::error::ClusterError;

/// The program, and the Debian package that provides it.
pub const NATS_SERVER: &str = "nats-server";
/// Debian's package of [`NATS_SERVER`].
pub const NATS_PACKAGE: &str = "nats-server";
/// Longest wait for the broker to answer.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// What nats-server logs once its client port is open.
const LISTENING: &str = "Listening for client connections on ";
/// What it logs once JetStream and every listener are up.
const READY: &str = "Server is ready";

/// A running nats-server with JetStream; stopped by [`Nats::stop`], killed on drop.
#[derive(Debug)]
pub struct Nats {
    child: Child,
    addr: SocketAddr,
}

impl Nats {
    /// Starts nats-server with its JetStream store in `store` (an empty folder the caller owns
    /// and removes), and waits until it answers.
    pub async fn start(program: &Path, store: &Path) -> Result<Self, ClusterError> {
        let args: Vec<OsString> = vec![
            "-js".into(),
            "-sd".into(),
            store.as_os_str().into(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            "-1".into(),
        ];
        let (child, lines) =
            Child::spawn(NATS_SERVER, program, &args).map_err(|cause| ClusterError::Spawn {
                program: NATS_SERVER,
                cause,
            })?;
        let addr = match tokio::time::timeout(STARTUP_TIMEOUT, await_ready(lines)).await {
            Ok(Some(addr)) => addr,
            Ok(None) => {
                let status = tokio::time::timeout(Duration::from_secs(2), child.exited()).await;
                return Err(startup_error(
                    &child,
                    match status {
                        Ok(s) => format!("it exited ({s}) before it was ready"),
                        Err(_) => "its output ended before it was ready".into(),
                    },
                ));
            }
            Err(_) => {
                return Err(startup_error(
                    &child,
                    format!("not ready within {STARTUP_TIMEOUT:?}"),
                ));
            }
        };
        if let Err(e) = greeted(addr).await {
            return Err(startup_error(
                &child,
                format!("{addr} does not greet a client: {e}"),
            ));
        }
        Ok(Nats { child, addr })
    }

    /// Its client address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `nats://ADDR`, as `rtlab-server --broker` takes it.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Whether it has exited.
    pub fn exited(&self) -> bool {
        self.child.exit_status().is_some()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Stops it (`SIGTERM`: nats-server shuts JetStream down cleanly), `SIGKILL` after a timeout.
    pub async fn stop(&mut self) {
        self.child.stop(Signal::SIGTERM).await;
    }
}

/// Reads the start-up log until the port is named and the server is ready. `None` if the output
/// ends first (it exited).
async fn await_ready(mut lines: StartupLines) -> Option<SocketAddr> {
    let mut addr = None;
    while let Some(line) = lines.recv().await {
        if let Some(at) = listening_addr(&line) {
            addr = Some(at);
        }
        if line.contains(READY) && addr.is_some() {
            return addr;
        }
    }
    None
}

/// The address in `[pid] date [INF] Listening for client connections on 127.0.0.1:PORT`.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once(LISTENING)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Connects and reads the server's first line: NATS greets every client with `INFO {json}`.
async fn greeted(addr: SocketAddr) -> std::io::Result<()> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))??;
    let mut first = String::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        BufReader::new(stream).read_line(&mut first),
    )
    .await
    .map_err(|_| std::io::Error::other("no INFO line within 5 s"))??;
    if first.starts_with("INFO ") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "expected `INFO {{…}}`, got {first:?}"
        )))
    }
}

fn startup_error(child: &Child, reason: String) -> ClusterError {
    ClusterError::Startup {
        program: child.program(),
        reason,
        tail: child.tail(),
    }
}

/// Where the store goes inside the cluster's temporary folder.
pub fn store_dir(temp: &Path) -> PathBuf {
    temp.join("nats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_port_from_the_log() {
        let line = "[17004] 2026/11/28 04:02:25.150428 [INF] Listening for client connections on 127.0.0.1:37477";
        assert_eq!(
            listening_addr(line),
            Some("127.0.0.1:37477".parse().unwrap())
        );
        assert_eq!(listening_addr("[1] [INF] Server is ready"), None);
    }
}
