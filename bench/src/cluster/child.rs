//! A helper program of the cluster (nats-server, nginx) as a supervised child process.
//!
//! The nodes are `rtlab-server`s and have their own supervisor ([`crate::server_process`]), which
//! knows their `listening …` line. The broker and the proxy need the same care without that line:
//!
//! - **never left behind**: started through `setpriv --pdeathsig KILL` (the kernel kills it if
//!   `rtlab` itself is killed), in a process group of its own (a terminal's Ctrl-C reaches only
//!   `rtlab`, which then stops everything in order; and nginx's workers share the group, so one
//!   signal to the group reaches them all), and killed — group and all — on [`Drop`];
//! - **stopped in order**: a chosen signal (nginx's fast shutdown is `SIGTERM`, nats-server's
//!   clean one too), then `SIGKILL` to the group after a timeout;
//! - **explained**: the last lines it wrote are kept for the error that reports a failed start;
//!   during start-up every line is also handed to the caller, which looks for the one that says
//!   "ready" (nats-server's `Listening for client connections on ADDR`).
//!
//! One gap, said plainly: nginx's workers are children of nginx's master, not of `rtlab`, so if
//! `rtlab` is killed with `SIGKILL` the master dies with it but its workers are orphaned until
//! they are killed by hand. Every other way out (Ctrl-C, `SIGTERM`, an error, a panic) stops them.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};

use crate::server_process::{exit_status_unknown, find_program, push_tail};

/// Longest wait after the stop signal before `SIGKILL`.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(6);

/// A running helper program; stopped by [`Child::stop`], killed (with its group) on drop.
#[derive(Debug)]
pub struct Child {
    program: &'static str,
    pid: u32,
    exit: watch::Receiver<Option<ExitStatus>>,
    tail: Arc<Mutex<VecDeque<String>>>,
}

/// The lines a child writes (stdout and stderr, interleaved as they come) during its start-up;
/// dropped once it is up, after which the lines only go to the tail.
pub type StartupLines = mpsc::UnboundedReceiver<String>;

impl Child {
    /// Spawns `program args…` under the parent-death guard, in its own process group.
    pub fn spawn(
        program: &'static str,
        path: &Path,
        args: &[OsString],
    ) -> std::io::Result<(Child, StartupLines)> {
        static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
        let setpriv = SETPRIV.get_or_init(|| find_program("setpriv")).clone();
        // `setpriv --pdeathsig KILL -- program …` execs the program, which keeps the pid spawned.
        let mut cmd = match &setpriv {
            Some(guard) => {
                let mut c = Command::new(guard);
                c.args(["--pdeathsig", "KILL", "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or(0);
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (lines_tx, lines) = mpsc::unbounded_channel();
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward(out, tail.clone(), lines_tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward(err, tail.clone(), lines_tx));
        }
        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = child.wait().await.ok();
            let _ = tx.send(Some(status.unwrap_or_else(exit_status_unknown)));
        });
        Ok((
            Child {
                program,
                pid,
                exit,
                tail,
            },
            lines,
        ))
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its name, for messages (`nginx`, `nats-server`).
    pub fn program(&self) -> &'static str {
        self.program
    }

    /// The exit status if it has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// The last lines it wrote, oldest first.
    pub fn tail(&self) -> String {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// Stops it: `signal`, then `SIGKILL` to its whole process group after [`STOP_TIMEOUT`].
    pub async fn stop(&mut self, signal: Signal) -> Option<ExitStatus> {
        if let Some(s) = self.exit_status() {
            self.kill_group();
            return Some(s);
        }
        if self.pid != 0 {
            let _ = kill(Pid::from_raw(self.pid as i32), signal);
        }
        let status = match self.wait_exit_for(STOP_TIMEOUT).await {
            Some(s) => Some(s),
            None => {
                self.kill_group();
                self.wait_exit_for(Duration::from_secs(2)).await
            }
        };
        // Anything of its group that outlived it (an nginx worker) goes too.
        self.kill_group();
        status
    }

    /// Resolves when the process exits, with its status.
    pub async fn exited(&self) -> ExitStatus {
        let mut rx = self.exit.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v.unwrap_or_else(exit_status_unknown),
            Err(_) => exit_status_unknown(),
        }
    }

    async fn wait_exit_for(&self, limit: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(limit, self.exited()).await.ok()
    }

    /// `SIGKILL` to its process group (its pid is the group's id: it was spawned as a leader).
    /// Harmless when the group is already empty.
    fn kill_group(&self) {
        if self.pid != 0 {
            let _ = killpg(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Never leave a helper (or its workers) behind, whatever path led here.
        self.kill_group();
    }
}

/// Reads a pipe line by line into the tail, and to the start-up watcher while it listens.
async fn forward(
    pipe: impl AsyncRead + Unpin,
    tail: Arc<Mutex<VecDeque<String>>>,
    lines: mpsc::UnboundedSender<String>,
) {
    let mut reader = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = reader.next_line().await {
        // Closed once the caller has seen what it waited for: from then on, only the tail.
        let _ = lines.send(line.clone());
        push_tail(&tail, line);
    }
}
