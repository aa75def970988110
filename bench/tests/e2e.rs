//! End to end: the real `rtlab` binary runs `quick.toml` against the real `rtlab-server` binary,
//! and everything it promises to leave behind is checked: every file, every JSON against its
//! schema, every PNG decodes and is not blank, the report names every transport, and no server
//! process outlives the run — also when the run is interrupted with Ctrl-C, when the server fails
//! to start, and when the runner itself is killed with SIGKILL; and a case's client split over
//! shard processes (`--client-shards`) still reports every subscriber.
//!
//! The server binary must be built first (`cargo build -p rtlab-server`): Cargo only builds the
//! binaries of the package under test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TRANSPORTS: [&str; 5] = ["ws", "sse", "long-poll", "short-poll", "tcp"];
const CHARTS: [&str; 12] = [
    "latency-percentiles",
    "bytes-per-event",
    "payload-efficiency",
    "fanout-throughput",
    "fanout-server-cost",
    "rate-saturation",
    "short-poll-interval",
    "round-trip",
    "capacity",
    "network-latency",
    "first-event",
    "bandwidth",
];

fn rtlab() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rtlab"))
}

/// `rtlab-server` next to `rtlab`; fails with instructions if it has not been built.
fn server_bin() -> PathBuf {
    let p = rtlab().with_file_name("rtlab-server");
    assert!(
        p.is_file(),
        "{} is missing: build it first with `cargo build -p rtlab-server` (Cargo does not build \
         another package's binaries for this test)",
        p.display()
    );
    p
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(rtlab())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `rtlab run --suite <suite> <extra…> --out <out>`, stdin closed: each test adds where its
/// output goes and whether it waits.
fn rtlab_run(suite: &str, extra: &[&str], out: &Path) -> Command {
    let mut cmd = Command::new(rtlab());
    cmd.args(["run", "--suite", suite])
        .args(extra)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null());
    cmd
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

fn validator(name: &str) -> jsonschema::Validator {
    let schema = read_json(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schema")
            .join(name),
    );
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &Path) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not match its schema:\n{}",
        what.display(),
        errors.join("\n")
    );
}

/// Decodes a PNG and checks it has more than one colour.
fn assert_png_not_blank(p: &Path) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let px = info.color_type.samples() * (info.bit_depth as usize).div_ceil(8);
    let data = &buf[..info.buffer_size()];
    let first = &data[..px];
    let distinct = data.chunks(px).filter(|c| *c != first).count();
    assert!(
        info.width >= 640 && info.height >= 360,
        "{}: tiny image",
        p.display()
    );
    assert!(distinct > 1000, "{} is blank (one colour)", p.display());
}

/// Server pids recorded in the case files; none may still be a live process.
fn assert_no_server_left(run_dir: &Path) {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(run_dir.join("cases")).unwrap() {
        let doc = read_json(&entry.unwrap().path());
        if let Some(pid) = doc["server"]["pid"].as_u64() {
            pids.push(pid);
        }
    }
    // The runner reaps its children before exiting; give the kernel a moment anyway.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let alive: Vec<u64> = pids
            .iter()
            .copied()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.contains("rtlab-server") && c.contains("127.0.0.1:0"))
            })
            .collect();
        if alive.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "rtlab-server processes left behind: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn latest(out: &Path) -> PathBuf {
    let link = out.join("latest");
    let target = std::fs::read_link(&link).unwrap_or_else(|e| panic!("{}: {e}", link.display()));
    out.join(target)
}

#[test]
fn quick_suite_leaves_every_promised_file_and_no_process() {
    server_bin();
    let out = scratch("quick");
    let started = Instant::now();
    let o = rtlab_run("quick", &[], &out).output().unwrap();
    let took = started.elapsed();
    assert!(o.status.success(), "rtlab run failed:\n{}", show(&o));
    eprintln!("quick suite took {took:?}");
    let dir = latest(&out);

    let run_json = dir.join("run.json");
    let run_doc = read_json(&run_json);
    assert_valid(&validator("run.schema.json"), &run_doc, &run_json);
    assert_eq!(run_doc["status"], "complete");
    let case_schema = validator("case.schema.json");
    let ids: Vec<&str> = run_doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(ids.len() >= 30, "{ids:?}");
    // The largest client CPU share of any case: one window may hold no clock tick of the client,
    // but the client cannot have been idle in every window of the suite.
    let mut client_cpu_seen = 0.0f64;
    for id in &ids {
        let p = dir.join("cases").join(format!("{id}.json"));
        let doc = read_json(&p);
        assert_valid(&case_schema, &doc, &p);
        assert_eq!(doc["status"], "ok", "{id}: {}", doc["error"]);
        // Every case carries the run's calibration: the models' only measured inputs.
        let calibration = &doc["calibration"];
        for field in [
            "rtt_us",
            "one_way_delay_us",
            "request_bytes",
            "response_head_bytes",
        ] {
            assert!(
                calibration[field].as_f64().is_some_and(|v| v > 0.0),
                "{id}: calibration {field} = {}",
                calibration[field]
            );
        }
        if doc["kind"] == "memory" {
            // No client ran: the measurement is the RSS slope over the steps, up to 50.
            let memory = &doc["connection_memory"];
            assert_eq!(memory["points"].as_array().unwrap().len(), 5, "{id}");
            assert_eq!(memory["points"][4]["connections"], 50, "{id}");
            assert!(memory["bytes_per_connection"].is_number(), "{id}");
            continue;
        }
        // Sampled like the server's (a 200 ms window may hold no 10 ms tick of it: ≥ 0).
        let client_cpu = doc["client_cpu_utilisation"].as_f64();
        assert!(
            client_cpu.is_some_and(|u| u >= 0.0),
            "{id}: client CPU not sampled"
        );
        client_cpu_seen = client_cpu_seen.max(client_cpu.unwrap_or(0.0));
        let hgrm = dir.join("hgrm").join(format!("{id}.hgrm"));
        assert!(hgrm.is_file(), "{} missing", hgrm.display());
    }
    assert!(
        client_cpu_seen > 0.0,
        "no case recorded any client CPU: the client's /proc sampling reads nothing"
    );
    for name in CHARTS {
        let png = dir.join("charts").join(format!("{name}.png"));
        assert_png_not_blank(&png);
        let svg = std::fs::read_to_string(dir.join("charts").join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("<text"),
            "{name}.svg has no text"
        );
    }
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), ids.len() + 1);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for t in TRANSPORTS {
        assert!(
            report.contains(&format!("**{t}**")),
            "report does not name {t}"
        );
    }
    for name in CHARTS {
        assert!(
            report.contains(&format!("charts/{name}.png")),
            "report does not embed {name}"
        );
    }
    assert!(
        report.contains("The calibration step measured"),
        "report does not give the models' calibrated inputs"
    );
    // Keep-alive: an idle feed, so every byte in the window is the price of staying connected;
    // ws pings and pongs and sse heartbeats were counted at the socket, raw TCP spent nothing.
    assert!(report.contains("## Keep-alive"), "no keep-alive section");
    for t in TRANSPORTS {
        assert!(
            report.contains(&format!("**{t}** idle")),
            "no idle cost for {t}"
        );
    }
    let keepalive = |t: &str| {
        let doc = read_json(&dir.join("cases").join(format!("keep-alive-{t}.json")));
        assert_eq!(
            doc["client"]["events_received"], 0,
            "{t}: the feed was not idle"
        );
        doc["client"]["wire"].clone()
    };
    assert!(keepalive("ws")["keepalive_bytes_up"].as_u64() > Some(0));
    assert!(keepalive("sse")["keepalive_bytes_down"].as_u64() > Some(0));
    assert_eq!(keepalive("tcp")["bytes_down"], 0);
    assert!(report.contains("set-up:"), "no set-up sentences");
    // Real links: the 40 ms link's cases went through the shaper, which the client calibrated,
    // and a pushed event was one transit (20 ms) behind or more, never less.
    let shaped = read_json(&dir.join("cases/network-rtt40ms-ws.json"));
    let rtt = shaped["client"]["network"]["calibrated_rtt_us"].as_f64();
    assert!(rtt.is_some_and(|r| r >= 40_000.0), "calibrated RTT {rtt:?}");
    let p50 = shaped["client"]["latency_us"]["p50"].as_f64().unwrap();
    assert!(p50 >= 20_000.0, "ws p50 {p50} µs over a 40 ms link");
    let straight = read_json(&dir.join("cases/network-loopback-ws.json"));
    assert!(
        straight["client"]["network"].is_null(),
        "loopback was shaped"
    );
    for needle in [
        "## Real links",
        "RFC 6202 §2.2 over rtt40ms",
        "Time to first event over rtt40ms",
        "| rtt40ms |",
        "## A slow link",
        "of the link's ceiling",
    ] {
        assert!(
            report.contains(needle),
            "report lacks {needle:?}:\n{report}"
        );
    }
    // Repeats: quick.toml runs `latency` twice per transport. Each latency case file holds both
    // repetitions' figures; a case that ran once has no `repeats` (the old format).
    for t in TRANSPORTS {
        let p = dir.join("cases").join(format!("latency-{t}.json"));
        let doc = read_json(&p);
        let reps = doc["repeats"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no repeats", p.display()));
        assert_eq!(reps.len(), 2, "{}", p.display());
        assert!(
            reps.iter()
                .all(|r| r["status"] == "ok" && r["p99_us"].is_number())
        );
    }
    assert!(
        read_json(&dir.join("cases/payload-p16-ws.json"))
            .get("repeats")
            .is_none()
    );
    // The report says how many cases repeated, and shows the headline figures as median (min–max).
    assert!(
        report.contains(&format!("5 of {} cases ran 2 times", ids.len())),
        "no repeat note:\n{report}"
    );
    let glance = report
        .lines()
        .find(|l| l.starts_with("| **ws** | `latency-ws` | 2 |"))
        .unwrap_or_else(|| panic!("no glance row for ws with 2 runs:\n{report}"));
    assert!(
        glance.contains(" (") && glance.contains('–'),
        "no spread: {glance}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("latency-ws") && stdout.contains("p99"),
        "no final table:\n{stdout}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("[ 1/{}] latency-ws", ids.len())),
        "no progress lines:\n{stderr}"
    );
    // Repetitions are spread over the run: latency-ws's second comes after every case's first.
    let lines: Vec<&str> = stderr.lines().collect();
    let last_first_pass = lines
        .iter()
        .position(|l| l.starts_with(&format!("[{}/{}]", ids.len(), ids.len())))
        .unwrap_or_else(|| panic!("no line for the last case:\n{stderr}"));
    let second = lines
        .iter()
        .position(|l| l.contains("latency-ws") && l.ends_with("(repetition 2/2)"))
        .unwrap_or_else(|| panic!("no second repetition of latency-ws:\n{stderr}"));
    assert!(second > last_first_pass, "{stderr}");
    assert_no_server_left(&dir);

    // Redraw from the stored JSON, and compare the run with itself.
    std::fs::remove_file(dir.join("charts/round-trip.png")).unwrap();
    std::fs::remove_file(dir.join("report.md")).unwrap();
    let o = run(&["plot", dir.to_str().unwrap()]);
    assert!(o.status.success(), "rtlab plot failed:\n{}", show(&o));
    assert_png_not_blank(&dir.join("charts/round-trip.png"));
    assert!(dir.join("report.md").is_file());
    let o = run(&["compare", dir.to_str().unwrap(), dir.to_str().unwrap()]);
    assert!(o.status.success(), "rtlab compare failed:\n{}", show(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("latency-ws") && table.contains("+0.0%"),
        "{table}"
    );
    // A run against itself: every repeated figure's ranges overlap; a case run once has none.
    assert!(table.contains("overlap p50 p99 ev/s B/ev cpu"), "{table}");
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no row {id}:\n{table}"))
            .to_owned()
    };
    assert!(row("latency-ws").contains("yes yes yes yes"), "{table}");
    assert!(row("payload-p16-ws").contains("n/a n/a n/a n/a"), "{table}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn client_shards_measure_every_subscriber_of_a_case() {
    server_bin();
    let out = scratch("shards");
    let o = rtlab_run(
        "quick",
        &[
            "--scenarios",
            "fanout",
            "--transports",
            "ws,sse",
            "--client-shards",
            "2",
        ],
        &out,
    )
    .env("RTLAB_LOG", "rtlab_client::shards=debug")
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    // Really sharded: the runner started two shard processes per 8-client case (a 1-client case
    // runs in process: one shard is no split).
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        stderr.matches("client shard started").count(),
        2 + 2,
        "{}",
        show(&o)
    );
    let dir = latest(&out);
    // Each case's client report is the whole case, merged from its shards.
    for (id, clients) in [
        ("fanout-c1-ws", 1),
        ("fanout-c8-ws", 8),
        ("fanout-c8-sse", 8),
    ] {
        let doc = read_json(&dir.join("cases").join(format!("{id}.json")));
        assert_eq!(doc["status"], "ok", "{id}: {}", doc["error"]);
        let client = &doc["client"];
        assert_eq!(client["connected"], clients, "{id}");
        assert_eq!(client["completed"], clients, "{id}");
        assert_eq!(client["undelivered"], 0, "{id}");
        assert_eq!(
            client["latency_us"]["count"], client["events_in_range"],
            "{id}"
        );
        assert!(doc["client_cpu_utilisation"].as_f64().is_some(), "{id}");
    }
    assert_no_server_left(&dir);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_bad_suite_names_file_line_and_key() {
    let out = scratch("bad-suite");
    let suite = out.join("bad.toml");
    std::fs::write(
        &suite,
        "name = \"bad\"\n\n[[scenario]]\nname = \"x\"\nkind = \"latency\"\nclinets = 3\n",
    )
    .unwrap();
    let o = rtlab_run(suite.to_str().unwrap(), &[], &out)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:6:", suite.display())),
        "no file:line in:\n{err}"
    );
    assert!(err.contains("clinets"), "no key in:\n{err}");
    assert!(
        !out.join("latest").exists(),
        "a results folder was made for a bad suite"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_reference_run_from_an_edited_tree_is_refused() {
    // A git repository with an edited tracked file: what `git_commit` calls `<sha>-dirty`.
    let repo = scratch("dirty-reference");
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", show(&o));
    };
    git(&["init", "-q"]);
    std::fs::write(repo.join("code.rs"), "// v1\n").unwrap();
    git(&["add", "code.rs"]);
    git(&["commit", "-q", "-m", "v1"]);
    std::fs::write(repo.join("code.rs"), "// v2, not committed\n").unwrap();
    let o = rtlab_run("quick", &["--name", "reference"], Path::new("results"))
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("-dirty") && err.contains("reference"), "{err}");
    assert!(
        !repo.join("results/reference").exists(),
        "a reference folder was made from an edited tree"
    );
    std::fs::remove_dir_all(&repo).unwrap();
}

#[test]
fn a_server_that_fails_to_start_fails_its_cases_but_not_the_run() {
    let out = scratch("bad-server");
    let fake = out.join("fake-server");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'fake-server: refusing to start' >&2\nexit 3\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = rtlab_run(
        "quick",
        &[
            "--scenarios",
            "latency",
            "--transports",
            "ws,sse",
            "--server-bin",
            fake.to_str().unwrap(),
        ],
        &out,
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let dir = latest(&out);
    for id in ["latency-ws", "latency-sse"] {
        let doc = read_json(&dir.join("cases").join(format!("{id}.json")));
        assert_eq!(doc["status"], "failed");
        assert!(
            doc["server_stderr_tail"]
                .as_str()
                .unwrap_or("")
                .contains("refusing to start"),
            "{doc}"
        );
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("## Failed cases") && report.contains("refusing to start"),
        "{report}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn ctrl_c_stops_the_server_and_leaves_a_partial_report() {
    server_bin();
    let out = scratch("ctrl-c");
    let child = rtlab_run("quick", &[], &out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the second case is under way, then interrupt.
    let deadline = Instant::now() + Duration::from_secs(60);
    let cases_dir = || {
        std::fs::read_dir(&out)
            .ok()?
            .flatten()
            .find(|e| e.path().join("cases").is_dir())
            .map(|e| e.path().join("cases"))
    };
    loop {
        if let Some(dir) = cases_dir()
            && std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) >= 1
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no case finished within a minute"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", show(&o));
    let dir = latest(&out);
    let run_doc = read_json(&dir.join("run.json"));
    assert_eq!(run_doc["status"], "interrupted");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("Partial results"), "{report}");
    assert_no_server_left(&dir);
    std::fs::remove_dir_all(&out).unwrap();
}

/// `(pid, state)` of the `rtlab-server` children of `parent`, from `/proc/*/stat`.
fn server_children(parent: u32) -> Vec<(u32, char)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(state), Some(ppid)) = (
            rest.first(),
            rest.get(1).and_then(|p| p.parse::<u32>().ok()),
        ) else {
            continue;
        };
        if comm == "rtlab-server" && ppid == parent {
            out.push((pid, state.chars().next().unwrap_or('?')));
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rfind(')')
            .is_some_and(|i| !s[i + 1..].trim_start().starts_with('Z'))
    })
}

#[test]
fn a_killed_runner_takes_its_server_with_it() {
    server_bin();
    // The guard is `setpriv --pdeathsig KILL` (util-linux): without it the runner cannot keep
    // this promise, and a test that skipped would hide that, so a missing setpriv fails here.
    match std::process::Command::new("setpriv")
        .arg("--version")
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`setpriv --version` failed ({}): the runner's parent-death guard needs a working \
             setpriv (util-linux)",
            o.status
        ),
        Err(e) => panic!(
            "setpriv (util-linux) is not on PATH ({e}): the runner's parent-death guard needs it; \
             install it with `bash scripts/setup-test-deps`"
        ),
    }
    let out = scratch("sigkill");
    let mut child = rtlab_run("quick", &[], &out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let server = loop {
        if let Some((pid, _)) = server_children(child.id())
            .into_iter()
            .find(|(_, s)| *s != 'Z')
        {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "no rtlab-server child appeared within a minute"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL: no handler runs, no Drop runs.
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(server) {
        assert!(
            Instant::now() < deadline,
            "rtlab-server {server} outlived its killed runner"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_dir_all(&out).unwrap();
}
