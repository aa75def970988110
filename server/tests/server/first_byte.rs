//! Connections that say nothing (`rtlab_server::http_listener::first_byte`): reset at their
//! first-byte deadline (never before `FIRST_BYTE_TIMEOUT`), plain or TLS, with no 408; a request that comes after a pause is served
//! whole (the wait takes nothing from the socket); a request head that was started is still
//! actix-http's, answered 408 at its `client_request_timeout`.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rstest::rstest;
use rtlab_server::RunningServer;
use rtlab_server::http_listener::{CLIENT_REQUEST_TIMEOUT, FIRST_BYTE_TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;
use crate::test_cert::TestCert;

/// Starts the server, with TLS on its HTTP listener if `tls` (the certificate kept alive beside
/// it).
async fn server(tls: bool) -> (RunningServer, Option<TestCert>) {
    if !tls {
        return (start(|_| {}).await, None);
    }
    let cert = TestCert::new();
    let (cert_path, key_path) = (cert.cert.clone(), cert.key.clone());
    let server = start(move |c| {
        c.tls_cert = Some(cert_path);
        c.tls_key = Some(key_path);
    })
    .await;
    assert!(server.tls());
    (server, Some(cert))
}

/// Reads `s` to its end: the bytes, the error that ended it (`None`: a clean end of file), and
/// how long after `since` it ended.
async fn read_to_end(s: &mut TcpStream, since: Instant) -> (Vec<u8>, Option<ErrorKind>, Duration) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let limit = FIRST_BYTE_TIMEOUT.max(CLIENT_REQUEST_TIMEOUT) + STEP;
    loop {
        match tokio::time::timeout(limit, s.read(&mut buf)).await {
            Err(_) => panic!("still open after {limit:?}, {} bytes read", got.len()),
            Ok(Ok(0)) => return (got, None, since.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return (got, Some(e.kind()), since.elapsed()),
        }
    }
}

#[rstest]
#[case::http(false)]
#[case::https(true)]
#[tokio::test]
async fn a_silent_connection_is_reset_at_its_first_byte_deadline(#[case] tls: bool) {
    let (server, _cert) = server(tls).await;
    let opened = Instant::now();
    let mut s = TcpStream::connect(server.http_addr())
        .await
        .expect("connects");
    let (got, error, after) = read_to_end(&mut s, opened).await;
    assert!(
        got.is_empty(),
        "no 408 for a request never started: {got:?}"
    );
    assert_eq!(error, Some(ErrorKind::ConnectionReset), "after {after:?}");
    // Not earlier (a TLS handshake timeout, 3 s, or actix's cached clock, 0.5 s, would be).
    assert!(after >= FIRST_BYTE_TIMEOUT, "reset after {after:?}");
}

#[tokio::test]
async fn a_request_after_a_pause_is_served_whole() {
    let (server, _) = server(false).await;
    let addr: SocketAddr = server.http_addr();
    let mut s = TcpStream::connect(addr).await.expect("connects");
    // Longer than a tick of actix's cached clock, far shorter than the deadline.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let request = format!("GET /stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.expect("writes");
    let (got, error, _) = read_to_end(&mut s, Instant::now()).await;
    let text = String::from_utf8_lossy(&got);
    assert_eq!(error, None, "{text}");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains("\"open_connections\""),
        "the /stats body: {text}"
    );
}

#[tokio::test]
async fn a_started_head_is_answered_408_at_the_request_timeout() {
    let (server, _) = server(false).await;
    let mut s = TcpStream::connect(server.http_addr())
        .await
        .expect("connects");
    let opened = Instant::now();
    s.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("writes");
    let (got, _, after) = read_to_end(&mut s, opened).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text} after {after:?}");
    // actix's deadline comes from a clock it refreshes every 500 ms.
    assert!(
        after >= CLIENT_REQUEST_TIMEOUT - Duration::from_millis(500),
        "after {after:?}"
    );
}
