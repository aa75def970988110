//! What every subscriber of a run shares: where to connect, how, and when.
//!
//! The engine fills one [`Ctx`] before the first connection and hands every subscriber an `Arc`
//! of it, so 10 000 subscribers share one resolved address, one clock and one set of window
//! bounds instead of carrying copies. The only thing in it that changes during the run is
//! [`Ctx::conn_counter`], which numbers connections so that beyond 20 000 of them each gets a
//! source address of its own (`source_addr.rs`), and the window's seqs, set once each.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rtlab_wire::Transport;
use tokio::net::TcpStream;

use crate::clock::RunClock;
use crate::config::{HttpVersion, Target};
use crate::poll_phase::PollPhases;
use crate::publish::OpenSchedule;
use crate::tls::{NetStream, TlsConnector};
use crate::transport::SubError;
use crate::transport::h2_pool::H2Pool;
use crate::window_seq::WindowSeqs;
use crate::wire_counter::{ByteTally, WireCounter};

/// What every subscriber of a run shares: where to connect, how, and when.
#[derive(Debug)]
pub struct Ctx {
    /// The transport.
    pub transport: Transport,
    /// The server (for tcp, its TCP listener).
    pub target: Target,
    /// Its resolved address, or the shaper's in front of it (see `network/`).
    pub addr: SocketAddr,
    /// How long a dial waits after `connect()` when shaped: the TCP handshake's round trip that
    /// the shaper's loopback listener skipped. Zero when not shaping.
    pub handshake: Duration,
    /// The server's HTTP side (its address, or its shaper's), for publishing, if any.
    pub control: Option<(Target, SocketAddr)>,
    /// Time line.
    pub clock: RunClock,
    /// Short-poll interval.
    pub poll_interval: Duration,
    /// Each short-polling subscriber's phase on the interval grid (empty for other transports).
    pub poll_phases: PollPhases,
    /// Long-poll `timeout_ms`.
    pub long_poll_timeout: Duration,
    /// Publishes per second per subscriber.
    pub publish_rate: Option<f64>,
    /// Connect + set-up time limit.
    pub connect_timeout: Duration,
    /// Run identifier inside publish texts.
    pub run_id: u64,
    /// Subscribers in the run.
    pub clients: u64,
    /// Connections opened so far (numbers them for source-address spreading).
    pub conn_counter: AtomicU64,
    /// The server's head seq at the window's start and end, once read.
    pub window_seqs: Arc<WindowSeqs>,
    /// TLS sessions to the target, when its URL asks for TLS (ALPN for [`http`](Self::http)).
    pub tls: Option<TlsConnector>,
    /// TLS sessions to the HTTP side (`control`), when its URL asks for TLS (HTTP/1.1).
    pub control_tls: Option<TlsConnector>,
    /// The HTTP version sse and the polls speak.
    pub http: HttpVersion,
    /// The HTTP/2 connections subscribers share, `streams_per_connection` to each.
    pub h2_pool: H2Pool,
    /// How long a dropped subscriber tries to reconnect; `None`: it does not (`--no-reconnect`,
    /// churn).
    pub reconnect_give_up: Option<Duration>,
}

impl Ctx {
    /// Connections the run may open: one per subscriber, two when publishing over POST.
    pub(crate) fn conn_total(&self) -> u64 {
        if self.publish_rate.is_some() && self.transport != Transport::Ws {
            self.clients * 2
        } else {
            self.clients
        }
    }

    /// The next connection's number (for its source address).
    pub(crate) fn next_conn_index(&self) -> u64 {
        self.conn_counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Dials a TCP connection to the server (not yet counted: see [`secure`](Self::secure)),
    /// with a receive buffer of `recv_buffer_bytes` if given (a stalled subscriber's).
    pub async fn dial(&self, recv_buffer_bytes: Option<u32>) -> Result<TcpStream, SubError> {
        let index = self.next_conn_index();
        crate::source_addr::dial(
            self.addr,
            index,
            self.conn_total(),
            self.handshake,
            recv_buffer_bytes,
        )
        .await
        .map_err(SubError::Connect)
    }

    /// Puts a dialled socket under the byte counters, running the TLS handshake if the target
    /// asks for TLS: `above` counts what the protocol spends, `below` what crosses the socket
    /// (the same tally without TLS). See `tls.rs`.
    pub async fn secure(
        &self,
        tcp: TcpStream,
        above: Arc<ByteTally>,
        below: Arc<ByteTally>,
    ) -> Result<WireCounter<NetStream>, SubError> {
        crate::tls::secure(tcp, self.tls.as_ref(), above, below)
            .await
            .map_err(|e| SubError::Tls(e.to_string()))
    }

    /// The publish schedule of subscriber `id`, if publishing.
    pub fn publish_schedule(&self, id: u64) -> Option<OpenSchedule> {
        let rate = self.publish_rate?;
        // Spread subscribers' send times evenly over one period (golden-ratio sequence).
        let offset = (id as f64 * 0.618_033_988_75).fract();
        Some(OpenSchedule::new(self.clock.start, rate, offset))
    }
}
