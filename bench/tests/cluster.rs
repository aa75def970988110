//! `rtlab cluster` as a user runs it: the real binary starts the real nodes, nginx and (with a
//! broker) nats-server on ephemeral loopback ports, prints its one line, serves through the front,
//! and on SIGTERM stops every process it started — none is left behind — and exits 0.
//!
//! Needs `cargo build -p rtlab-server`, and Debian's `nginx-light` and `nats-server`
//! (`bash scripts/setup-test-deps`); without them these tests fail, naming what is missing.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rstest::rstest;
use rtlab_bench::command::cluster::Announcement;

fn rtlab() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rtlab"))
}

/// `rtlab-server` beside `rtlab`, or `RTLAB_SERVER_BIN` (as `rtlab` itself reads it).
fn server_bin() -> PathBuf {
    let p = std::env::var_os("RTLAB_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| rtlab().with_file_name("rtlab-server"));
    assert!(
        p.is_file(),
        "{} is missing: build it first with `cargo build -p rtlab-server`",
        p.display()
    );
    p
}

/// The processes whose parent is `pid`, read from `/proc`.
fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`: comm may hold spaces, so split after its closing paren.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

/// `pid` and everything below it.
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        all.extend(children(all[i]));
        i += 1;
    }
    all
}

/// Whether `pid` is a live process (a zombie awaiting its reaper counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(|st| st != "Z"))
        })
        .unwrap_or(false)
}

/// The command line of `pid`, NULs as spaces.
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Starts `rtlab cluster ARGS` and reads its one stdout line.
fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(rtlab())
        .arg("cluster")
        .args(args)
        .arg("--server-bin")
        .arg(server_bin())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    if line.is_empty() {
        let status = child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        panic!("rtlab cluster printed nothing ({status}); stderr:\n{err}");
    }
    (child, line)
}

/// `signal`, then the exit status and stderr.
fn stop_with(child: Child, signal: Signal) -> (std::process::ExitStatus, String) {
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    finish(child)
}

/// Waits (at most 20 s) for `child` to exit; its status and stderr.
fn finish(mut child: Child) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "rtlab cluster did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

/// Waits (briefly) until none of `pids` is alive; returns those still alive.
fn left_behind(pids: &[u32]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let alive: Vec<String> = pids
            .iter()
            .filter(|&&p| alive(p))
            .map(|&p| format!("{p} {}", cmdline(p)))
            .collect();
        if alive.is_empty() || Instant::now() > deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The whole life of a cluster: up, announced, answering through the front, and gone on SIGTERM
/// or Ctrl-C (SIGINT). `broker`: with nats-server (needs `rtlab-server --broker`), or
/// independent nodes.
#[rstest]
#[case::without_broker(false)]
#[case::with_broker(true)]
fn cluster_comes_up_answers_and_leaves_nothing_behind(
    #[case] broker: bool,
    #[values(Signal::SIGTERM, Signal::SIGINT)] signal: Signal,
) {
    let mut args = vec!["--nodes", "2", "--proxy", "lab", "--rate", "20"];
    if !broker {
        args.push("--no-broker");
    }
    let (child, line) = start(&args);
    let announced = Announcement::parse_line(&line)
        .unwrap_or_else(|| panic!("not a `cluster front=… nats=… nodes=…` line: {line:?}"));
    assert_eq!(announced.nodes.len(), 2, "{line}");
    assert_eq!(announced.nats.is_some(), broker, "{line}");
    // Every process it started, as the kernel sees them: the nodes, nginx's master and workers,
    // nats-server.
    let started = tree(child.id());
    for node in &announced.nodes {
        assert!(
            started.contains(&node.pid),
            "{} is not a child: {line}",
            node.pid
        );
        assert!(cmdline(node.pid).contains("rtlab-server"));
    }
    let nginx: Vec<u32> = started
        .iter()
        .copied()
        .filter(|&p| cmdline(p).starts_with("nginx"))
        .collect();
    assert!(nginx.len() >= 2, "nginx's master and a worker: {started:?}");
    let nats = started
        .iter()
        .filter(|&&p| cmdline(p).contains("nats-server"))
        .count();
    assert_eq!(nats, usize::from(broker), "{started:?}");

    let stats: serde_json::Value = get_json(&format!("{}/stats", announced.front));
    assert!(stats["head_seq"].as_u64().is_some(), "{stats}");
    if broker {
        // Through the front, round-robin: both nodes answer, in cluster mode, with one epoch.
        let answers: Vec<serde_json::Value> = (0..4)
            .map(|_| get_json(&format!("{}/stats", announced.front)))
            .collect();
        let mut names: Vec<&str> = answers.iter().filter_map(|s| s["node"].as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names, ["node-1", "node-2"], "{answers:?}");
        assert!(
            answers.iter().all(|s| s["mode"] == "cluster"),
            "{answers:?}"
        );
        assert!(
            answers.iter().all(|s| s["epoch"] == answers[0]["epoch"]),
            "{answers:?}"
        );
    }

    let (status, stderr) = stop_with(child, signal);
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
    assert!(stderr.contains("cluster stopped"), "{stderr}");
    let left = left_behind(&started[1..]);
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `--json` announces the same as one JSON object, with the proxy's and broker's pids too.
#[test]
fn json_names_every_process() {
    let (child, line) = start(&["--nodes", "1", "--proxy", "naive", "--no-broker", "--json"]);
    let announced: Announcement = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("not the announcement as JSON ({e}): {line:?}"));
    assert_eq!(announced.proxy.as_deref(), Some("naive"));
    assert_eq!(announced.nats, None);
    let nginx = announced.nginx_pid.expect("nginx's pid");
    assert!(
        cmdline(nginx).starts_with("nginx: master"),
        "{}",
        cmdline(nginx)
    );
    assert_eq!(announced.nodes.len(), 1);
    let started = tree(child.id());
    let (status, _) = stop_with(child, Signal::SIGTERM);
    assert!(status.success());
    assert!(left_behind(&started[1..]).is_empty());
}

/// A node that dies on its own (here `kill -9`) ends the announced cluster: `rtlab` stops the
/// rest, names the node, and exits non-zero, leaving nothing behind.
#[test]
fn a_node_dying_stops_the_rest_and_says_which() {
    let (child, line) = start(&["--nodes", "2", "--proxy", "lab", "--no-broker"]);
    let announced = Announcement::parse_line(&line).unwrap();
    let started = tree(child.id());
    kill(
        Pid::from_raw(announced.nodes[1].pid as i32),
        Signal::SIGKILL,
    )
    .unwrap();
    let (status, stderr) = finish(child);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("node-2 exited on its own"),
        "the message names the node: {stderr}"
    );
    let left = left_behind(&started[1..]);
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A missing nats-server or nginx is one line naming the Debian package, exit 2, and nothing
/// started.
#[test]
fn a_missing_program_is_one_line_naming_its_package() {
    for (variable, args, package) in [
        ("RTLAB_NATS_SERVER", &["--nodes", "1"][..], "nats-server"),
        (
            "RTLAB_NGINX",
            &["--nodes", "1", "--no-broker", "--proxy", "lab"][..],
            "nginx-light",
        ),
    ] {
        let out = Command::new(rtlab())
            .args(["cluster"])
            .args(args)
            .arg("--server-bin")
            .arg(server_bin())
            .env(variable, "/nonexistent/program")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("rtlab:")).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(
            lines[0].contains(&format!("`{package}`"))
                && lines[0].contains("scripts/setup-test-deps"),
            "{err}"
        );
    }
}

/// GET `url` and parse the JSON body, on a small runtime of its own (these tests are sync).
fn get_json(url: &str) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::get(url)
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .json()
            .await
            .unwrap()
    })
}
