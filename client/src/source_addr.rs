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
//! This file binds connection number *i* to `127.0.0.(1 + i mod 254)`, round robin, when the run
//! needs more than [`SPREAD_ABOVE`] connections and the server is on an IPv4 loopback address;
//! otherwise the kernel picks the source as usual.
//!
//! **Why round robin, not blocks of 20 000.** A connection closed cleanly waits in TIME_WAIT for
//! 60 s on the side that closed first: the client, for a poll (it reads the whole answer, then
//! sends its FIN). A churned stream leaves none: it closes with unread bytes, which the kernel
//! turns into a RST. Linux's `connect()` searches the ephemeral range for a free port, and with
//! some 20 000 of one address's ports in TIME_WAIT that search got slow: filling address after
//! address in blocks, a long-poll churn slowed to 1 533 cycles/s with connect p99 425 ms (max
//! 950 ms) after 15 000 cycles, where an SSE churn beside it, with no TIME_WAIT, kept connect
//! p99 at 39 ms (2026-11-28). That measured our client's port search, not the server. Round
//! robin leaves each address a 254th of the TIME_WAIT, as a real audience of many addresses
//! would.
//!
//! A dial may also ask for a receive buffer (`SO_RCVBUF`) of a given size. It must be set
//! *before* `connect()`: the kernel picks the window scale it offers in the SYN from the buffer
//! it has then, and a buffer shrunk afterwards leaves the advertised window as large as the
//! scale allows. Only a subscriber that plays a slow peer asks (`subscriber/stalled.rs`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

/// Runs with more connections than this spread them over the loopback source addresses: below
/// it, one address's ~28 000 ephemeral ports suffice, with room for TIME_WAIT and other programs.
pub const SPREAD_ABOVE: u64 = 20_000;

/// Source addresses used when spreading: 127.0.0.1 to 127.0.0.254.
const SOURCES: u64 = 254;

/// The source address for connection `index` of a run that opens `total` connections to
/// `server`, or `None` to let the kernel choose.
pub fn source_for(server: SocketAddr, index: u64, total: u64) -> Option<IpAddr> {
    match server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() && total > SPREAD_ABOVE => {
            let k = index % SOURCES;
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + k as u8)))
        }
        _ => None,
    }
}

/// The MSS a peer with a small receive buffer announces: an Ethernet link's (1500 − 40).
pub const ETHERNET_MSS: u32 = 1_460;

/// Connects to `server` from the source [`source_for`] picks, with Nagle's algorithm off (the
/// lab measures latency; a publish must not wait for an ACK to be sent), and with a receive
/// buffer of `recv_buffer_bytes` if given (else the kernel's default, autotuned).
pub async fn connect(
    server: SocketAddr,
    index: u64,
    total: u64,
    recv_buffer_bytes: Option<u32>,
) -> io::Result<TcpStream> {
    let source = source_for(server, index, total);
    let stream = if source.is_none() && recv_buffer_bytes.is_none() {
        TcpStream::connect(server).await?
    } else {
        let socket = match server {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(src) = source {
            socket.bind(SocketAddr::new(src, 0))?;
        }
        if let Some(bytes) = recv_buffer_bytes {
            // Before connect(), so the SYN's window scale is chosen for the small buffer.
            socket.set_recv_buffer_size(bytes)?;
            // And an Ethernet-sized MSS: the server sizes its send buffer in segments of the
            // MSS its peer announced (loopback's 64 KiB would let it grow to 4 MiB at once).
            socket2::SockRef::from(&socket).set_tcp_mss(ETHERNET_MSS)?;
        }
        socket.connect(server).await?
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
    recv_buffer_bytes: Option<u32>,
) -> io::Result<TcpStream> {
    let stream = connect(server, index, total, recv_buffer_bytes).await?;
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
            Some("127.0.0.6".parse().unwrap())
        );
        assert_eq!(
            source_for(lo, 254, 30_000),
            Some("127.0.0.1".parse().unwrap()),
            "round robin over 254 addresses"
        );
        let remote: SocketAddr = "10.0.0.1:8080".parse().unwrap();
        assert_eq!(source_for(remote, 25_000, 30_000), None);
    }

    #[tokio::test]
    async fn a_second_loopback_source_connects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap();
        let stream = connect(server, 1, SPREAD_ABOVE * 2, None).await.unwrap();
        assert_eq!(stream.local_addr().unwrap().ip().to_string(), "127.0.0.2");
    }

    #[tokio::test]
    async fn a_dial_with_a_small_receive_buffer_keeps_it_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap();
        let default = connect(server, 0, 1, None).await.unwrap();
        let small = connect(server, 1, 1, Some(4_096)).await.unwrap();
        let size = |s: TcpStream| {
            TcpSocket::from_std_stream(s.into_std().unwrap())
                .recv_buffer_size()
                .unwrap()
        };
        assert!(small.nodelay().unwrap());
        // Linux doubles the asked size (room for its bookkeeping); the default is far larger.
        let (small, default) = (size(small), size(default));
        assert!(small <= 2 * 4_096, "{small}");
        assert!(default > 2 * 4_096, "{default}");
    }
}
