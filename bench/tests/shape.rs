//! `rtlab shape` as a user runs it: the real binary in front of an echo server of the test's own,
//! on ephemeral loopback ports.
//!
//! The shaper's arithmetic is tested in the client (`network::relay`); what is pinned here is the
//! command: it binds where it is told (port 0 → a free port it names on stderr), relays through
//! the link it was given, stops on `--duration` or Ctrl-C with exit 0, and refuses what it must
//! (a non-loopback address, nothing to shape) with one line and exit 2.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const RTT: Duration = Duration::from_millis(40);

fn rtlab() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rtlab"))
}

/// An echo server on a free loopback port, on threads of its own.
fn echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
            });
        }
    });
    addr
}

/// Starts `rtlab shape ARGS` and reads its start-up line: the address it really listens on.
fn start_shape(args: &[&str]) -> (Child, SocketAddr, BufReader<std::process::ChildStderr>) {
    let mut child = Command::new(rtlab())
        .arg("shape")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    // `shaping 127.0.0.1:PORT → 127.0.0.1:PORT over custom (RTT 40 ms, …); …`
    let at = line
        .strip_prefix("shaping ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in the start-up line {line:?}"));
    (child, at, stderr)
}

/// One small echo round trip through `at`, after its dial.
fn echo_round_trip(at: SocketAddr) -> Duration {
    let mut s = TcpStream::connect(at).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    s.write_all(b"ping").unwrap();
    let mut four = [0; 4];
    s.read_exact(&mut four).unwrap();
    assert_eq!(&four, b"ping");
    t.elapsed()
}

fn rest_of(mut stderr: BufReader<std::process::ChildStderr>) -> String {
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    rest
}

#[test]
fn a_round_trip_through_the_shaper_takes_the_rtt_and_it_stops_on_its_duration() {
    let upstream = echo().to_string();
    let (mut child, at, stderr) = start_shape(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
        "--rtt",
        "40ms",
        "--duration",
        "5s",
    ]);
    assert!(at.ip().is_loopback() && at.port() != 0, "{at}");
    let rtt = echo_round_trip(at);
    assert!(rtt >= RTT, "one echo through a 40 ms link took {rtt:?}");
    // Generous: the handshake's wait and a busy machine, but not seconds.
    assert!(rtt < RTT * 10, "{rtt:?}");
    let status = child.wait().unwrap();
    let rest = rest_of(stderr);
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("shaper stopped"), "{rest}");
}

#[test]
fn ctrl_c_stops_it_with_exit_0() {
    let upstream = echo().to_string();
    let (mut child, at, stderr) = start_shape(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
        "--network",
        "lan",
        // Only a safety net: a failing test must not leave a shaper behind for ever.
        "--duration",
        "60s",
    ]);
    echo_round_trip(at);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    let rest = rest_of(stderr);
    assert!(status.success(), "{status}: {rest}");
    // Its listener is gone with it.
    assert!(TcpStream::connect(at).is_err(), "{at} still listens");
}

fn refused(args: &[&str]) -> Output {
    Command::new(rtlab())
        .arg("shape")
        .args(args)
        .output()
        .unwrap()
}

fn assert_one_line_usage_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
}

#[test]
fn a_non_loopback_upstream_is_refused_in_one_line() {
    let out = refused(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "192.0.2.1:80",
        "--rtt",
        "40ms",
    ]);
    assert_one_line_usage_error(&out, "192.0.2.1:80 is not a loopback address");
}

#[test]
fn nothing_to_shape_is_refused_in_one_line() {
    let upstream = echo().to_string();
    for link in [&[][..], &["--network", "loopback"][..]] {
        let out = refused(
            &[
                &["--listen", "127.0.0.1:0", "--upstream", &upstream][..],
                link,
            ]
            .concat(),
        );
        assert_one_line_usage_error(&out, "nothing to shape");
    }
}
