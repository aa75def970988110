//! Opening many connections to one server: loopback source addresses.
//!
//! A TCP connection is named by four numbers: source address and port, destination address and
//! port. Towards one server (one destination address and port) from one source address, only
//! the ephemeral ports are left to tell connections apart: about 28 000 on Linux
//! (`net.ipv4.ip_local_port_range` = 32768–60999), fewer still when closed connections linger in
//! TIME_WAIT. A load generator that wants more connections than that to a server on the same
//! machine can use another *source address*: all of 127.0.0.0/8 is loopback, so binding to
//! 127.0.0.2, 127.0.0.3, … before connecting gives a fresh port range per address.
//!
//! This file binds connection number *i* to `127.0.0.(1 + i / PER_SOURCE)` when the run needs
//! more than [`PER_SOURCE`] connections and the server is on an IPv4 loopback address;
//! otherwise the kernel picks the source as usual.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

/// Connections per source address before the next one is used: well below the ~28 000 ephemeral
/// ports, leaving room for TIME_WAIT and other programs.
pub const PER_SOURCE: u64 = 20_000;

/// The source address for connection `index` of a run that opens `total` connections to
/// `server`, or `None` to let the kernel choose.
pub fn source_for(server: SocketAddr, index: u64, total: u64) -> Option<IpAddr> {
    match server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() && total > PER_SOURCE => {
            // 127.0.0.1 .. 127.0.0.254, wrapping (only past 5 million connections).
            let k = (index / PER_SOURCE) % 254;
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + k as u8)))
        }
        _ => None,
    }
}

/// Connects to `server` from the source [`source_for`] picks, with Nagle's algorithm off (the
/// lab measures latency; a publish must not wait for an ACK to be sent).
pub async fn connect(server: SocketAddr, index: u64, total: u64) -> io::Result<TcpStream> {
    let stream = match source_for(server, index, total) {
        Some(src) => {
            let socket = match server {
                SocketAddr::V4(_) => TcpSocket::new_v4()?,
                SocketAddr::V6(_) => TcpSocket::new_v6()?,
            };
            socket.bind(SocketAddr::new(src, 0))?;
            socket.connect(server).await?
        }
        None => TcpStream::connect(server).await?,
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// [`connect`], then wait `handshake` before handing the stream out: through a shaper on
/// loopback `connect()` returns at once, where over the link it imitates it would return after
/// the SYN/SYN-ACK round trip (see `network::relay`). Zero when not shaping.
pub async fn dial(
    server: SocketAddr,
    index: u64,
    total: u64,
    handshake: std::time::Duration,
) -> io::Result<TcpStream> {
    let stream = connect(server, index, total).await?;
    if !handshake.is_zero() {
        tokio::time::sleep(handshake).await;
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_only_beyond_the_threshold_and_only_on_loopback() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(source_for(lo, 5, 10_000), None);
        assert_eq!(
            source_for(lo, 5, 30_000),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            source_for(lo, 20_000, 30_000),
            Some("127.0.0.2".parse().unwrap())
        );
        let remote: SocketAddr = "10.0.0.1:8080".parse().unwrap();
        assert_eq!(source_for(remote, 25_000, 30_000), None);
    }

    #[tokio::test]
    async fn a_second_loopback_source_connects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap();
        let stream = connect(server, PER_SOURCE, PER_SOURCE * 2).await.unwrap();
        assert_eq!(stream.local_addr().unwrap().ip().to_string(), "127.0.0.2");
    }
}
