//! The machine a run was measured on, and pinning the server and client to their own cores.
//!
//! Numbers from a benchmark mean little without the machine they came from: a laptop's p99 is not
//! a server's. `run.json` records the cores, CPU model, memory, kernel, toolchain and build profile
//! (a debug build is ten times slower and says so), and the git commit of the code measured.
//!
//! **Why pin.** The server and the load generator compete for the same cores. If the scheduler
//! moves them around, the server's cost and the client's latency both include the other's work.
//! With two or more cores, the lab pins the server to CPU 0 (`taskset -c 0`) and itself, including
//! the client, to CPU 1 (`sched_setaffinity` before the tokio runtime starts its threads, which
//! inherit the mask). With one core there is nothing to separate, and the lab says so.

use std::process::Command;

use serde::{Deserialize, Serialize};

/// The CPU the server is pinned to.
pub const SERVER_CPU: usize = 0;
/// The CPU the runner and the client are pinned to.
pub const CLIENT_CPU: usize = 1;

/// Facts about the machine and toolchain, stored in `run.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// Logical CPUs online.
    pub cores: usize,
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory, in bytes.
    pub memory_bytes: u64,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Operating system (`PRETTY_NAME` of `/etc/os-release`).
    pub os: String,
    /// `rustc --version`, or `unknown`.
    pub rustc: String,
    /// Version of the lab runner.
    pub rtlab_version: String,
    /// `release` or `debug`: debug builds are much slower and not comparable.
    pub build_profile: String,
    /// Whether server and client were pinned to separate cores.
    pub pinned: bool,
}

impl MachineInfo {
    /// Collects the facts (blocking: reads files and runs `rustc --version`).
    pub fn collect(pinned: bool) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        MachineInfo {
            cores: cores_from_cpuinfo(&cpuinfo).unwrap_or_else(online_cores),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".into()),
            memory_bytes: mem_total(&meminfo).unwrap_or(0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".into()),
            os: pretty_name(&os_release).unwrap_or_else(|| std::env::consts::OS.into()),
            rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            rtlab_version: env!("CARGO_PKG_VERSION").into(),
            build_profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .into(),
            pinned,
        }
    }
}

/// Logical CPUs the OS has online (not limited by this process's affinity mask).
pub fn online_cores() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| cores_from_cpuinfo(&s))
        .or_else(|| std::thread::available_parallelism().map(|n| n.get()).ok())
        .unwrap_or(1)
}

/// Pins the calling thread (and the threads it creates later) to [`CLIENT_CPU`]. Returns whether
/// pinning happened; call before starting the tokio runtime.
pub fn pin_self_to_client_cpu() -> bool {
    if online_cores() < 2 {
        return false;
    }
    let mut set = nix::sched::CpuSet::new();
    set.set(CLIENT_CPU).is_ok()
        && nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).is_ok()
}

/// Raises this process's open-file soft limit to its hard limit, so that the client (in process)
/// and the server (a child, which inherits limits) can hold 10 000 connections.
pub fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// The git commit of the code measured, `<sha>-dirty` when tracked source files differ from it
/// (results folders excepted: a run writes there), or `unknown` outside a repository. Without the
/// marker a run from an edited tree would name a commit that cannot reproduce it.
pub fn git_commit() -> String {
    let Some(sha) = command_line("git", &["rev-parse", "HEAD"]) else {
        return "unknown".into();
    };
    let dirty = Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)results",
        ])
        .output()
        .is_ok_and(|out| out.status.success() && !out.stdout.is_empty());
    if dirty { format!("{sha}-dirty") } else { sha }
}

/// Runs a command and returns its trimmed first stdout line, if it succeeded.
fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .next()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
}

fn cores_from_cpuinfo(cpuinfo: &str) -> Option<usize> {
    let n = cpuinfo
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count();
    (n > 0).then_some(n)
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        matches!(k.trim(), "model name" | "Model" | "cpu model").then(|| v.trim().to_owned())
    })
}

fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
    line.split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()
        .map(|k| k * 1024)
}

fn pretty_name(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpuinfo_meminfo_and_os_release() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Example CPU @ 3.00GHz\n\nprocessor\t: 1\nmodel name\t: Example CPU @ 3.00GHz\n";
        assert_eq!(cores_from_cpuinfo(cpuinfo), Some(2));
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("Example CPU @ 3.00GHz"));
        assert_eq!(mem_total("MemTotal:       2048 kB\n"), Some(2048 * 1024));
        assert_eq!(
            pretty_name("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 13\"\n").as_deref(),
            Some("Debian GNU/Linux 13")
        );
    }

    #[test]
    fn collects_this_machine() {
        let m = MachineInfo::collect(false);
        assert!(m.cores >= 1);
        assert!(!m.kernel.is_empty());
        assert_eq!(m.build_profile, "debug");
    }
}
