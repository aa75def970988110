//! TLS and HTTP/2 against the real server serving HTTPS/WSS (and the raw-TCP baseline on its
//! TLS listener) with a self-signed certificate made at test time: every transport measures
//! over TLS with the protocol's bytes unchanged and the wire's bytes larger by the handshake and
//! the records; HTTP/2 carries sse and the polls, its poll heads shrink (HPACK), and streams
//! share connections; the flags that do not fit together, and a certificate that is not trusted,
//! fail in one line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rstest::rstest;
use rstest_reuse::apply;
use rtlab_client::config::HttpVersion;
use rtlab_client::tls::TlsTrust;
use rtlab_client::{RunConfig, RunReport};
use rtlab_server::{Config, RunningServer};
use rtlab_wire::Transport;

use crate::common::{RATE, assert_framing_exact, assert_one_line_error, client, every_transport};

/// A self-signed pair for 127.0.0.1, ::1 and localhost in a directory of its own (the server
/// reads files), removed on drop.
pub struct TestCert {
    dir: PathBuf,
    /// The certificate: also the root to trust (`--ca`), since it signs itself.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

impl TestCert {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rtlab-client-tls-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let names = ["127.0.0.1", "::1", "localhost"].map(String::from).to_vec();
        let pair = rcgen::generate_simple_self_signed(names).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, pair.cert.pem()).unwrap();
        std::fs::write(&key, pair.signing_key.serialize_pem()).unwrap();
        Self { dir, cert, key }
    }

    fn ca(&self) -> &str {
        self.cert.to_str().unwrap()
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The real server with TLS on its HTTP address and a TLS baseline listener.
async fn tls_server(cert: &TestCert) -> RunningServer {
    rtlab_server::spawn(Config {
        rate: RATE,
        workers: 1,
        tls_cert: Some(cert.cert.clone()),
        tls_key: Some(cert.key.clone()),
        tcp_tls_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..Config::ephemeral()
    })
    .await
    .expect("the TLS server starts")
}

/// The TLS URL of `transport` on `server`: `wss://` for ws, `tls://` for tcp, else `https://`.
fn tls_url(server: &RunningServer, transport: Transport) -> String {
    match transport {
        Transport::Tcp => format!("tls://{}", server.tcp_tls_addr().unwrap()),
        Transport::Ws => format!("wss://{}", server.http_addr()),
        _ => format!("https://{}", server.http_addr()),
    }
}

/// 10 clients, 1 s measured after 300 ms, over TLS trusting `cert`, /stats over https too.
fn tls_run(server: &RunningServer, cert: &TestCert, transport: Transport) -> RunConfig {
    RunConfig {
        control_url: Some(format!("https://{}", server.http_addr())),
        clients: 10,
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(300),
        connect_rate: 2_000.0,
        tls: TlsTrust {
            ca: Some(cert.cert.clone()),
            insecure: false,
        },
        ..RunConfig::new(transport, tls_url(server, transport))
    }
}

async fn run(config: RunConfig) -> RunReport {
    rtlab_client::run(config).await.expect("the run succeeds")
}

#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_measures_over_tls_with_the_handshake_below(transport: Transport) {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    let r = run(tls_run(&server, &cert, transport)).await;
    server.shutdown().await.ok();
    let w = &r.wire;
    assert!(r.tls, "{transport}");
    assert!(
        r.events_received > 0 && r.delivery_ratio > 0.9,
        "{transport}: {r:?}"
    );
    assert_eq!(
        r.window_mode,
        Some(rtlab_client::report::WindowMode::ExactBySeq)
    );
    // Below TLS is more than above it, in the window and at set-up, where the difference is
    // the handshake: with the test's ECDSA P-256 certificate about 1 KB per connection (980 B
    // for tcp, which offers no ALPN and sends nothing above TLS); over 800 B.
    assert!(w.wire_bytes_down > w.bytes_down, "{transport}: {w:?}");
    assert!(w.tls_overhead_bytes_per_event > 0.0, "{transport}: {w:?}");
    let handshake = (w.setup_wire_bytes_down + w.setup_wire_bytes_up)
        .saturating_sub(w.setup_bytes_down + w.setup_bytes_up);
    assert!(
        handshake > 800 * r.connected,
        "{transport}: {handshake} B of set-up below TLS over {} connections: {w:?}",
        r.connected
    );
    let per_connection = w.setup_wire_bytes_per_connection.unwrap();
    assert!(
        (800.0..10_000.0).contains(&per_connection),
        "{transport}: {per_connection}"
    );
    // The handshake is its own step of time to first event, once per subscriber.
    assert_eq!(r.tls_handshake_us.count, r.connected, "{transport}");
    assert!(r.tls_handshake_us.p50 > 0.0 && r.tls_handshake_us.p50 <= r.connect_us.max);
    assert_eq!(r.connections, r.connected + r.reconnects, "{transport}");
    // Above TLS nothing changed: the streaming transports' framing is still exact.
    if matches!(transport, Transport::Ws | Transport::Sse) {
        assert_framing_exact(&r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tls_the_wire_figures_are_the_protocols() {
    let server = crate::common::server(RATE).await;
    let config = crate::common::short_run(&server, Transport::Sse);
    let r = crate::common::run_then_shut_down(server, config).await;
    let w = &r.wire;
    assert!(!r.tls && r.events_received > 0);
    assert_eq!(
        (w.wire_bytes_down, w.wire_bytes_up),
        (w.bytes_down, w.bytes_up)
    );
    assert_eq!(w.setup_wire_bytes_down, w.setup_bytes_down);
    assert_eq!(w.tls_overhead_bytes_per_event, 0.0);
    assert_eq!(r.tls_handshake_us.count, 0);
}

#[rstest]
#[case::sse(Transport::Sse)]
#[case::long_poll(Transport::LongPoll)]
#[case::short_poll(Transport::ShortPoll)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_carries_sse_and_the_polls(#[case] transport: Transport) {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    let r = run(RunConfig {
        http: HttpVersion::Http2,
        ..tls_run(&server, &cert, transport)
    })
    .await;
    server.shutdown().await.ok();
    assert_eq!(r.http_version.as_deref(), Some("2"), "{transport}");
    assert!(
        r.events_received > 0 && r.delivery_ratio > 0.9,
        "{transport}: {r:?}"
    );
    assert!(r.wire.wire_bytes_down > r.wire.bytes_down, "{transport}");
    // HTTP/1.1's chunking model does not describe HTTP/2's DATA frames.
    assert_eq!(r.wire.analytic_overhead_bytes, None, "{transport}");
    if transport != Transport::Sse {
        assert!(r.requests > 0, "{transport}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpack_shrinks_repeated_poll_heads() {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    let mut figures = Vec::new();
    for http in [HttpVersion::Http1, HttpVersion::Http2] {
        let r = run(RunConfig {
            http,
            poll_interval: Duration::from_millis(50),
            ..tls_run(&server, &cert, Transport::ShortPoll)
        })
        .await;
        assert!(r.requests > 50, "{http:?}: {} polls", r.requests);
        figures.push((
            r.wire.request_bytes_per_request.unwrap(),
            r.wire.response_head_bytes_per_request.unwrap(),
        ));
    }
    server.shutdown().await.ok();
    let [(h1_request, h1_response), (h2_request, h2_response)] = figures[..] else {
        unreachable!()
    };
    // The window's polls come after the set-up poll: their heads are in the HPACK tables (on
    // this server about 30 B against 61 B up, 38 B against 109 B down).
    assert!(
        h2_request < 0.75 * h1_request,
        "request head per poll: h1 {h1_request:.1} B, h2 {h2_request:.1} B"
    );
    assert!(
        h2_response < 0.75 * h1_response,
        "response head per poll: h1 {h1_response:.1} B, h2 {h2_response:.1} B"
    );
}

/// The server's established TCP connections on `port` right now, from the kernel's table (the
/// server runs in this process's network namespace).
fn server_sockets(port: u16) -> usize {
    let local = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|table| {
            table
                .lines()
                .skip(1)
                .filter(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    // local address, remote address, state (01: established)
                    f.len() > 3 && f[1].ends_with(&local) && f[3] == "01"
                })
                .count()
        })
        .sum()
}

#[rstest]
#[case::sse(Transport::Sse)]
#[case::long_poll(Transport::LongPoll)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_share_http2_connections(#[case] transport: Transport) {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    let port = server.http_addr().port();
    let mut counted = Vec::new();
    for streams in [1, 10] {
        let config = RunConfig {
            clients: 20,
            http: HttpVersion::Http2,
            streams_per_connection: streams,
            ..tls_run(&server, &cert, transport)
        };
        let task = tokio::spawn(rtlab_client::run(config));
        // Inside the window: every subscriber is connected.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let sockets = server_sockets(port);
        let r = task.await.unwrap().expect("the run succeeds");
        assert_eq!(r.connected, 20, "{transport} × {streams}");
        assert!(r.delivery_ratio > 0.9, "{transport} × {streams}: {r:?}");
        assert_eq!(r.streams_per_connection, u64::from(streams));
        counted.push((streams, r.connections, sockets));
    }
    server.shutdown().await.ok();
    let [(_, own_each, sockets_each), (_, shared, sockets_shared)] = counted[..] else {
        unreachable!()
    };
    assert_eq!(own_each, 20, "{transport}: {counted:?}");
    assert_eq!(shared, 2, "{transport}: {counted:?}");
    // The server sees it too: 20 sockets against 2 (and /stats' own, at most one more).
    assert!(sockets_each >= 20, "{transport}: {counted:?}");
    assert!(sockets_shared <= 3, "{transport}: {counted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_accepts_the_self_signed_certificate_with_a_warning() {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    let url = format!("https://{}", server.http_addr());
    let out = client(&[
        "-t",
        "sse",
        "--url",
        &url,
        "--insecure",
        "-c",
        "2",
        "-d",
        "500ms",
        "--warmup",
        "200ms",
        "--json",
        "-",
        "-q",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("--insecure") && stderr.starts_with("warning"),
        "{stderr}"
    );
    let r: RunReport = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r.tls && r.events_received > 0);
    crate::schema::check_json(&serde_json::to_value(&r).unwrap()).unwrap();
    // Trusting another certificate instead fails every handshake: a failed run, one line.
    let other = TestCert::new();
    let out = client(&[
        "-t",
        "sse",
        "--url",
        &url,
        "--ca",
        other.ca(),
        "-d",
        "500ms",
        "--warmup",
        "0s",
        "-q",
    ])
    .await;
    assert_one_line_error(&out, 1, "TLS");
    server.shutdown().await.ok();
}

#[tokio::test]
async fn tls_flags_that_do_not_fit_exit_2_with_one_line() {
    let https = "https://127.0.0.1:1";
    let cases: &[(&[&str], &str)] = &[
        (&["-t", "sse", "--url", https], "--ca FILE"),
        (&["-t", "ws", "--url", "wss://127.0.0.1:1"], "--insecure"),
        (&["-t", "tcp", "--url", "tls://127.0.0.1:1"], "--ca FILE"),
        (&["-t", "sse", "--insecure"], "need a TLS URL"),
        (
            &["-t", "sse", "--url", https, "--ca", "x.pem", "--insecure"],
            "--insecure",
        ),
        (&["-t", "sse", "--http", "2"], "needs TLS"),
        (
            &["-t", "ws", "--url", https, "--insecure", "--http", "2"],
            "--http 2 is for sse",
        ),
        (
            &[
                "-t",
                "tcp",
                "--url",
                "tls://127.0.0.1:1",
                "--insecure",
                "--http",
                "2",
            ],
            "--http 2",
        ),
        (
            &[
                "-t",
                "sse",
                "--url",
                https,
                "--insecure",
                "--streams-per-connection",
                "4",
            ],
            "--http 2",
        ),
        (
            &["-t", "sse", "--streams-per-connection", "0"],
            "--streams-per-connection",
        ),
        (&["-t", "sse", "--http", "3"], "--http"),
        (
            &["-t", "sse", "--url", https, "--ca", "/nonexistent/ca.pem"],
            "/nonexistent/ca.pem",
        ),
        (
            &["-t", "sse", "--url", "wss://127.0.0.1:1", "--insecure"],
            "wss://",
        ),
    ];
    for (args, needle) in cases {
        let out = client(args).await;
        assert_one_line_error(&out, 2, needle);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tracer_shows_the_tls_handshake_before_the_decrypted_exchange() {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    let url = format!("https://{}", server.http_addr());
    let out = client(&[
        "trace",
        "sse",
        "--url",
        &url,
        "--ca",
        cert.ca(),
        "--frames",
        "2",
    ])
    .await;
    server.shutdown().await.ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tls = stdout
        .find("TLS below the protocol")
        .expect("a TLS section");
    let head = stdout
        .find("HTTP/1.1 200")
        .expect("the decrypted response head");
    assert!(tls < head, "{stdout}");
    assert!(stdout.contains("Handshake ClientHello"), "{stdout}");
    assert!(stdout.contains("Handshake ServerHello"), "{stdout}");
    let summary = stdout
        .lines()
        .find(|l| l.contains("  handshake: "))
        .expect("the handshake's sum");
    assert!(
        summary.contains("1 round trip before the first HTTP byte"),
        "{summary}"
    );
    let total: usize = summary
        .split(" = ")
        .nth(1)
        .and_then(|s| s.split(" B").next())
        .and_then(|n| n.parse().ok())
        .expect("a byte count");
    assert!(total > 800, "{summary}");
}
