//! The server under test, as a child process: started fresh for each case, watched, and stopped.
//!
//! **Why a separate process.** If the server ran inside the runner, its CPU time, memory and
//! scheduling would be mixed with the client's, and one case's leftovers (buffers, connections,
//! the history ring) would leak into the next. As a child process it starts clean every case, its
//! cost is what the kernel charges its PID ([`crate::proc_sampler`]), and it can be pinned to its
//! own core ([`crate::machine`]).
//!
//! **Life cycle.**
//! 1. Spawn `rtlab-server --addr 127.0.0.1:0 --tcp-addr 127.0.0.1:0 …` (through `taskset -c 0`
//!    when pinning), in its own process group so a terminal's Ctrl-C reaches only the runner, which
//!    then stops the server in order.
//! 2. Wait (at most [`STARTUP_TIMEOUT`]) for its one stdout line
//!    `listening http=127.0.0.1:PORT tcp=127.0.0.1:PORT`: the OS picked free ports, so cases never
//!    collide with each other or with anything else on the machine.
//! 3. Keep the last lines of its stderr, so a failure can be explained in the report.
//! 4. Stop: `SIGTERM` (the server closes its connections and exits 0), then `SIGKILL` after
//!    [`STOP_TIMEOUT`]. If the runner unwinds for any reason, [`Drop`] sends `SIGKILL`; if the
//!    runner is killed outright (SIGKILL, which no process can catch), the server was started
//!    through `setpriv --pdeathsig KILL` (util-linux) and the kernel kills it with its parent. No
//!    server is ever left behind. (The parent-death signal fires when the *thread* that spawned
//!    the child exits; tokio's worker threads live as long as the runtime, which outlives every
//!    server.)

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use crate::certificate::TlsFiles;
use crate::machine::SERVER_CPU;

/// Name of the server binary.
pub const SERVER_BIN: &str = "rtlab-server";
/// Longest wait for the `listening …` line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait after `SIGTERM` before `SIGKILL` (the contract promises exit within 5 s).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(6);
/// Lines of the server's output kept for failure reports.
pub const TAIL_LINES: usize = 40;

/// What can go wrong with the server process.
#[derive(Debug, thiserror::Error)]
pub enum ServerProcessError {
    /// The binary is not where the runner looked.
    #[error(
        "server binary not found at {0}: build it with `cargo build --release -p rtlab-server` \
         (`cargo build -p rtlab-server` for a debug run) or pass --server-bin PATH"
    )]
    NotFound(PathBuf),
    /// It could not be spawned.
    #[error("cannot start {bin}: {cause}")]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The OS error. It is in the message, so it is not also a `source()`: printed once.
        cause: std::io::Error,
    },
    /// It did not print its `listening …` line in time, or printed something else.
    #[error("server did not start: {reason}\n--- server output (last lines) ---\n{tail}")]
    Startup {
        /// What happened.
        reason: String,
        /// The last lines of its stderr/stdout.
        tail: String,
    },
}

/// Settings the server is started with for one case.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerOptions {
    /// Ticker events per second (0 = no ticker).
    pub rate: u64,
    /// Filler bytes per ticker event.
    pub payload_bytes: u64,
    /// Per-subscriber queue, in events (server default if `None`).
    pub subscriber_queue: Option<u64>,
    /// Cap on open streaming connections.
    pub max_connections: u64,
    /// WebSocket ping and SSE heartbeat interval (server defaults if `None`).
    pub keepalive_interval: Option<std::time::Duration>,
    /// Pin to [`SERVER_CPU`] and run one worker.
    pub pin: bool,
    /// Serve HTTPS/WSS on the HTTP listener, and the raw-TCP floor over TLS on a listener of its
    /// own, with this certificate (plain HTTP and TCP if `None`).
    pub tls: Option<TlsFiles>,
}

/// Where a server listens and what it is told beyond [`ServerOptions`]: the default is
/// ephemeral loopback ports and nothing more. A cluster node adds `--broker`/`--node` and any
/// arguments the user passed; a restarted node asks for the ports it had, so a proxy in front of
/// it (which names its nodes by address) finds it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// `--addr` (port 0: the OS picks one).
    pub http: SocketAddr,
    /// `--tcp-addr` (port 0: the OS picks one).
    pub tcp: SocketAddr,
    /// Further arguments, appended after those [`ServerOptions`] gives.
    pub extra_args: Vec<std::ffi::OsString>,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            http: ([127, 0, 0, 1], 0).into(),
            tcp: ([127, 0, 0, 1], 0).into(),
            extra_args: Vec::new(),
        }
    }
}

/// Finds the server binary: `explicit` if given, else `rtlab-server` beside the running
/// executable (or beside its parent folder when running from `target/*/deps`, as tests do).
pub fn locate_server(explicit: Option<&Path>) -> Result<PathBuf, ServerProcessError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(ServerProcessError::NotFound(p.to_path_buf()))
        };
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let candidate = dir.join(SERVER_BIN);
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(ServerProcessError::NotFound(candidate))
    }
}

/// Finds an executable by name on `PATH` (for the optional `taskset` and `setpriv` wrappers).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Where a started server listens, from its `listening …` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listening {
    /// The HTTP listener (HTTPS when `tls`).
    pub http: SocketAddr,
    /// The raw-TCP baseline listener.
    pub tcp: SocketAddr,
    /// The raw-TCP baseline over TLS, if served.
    pub tcp_tls: Option<SocketAddr>,
    /// Whether the HTTP listener speaks TLS (`scheme=https`).
    pub tls: bool,
}

/// Parses `listening http=127.0.0.1:PORT tcp=127.0.0.1:PORT [scheme=https] [tcp-tls=ADDR]`.
pub fn parse_listening(line: &str) -> Option<Listening> {
    let rest = line.trim().strip_prefix("listening ")?;
    let (mut http, mut tcp, mut tcp_tls, mut tls) = (None, None, None, false);
    for part in rest.split_whitespace() {
        if let Some(v) = part.strip_prefix("http=") {
            http = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("tcp=") {
            tcp = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("tcp-tls=") {
            tcp_tls = Some(v.parse().ok()?);
        } else if part == "scheme=https" {
            tls = true;
        }
    }
    Some(Listening {
        http: http?,
        tcp: tcp?,
        tcp_tls,
        tls,
    })
}

/// A running server; stopped by [`ServerProcess::stop`], killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    pid: u32,
    /// Its HTTP address.
    pub http: SocketAddr,
    /// Its raw-TCP baseline address.
    pub tcp: SocketAddr,
    /// Its raw-TCP baseline over TLS, if started with a certificate.
    pub tcp_tls: Option<SocketAddr>,
    exit: watch::Receiver<Option<ExitStatus>>,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Starts the server on ephemeral loopback ports and waits until it listens.
    pub async fn start(bin: &Path, opts: &ServerOptions) -> Result<Self, ServerProcessError> {
        Self::start_with(bin, opts, &Launch::default()).await
    }

    /// Starts the server where `launch` says, with its extra arguments, and waits until it
    /// listens.
    pub async fn start_with(
        bin: &Path,
        opts: &ServerOptions,
        launch: &Launch,
    ) -> Result<Self, ServerProcessError> {
        // The command line is built as a chain of small exec wrappers, each replacing itself with
        // the next, so the server keeps the pid the runner spawned:
        // `taskset -c 0 setpriv --pdeathsig KILL -- rtlab-server …`.
        // Looked up once per process (a PATH scan is file-system work; keep it off the hot path).
        static TASKSET: OnceLock<Option<PathBuf>> = OnceLock::new();
        static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
        let taskset = opts
            .pin
            .then(|| TASKSET.get_or_init(|| find_program("taskset")).clone())
            .flatten();
        let setpriv = SETPRIV.get_or_init(|| find_program("setpriv")).clone();
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        if let Some(t) = &taskset {
            argv.extend([
                t.as_os_str().into(),
                "-c".into(),
                SERVER_CPU.to_string().into(),
            ]);
        }
        if let Some(p) = &setpriv {
            // If the runner itself is killed (SIGKILL cannot be caught), the kernel kills the server.
            argv.extend([
                p.as_os_str().into(),
                "--pdeathsig".into(),
                "KILL".into(),
                "--".into(),
            ]);
        }
        argv.push(bin.as_os_str().into());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        let use_taskset = taskset.is_some();
        cmd.arg("--addr")
            .arg(launch.http.to_string())
            .arg("--tcp-addr")
            .arg(launch.tcp.to_string())
            .args(["--rate", &opts.rate.to_string()])
            .args(["--payload-bytes", &opts.payload_bytes.to_string()])
            .args(["--max-connections", &opts.max_connections.to_string()]);
        if let Some(k) = opts.keepalive_interval {
            let ms = format!("{}ms", k.as_millis().max(1));
            cmd.args(["--ping-interval", &ms, "--heartbeat-interval", &ms]);
        }
        if let Some(q) = opts.subscriber_queue {
            cmd.args(["--subscriber-queue", &q.to_string()]);
        }
        if opts.pin {
            cmd.args(["--workers", "1"]);
        }
        if let Some(tls) = &opts.tls {
            cmd.arg("--tls-cert")
                .arg(&tls.cert)
                .arg("--tls-key")
                .arg(&tls.key)
                .args(["--tcp-tls-addr", "127.0.0.1:0"]);
        }
        cmd.args(&launch.extra_args);
        // Plain text in the failure tails: no colour escapes from the server's logger.
        cmd.env("NO_COLOR", "1");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| ServerProcessError::Spawn {
            bin: bin.to_path_buf(),
            cause: source,
        })?;
        let pid = child.id().unwrap_or(0);
        if opts.pin && !use_taskset {
            // No taskset: pin after the fact (threads created before this keep the old mask).
            let mut set = nix::sched::CpuSet::new();
            if set.set(SERVER_CPU).is_ok() {
                let _ = nix::sched::sched_setaffinity(Pid::from_raw(pid as i32), &set);
            }
        }
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stdout = child.stdout.take();
        let stderr_reader = child
            .stderr
            .take()
            .map(|stderr| tokio::spawn(keep_tail(stderr, tail.clone())));
        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = child.wait().await.ok();
            // Keep the value `None` only while running; an unreadable status counts as exited.
            let _ = tx.send(Some(status.unwrap_or_else(exit_status_unknown)));
        });
        let mut server = ServerProcess {
            pid,
            http: ([127, 0, 0, 1], 0).into(),
            tcp: ([127, 0, 0, 1], 0).into(),
            tcp_tls: None,
            exit,
            tail,
        };
        let Some(stdout) = stdout else {
            return Err(server.startup_error("no stdout pipe".into()));
        };
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(STARTUP_TIMEOUT, lines.next_line()).await;
        let line = match first {
            Err(_) => {
                return Err(server
                    .startup_error(format!("no `listening …` line within {STARTUP_TIMEOUT:?}")));
            }
            Ok(Ok(Some(line))) => line,
            Ok(_) => {
                // Let the exit status arrive so the message can name it.
                let status = server.wait_exit_for(Duration::from_secs(2)).await;
                // The process is gone, so its stderr ends: let the reader take the last lines in
                // before the tail is read (otherwise they race, and the failure loses its reason).
                if let Some(reader) = stderr_reader {
                    let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
                }
                let reason = match status {
                    Some(s) => format!("it exited ({s}) before listening"),
                    None => "its stdout closed before it listened".into(),
                };
                return Err(server.startup_error(reason));
            }
        };
        let Some(listening) = parse_listening(&line) else {
            return Err(server.startup_error(format!(
                "expected `listening http=ADDR tcp=ADDR` on stdout, got {line:?}"
            )));
        };
        if opts.tls.is_some() && !(listening.tls && listening.tcp_tls.is_some()) {
            return Err(server.startup_error(format!(
                "started with a certificate but it announced no TLS (`scheme=https tcp-tls=ADDR`): \
                 {line:?}"
            )));
        }
        server.http = listening.http;
        server.tcp = listening.tcp;
        server.tcp_tls = listening.tcp_tls;
        let tail = server.tail.clone();
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                push_tail(&tail, l);
            }
        });
        Ok(server)
    }

    /// Its process id (for `/proc` sampling).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit status if it has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// Resolves when the process exits (for watching a case: a server dying mid-run).
    pub async fn exited(&self) -> ExitStatus {
        let mut rx = self.exit.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v.unwrap_or_else(exit_status_unknown),
            // The waiter task is gone: treat as exited.
            Err(_) => exit_status_unknown(),
        }
    }

    /// The last lines the server wrote (stderr and stdout), oldest first.
    pub fn tail(&self) -> String {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// Stops it: `SIGTERM`, then `SIGKILL` after [`STOP_TIMEOUT`]. Returns the exit status.
    pub async fn stop(&mut self) -> Option<ExitStatus> {
        if let Some(s) = self.exit_status() {
            return Some(s);
        }
        self.signal(Signal::SIGTERM);
        if let Some(s) = self.wait_exit_for(STOP_TIMEOUT).await {
            return Some(s);
        }
        self.signal(Signal::SIGKILL);
        self.wait_exit_for(Duration::from_secs(2)).await
    }

    /// Kills it at once (`SIGKILL`: no goodbye to its clients, as a crash would) and waits until
    /// it is reaped. Returns the exit status.
    pub async fn kill(&mut self) -> Option<ExitStatus> {
        self.signal(Signal::SIGKILL);
        self.wait_exit_for(Duration::from_secs(2)).await
    }

    async fn wait_exit_for(&self, limit: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(limit, self.exited()).await.ok()
    }

    fn signal(&self, sig: Signal) {
        if self.pid != 0 && self.exit_status().is_none() {
            let _ = kill(Pid::from_raw(self.pid as i32), sig);
        }
    }

    fn startup_error(&self, reason: String) -> ServerProcessError {
        self.signal(Signal::SIGKILL);
        ServerProcessError::Startup {
            reason,
            tail: self.tail(),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Never leave a server behind, whatever path the runner took out of a case.
        self.signal(Signal::SIGKILL);
    }
}

async fn keep_tail(pipe: impl AsyncRead + Unpin, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(l)) = lines.next_line().await {
        push_tail(&tail, l);
    }
}

pub(crate) fn push_tail(tail: &Mutex<VecDeque<String>>, line: String) {
    let line = strip_ansi(&line);
    if let Ok(mut t) = tail.lock() {
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        t.push_back(line);
    }
}

/// Removes ANSI escape sequences (`ESC [ … letter`), in case a logger colours its output anyway.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

pub(crate) fn exit_status_unknown() -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    ExitStatus::from_raw(255 << 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for the server binary: `script` as an executable `fake-server` in a fresh temp
    /// folder named after `tag`. Returns the folder (to remove) and the script.
    fn fake_server(tag: &str, script: &str) -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fake-server");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        (dir, path)
    }

    /// Small settings for the fake servers, without pinning.
    fn opts() -> ServerOptions {
        ServerOptions {
            rate: 1,
            payload_bytes: 1,
            subscriber_queue: None,
            keepalive_interval: None,
            max_connections: 10,
            pin: false,
            tls: None,
        }
    }

    #[test]
    fn parses_the_listening_line() {
        let l = parse_listening("listening http=127.0.0.1:40001 tcp=127.0.0.1:40002\n").unwrap();
        assert_eq!((l.http.port(), l.tcp.port()), (40001, 40002));
        assert_eq!((l.tcp_tls, l.tls), (None, false));
        let l = parse_listening(
            "listening http=127.0.0.1:1 tcp=127.0.0.1:2 scheme=https tcp-tls=127.0.0.1:3",
        )
        .unwrap();
        assert_eq!((l.tcp_tls.map(|a| a.port()), l.tls), (Some(3), true));
        assert!(parse_listening("listening http=127.0.0.1:1 tcp=127.0.0.1:2 tcp-tls=x").is_none());
        assert!(parse_listening("listening http=127.0.0.1:1").is_none());
        assert!(parse_listening("hello").is_none());
    }

    #[test]
    fn ansi_escapes_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m bye"),
            "2026  INFO bye"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn missing_binary_says_how_to_build_it() {
        let err = locate_server(Some(Path::new("/nonexistent/rtlab-server"))).unwrap_err();
        assert!(
            err.to_string()
                .contains("cargo build --release -p rtlab-server")
        );
    }

    #[tokio::test]
    async fn a_program_that_never_listens_is_a_startup_error_with_its_output() {
        // A script that ignores our flags, complains on stderr and exits.
        let (dir, script) =
            fake_server("rtlab-sp", "#!/bin/sh\necho 'boom: bad flag' >&2\nexit 3\n");
        let err = ServerProcess::start(&script, &opts())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("exited"), "{err}");
        assert!(err.contains("boom: bad flag"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_hanging_child_is_stopped_by_sigterm_or_killed() {
        let (dir, script) = fake_server(
            "rtlab-sp2",
            "#!/bin/sh\necho 'listening http=127.0.0.1:1 tcp=127.0.0.1:2'\nexec sleep 30\n",
        );
        let mut s = ServerProcess::start(&script, &opts()).await.unwrap();
        assert_eq!(s.http.port(), 1);
        let pid = s.pid();
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        assert!(s.stop().await.is_some());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
