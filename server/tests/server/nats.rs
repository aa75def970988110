//! A real `nats-server` with JetStream for the cluster tests: started on a free port with its own
//! store directory, killed (and the directory removed) on drop.
//!
//! The tests need the real broker, since what they check (stream sequences, duplicate windows,
//! reconnection) is the broker's behaviour as much as ours; Debian's `nats-server` package puts it
//! at [`NATS_SERVER`] (`scripts/setup-test-deps` installs it). Without it the tests fail, loudly.
//!
//! The port is chosen by the server (`-p -1`) and read from its log, so parallel tests never
//! collide; [`Nats::restart`] brings the broker back on the same port and store, as an operator's
//! restart would.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::within;

/// Where Debian's `nats-server` package installs the server.
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// A running `nats-server -js`; killed on drop.
pub struct Nats {
    child: Option<Child>,
    port: u16,
    store: PathBuf,
}

impl Nats {
    /// Starts a fresh broker with JetStream on 127.0.0.1 and a free port, with an empty store.
    pub async fn start() -> Nats {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let store = std::env::temp_dir().join(format!(
            "rtlab-nats-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&store);
        std::fs::create_dir_all(&store).expect("create the JetStream store directory");
        let (child, port) = launch(&store, None).await;
        Nats {
            child: Some(child),
            port,
            store,
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the broker at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill nats-server");
        }
    }

    /// Starts the broker again on the same port and store.
    pub async fn restart(&mut self) {
        self.kill().await;
        let (child, _) = launch(&self.store, Some(self.port)).await;
        self.child = Some(child);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// Starts `nats-server -js` on `port` (or a free one) and waits for "Server is ready"; returns
/// the child and its client port.
async fn launch(store: &Path, port: Option<u16>) -> (Child, u16) {
    assert!(
        Path::new(NATS_SERVER).exists(),
        "{NATS_SERVER} is missing: run scripts/setup-test-deps (Debian package nats-server)"
    );
    let port_arg = port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
    let mut child = Command::new(NATS_SERVER)
        .args(["-js", "-a", "127.0.0.1", "-p", &port_arg, "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start nats-server");
    let mut log = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let port = within("nats-server ready", async {
        let mut port = port;
        while let Some(line) = log.next_line().await.expect("nats-server log") {
            // "[INF] Listening for client connections on 127.0.0.1:PORT"
            if let Some(addr) = line.split("client connections on ").nth(1) {
                port = addr.trim().rsplit(':').next().and_then(|p| p.parse().ok());
            }
            if line.contains("Server is ready") {
                return port.expect("the client port in the log");
            }
        }
        panic!("nats-server exited before it was ready");
    })
    .await;
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
    (child, port)
}
