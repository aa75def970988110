//! Every listener queues a burst of thousands of connections (`LISTEN_BACKLOG`, capped by the
//! kernel's `net.core.somaxconn`), not tokio's default 1 024: read back from the kernel with
//! `ss`, whose `Send-Q` column is a listening socket's backlog.

use std::net::SocketAddr;

use rtlab_server::server::LISTEN_BACKLOG;

use crate::common::start;

/// The backlog the kernel holds for the listening socket on `addr`.
fn backlog_of(addr: SocketAddr) -> u32 {
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{}", addr.port())])
        .output()
        .expect("`ss` (iproute2) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    // State, Recv-Q, Send-Q, local address, peer address.
    let line = text
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no listener on {addr}: {text:?}"));
    line.split_whitespace()
        .nth(2)
        .and_then(|q| q.parse().ok())
        .unwrap_or_else(|| panic!("no Send-Q in {line:?}"))
}

#[tokio::test]
async fn every_listener_queues_thousands_of_connections() {
    let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .expect("somaxconn")
        .trim()
        .parse()
        .expect("a number");
    let expected = LISTEN_BACKLOG.min(somaxconn);
    assert!(expected > 1_024, "this kernel caps backlogs at {somaxconn}");
    let server = start(|_| {}).await;
    for addr in [server.http_addr(), server.tcp_addr()] {
        assert_eq!(backlog_of(addr), expected, "{addr}");
    }
}
