//! TLS on the command line: `--tls-cert`/`--tls-key` come in pairs, `--tcp-tls-addr` needs them,
//! and a file that cannot be read or used stops the binary at start-up with one line on stderr and
//! a non-zero exit, before anything is bound. And the pair `scripts/make-cert` makes serves
//! HTTPS with HTTP/2 to a client that trusts only it, under both `127.0.0.1` and `localhost`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use reqwest::Version;
use rstest::rstest;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::common::*;
use crate::test_cert::{HttpVersion, TestCert, client_trusting};

/// Runs the binary with `args` (after free-port addresses) to its end; (exit code, stdout, stderr).
async fn run_to_exit(args: &[String]) -> (Option<i32>, String, String) {
    let out = within(
        "rtlab-server exits",
        tokio::process::Command::new(env!("CARGO_BIN_EXE_rtlab-server"))
            .args(["--addr", "127.0.0.1:0", "--tcp-addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("run rtlab-server");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A refused combination or file: `args` with `{cert}`, `{key}` (a matching pair) and
/// `{other_key}` (another pair's key) filled in; the exit code; a word the line must contain.
#[rstest]
#[case::cert_without_key(&["--tls-cert", "{cert}"], 2, "--tls-key")]
#[case::key_without_cert(&["--tls-key", "{key}"], 2, "--tls-cert")]
#[case::tcp_tls_without_cert(&["--tcp-tls-addr", "127.0.0.1:0"], 2, "--tls-cert")]
#[case::missing_file(&["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "{key}"], 1, "cannot read")]
#[case::cert_is_not_a_certificate(&["--tls-cert", "{key}", "--tls-key", "{key}"], 1, "no PEM certificate")]
#[case::key_is_not_a_key(&["--tls-cert", "{cert}", "--tls-key", "{cert}"], 1, "no PEM private key")]
#[case::key_of_another_pair(&["--tls-cert", "{cert}", "--tls-key", "{other_key}"], 1, "cannot be used together")]
#[tokio::test]
async fn bad_tls_flags_are_refused_on_one_line(
    #[case] args: &[&str],
    #[case] code: i32,
    #[case] says: &str,
) {
    let (pair, other) = (TestCert::new(), TestCert::new());
    let fill = |arg: &str| {
        arg.replace("{cert}", &pair.cert.to_string_lossy())
            .replace("{other_key}", &other.key.to_string_lossy())
            .replace("{key}", &pair.key.to_string_lossy())
    };
    let args: Vec<String> = args.iter().map(|a| fill(a)).collect();
    let (exit, stdout, stderr) = run_to_exit(&args).await;
    assert_eq!(exit, Some(code), "{args:?}: stderr {stderr:?}");
    assert!(stdout.is_empty(), "nothing may be announced: {stdout:?}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr:?}");
    assert!(lines[0].starts_with("rtlab-server: "), "{:?}", lines[0]);
    assert!(
        lines[0].contains(says),
        "{:?} should say {says:?}",
        lines[0]
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Runs `scripts/make-cert DIR`; returns the two paths it printed.
async fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-cert");
    let out = within(
        "make-cert",
        tokio::process::Command::new("bash")
            .arg(&script)
            .arg(dir)
            .output(),
    )
    .await
    .expect("run scripts/make-cert");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "make-cert failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Vec<PathBuf> = stdout.lines().map(PathBuf::from).collect();
    assert_eq!(
        printed,
        [dir.join("cert.pem"), dir.join("key.pem")],
        "make-cert prints the certificate, then the key"
    );
    (printed[0].clone(), printed[1].clone())
}

/// The key-value parts of the binary's `listening …` line.
fn listening_part<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
}

/// The script's pair, on the real binary: the `listening` line says `scheme=https` and
/// `tcp-tls=ADDR`, a client trusting only that certificate gets HTTP/2 under `127.0.0.1` and
/// `localhost` alike (both in its subjectAltName), the log names scheme and protocols, and SIGTERM
/// stops it cleanly.
#[tokio::test]
async fn make_cert_pair_serves_https_with_http2() {
    let dir = std::env::temp_dir().join(format!("rtlab-make-cert-{}", std::process::id()));
    let (cert, key) = make_cert(&dir).await;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rtlab-server"))
        .args(["--addr", "127.0.0.1:0", "--tcp-addr", "127.0.0.1:0"])
        .args([
            "--tcp-tls-addr",
            "127.0.0.1:0",
            "--rate",
            "0",
            "--workers",
            "1",
        ])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start rtlab-server");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = within("listening line", stdout.next_line())
        .await
        .expect("stdout")
        .expect("a listening line");
    assert_eq!(listening_part(&line, "scheme"), Some("https"), "{line}");
    let http: SocketAddr = listening_part(&line, "http")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("http=ADDR in {line}"));
    let tcp_tls: Option<SocketAddr> = listening_part(&line, "tcp-tls").and_then(|a| a.parse().ok());
    assert!(tcp_tls.is_some(), "tcp-tls=ADDR in {line}");
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    let pem = std::fs::read(&cert).expect("read cert.pem");
    let builder = reqwest::Client::builder().resolve("localhost", http);
    let client = client_trusting(&pem, HttpVersion::Alpn, builder);
    for host in ["127.0.0.1".to_owned(), "localhost".to_owned()] {
        let url = format!("https://{host}:{}/stats", http.port());
        let resp = within("GET /stats", client.get(&url).send())
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(resp.status(), 200, "{url}");
        assert_eq!(resp.version(), Version::HTTP_2, "{url}");
    }

    let pid = nix::unistd::Pid::from_raw(child.id().expect("pid") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let status = within("exit", child.wait()).await.expect("wait");
    assert!(status.success(), "{status:?}");
    let stderr = within("stderr", stderr).await.expect("stderr task");
    assert!(
        stderr.contains(&format!("serving https://{http}")) && stderr.contains("HTTP/2"),
        "the start-up log names the scheme and protocols:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
