//! Starting one shard process, feeding it its spec, and reading back its answer.
//!
//! A shard is an ordinary child process ([`tokio::process`], so the parent's runtime never
//! blocks on it): the executable and arguments come from a [`ShardProgram`] (the
//! `rtlab-client` binary with its hidden `shard-worker` subcommand, or the lab runner's hidden
//! `client-shard`), the [`ShardSpec`] goes in as JSON on stdin, and one JSON [`ShardAnswer`]
//! comes back on stdout. Its stderr is captured: the last line says why a shard that crashed
//! gave no answer, and on success its warnings are passed on to the parent's log.
//!
//! **No orphans.** The child is started with `kill_on_drop`, so if the parent's future is
//! dropped (Ctrl-C, another shard failed, the lab's case timeout), the child is killed rather
//! than left holding thousands of connections; and it is bounded in time by the run's own length
//! plus a slack. If the parent is killed outright (SIGKILL cannot be caught), a shard still ends
//! by itself at its clock's stop, and its answer goes nowhere; a production tool would also ask
//! the kernel for a parent-death signal, as the lab runner does for its servers.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::Command;
use tokio::sync::mpsc::UnboundedSender;

use super::protocol::{ShardAnswer, ShardOutcome, ShardSpec};

/// Which executable, with which arguments, starts one shard; and who wants to know the shards'
/// process ids (the lab runner samples their CPU).
#[derive(Debug, Clone)]
pub struct ShardProgram {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments (e.g. `["shard-worker"]`).
    pub args: Vec<String>,
    /// Receives each shard's process id as soon as it has started.
    pub pids: Option<UnboundedSender<u32>>,
}

impl ShardProgram {
    /// `program args…`.
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> Self {
        Self {
            program: program.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            pids: None,
        }
    }

    /// This very executable with `args` (how a binary shards itself). On Linux that is
    /// `/proc/self/exe`, which names this process's own image even after its file has been
    /// replaced (a rebuild during a long run; the path then reads `… (deleted)`): the shards are
    /// then the parent's build, as the exchange between them assumes.
    pub fn current_exe(args: &[&str]) -> std::io::Result<Self> {
        let program = if cfg!(target_os = "linux") {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe()?
        };
        Ok(Self::new(program, args))
    }

    /// Sends each shard's process id to `pids`.
    pub fn with_pids(self, pids: UnboundedSender<u32>) -> Self {
        Self {
            pids: Some(pids),
            ..self
        }
    }
}

/// Runs one shard to its answer, within `limit`; the error is one line.
pub(crate) async fn run_shard(
    program: &ShardProgram,
    spec: &ShardSpec,
    limit: Duration,
) -> Result<ShardOutcome, String> {
    let input = serde_json::to_vec(spec).map_err(|e| format!("cannot encode its spec: {e}"))?;
    let mut child = Command::new(&program.program)
        .args(&program.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.program.display()))?;
    tracing::debug!(shard = spec.index, pid = child.id(), "client shard started");
    if let (Some(pids), Some(pid)) = (&program.pids, child.id()) {
        // The receiver may be gone (nobody samples): that is fine.
        let _ = pids.send(pid);
    }
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err("its pipes could not be opened".into());
    };
    let talk = async {
        // Write the spec and close stdin (the shard reads to its end), while reading both of
        // its outputs, so that a full pipe on either side can never stall the other.
        let write = async {
            let written = stdin.write_all(&input).await;
            drop(stdin);
            written
        };
        let (written, out, err) = tokio::join!(write, read_all(stdout), read_all(stderr));
        let status = child.wait().await;
        (written, out, err, status)
    };
    let Ok((_written, out, err, status)) = tokio::time::timeout(limit, talk).await else {
        // Dropping the child kills it (kill_on_drop).
        return Err(format!("it did not finish within {}s", limit.as_secs()));
    };
    let stderr = String::from_utf8_lossy(&err.unwrap_or_default()).into_owned();
    let answer = out
        .ok()
        .and_then(|out| serde_json::from_slice::<ShardAnswer>(&out).ok());
    match answer {
        Some(Ok(outcome)) => {
            for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
                tracing::warn!(shard = spec.index, "{line}");
            }
            Ok(outcome)
        }
        Some(Err(reason)) => Err(one_line(&reason)),
        None => {
            // A failed write of the spec (`_written`) only means that the shard had already
            // exited (a broken pipe): its status and its last words say why.
            let why = match status {
                Err(e) => format!("waiting for it failed: {e}"),
                Ok(s) => format!("it exited ({s}) without an answer"),
            };
            match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
                Some(last) => Err(format!("{why}: {}", one_line(last))),
                None => Err(why),
            }
        }
    }
}

async fn read_all(mut from: impl AsyncRead + Unpin) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    from.read_to_end(&mut buf).await?;
    Ok(buf)
}

/// `s` on one line: a shard's message is printed inside the parent's one-line error.
fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
