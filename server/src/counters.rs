//! The server's own counters, served at `GET /stats`, and the cap on open streaming connections.
//!
//! A measurement lab must be able to check the client's numbers against the server's: how many
//! events were published in a window, how many deliveries each transport made, how many body
//! bytes left, how many subscribers were cut off for lagging. Every counter here is a relaxed
//! atomic: each one is exact on its own, but a snapshot is not one consistent instant (a delivery
//! can be counted while its bytes are not yet). That is the usual trade for counters on a hot
//! path; a production system would export them to Prometheus rather than a JSON endpoint.
//!
//! What `bytes_sent` counts: body bytes handed to the framework or the socket. For WebSocket the
//! frame header plus payload of every frame we send (events, pings, pongs, closes); for SSE the
//! `id:`/`data:` blocks and heartbeats, without the HTTP chunk framing actix adds around them; for
//! polls the JSON array; for TCP the lines.
//!
//! The connection cap lives here too because it *is* a counter: [`Counters::open_streaming`] bumps
//! the count of open streaming connections and refuses (and counts the refusal) above the cap;
//! the returned [`ConnectionGuard`] gives the slot back when the connection ends, however it ends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use rtlab_wire::{Seq, StatsSnapshot, Transport, TransportStats};

/// Counters of one transport; field meanings as in [`TransportStats`].
#[derive(Debug, Default)]
pub struct TransportCounters {
    /// Streaming connections open, or poll requests in flight.
    pub open_connections: AtomicU64,
    /// Connections or poll requests accepted since start.
    pub connections_total: AtomicU64,
    /// Events handed to subscribers (one per event per subscriber).
    pub deliveries: AtomicU64,
    /// Poll requests answered.
    pub requests: AtomicU64,
    /// Poll answers that were `[]`.
    pub empty_responses: AtomicU64,
    /// Body bytes written.
    pub bytes_sent: AtomicU64,
    /// Subscribers disconnected because their queue was full.
    pub lagging_disconnects: AtomicU64,
}

impl TransportCounters {
    /// Counts `events` deliveries carried in `bytes` body bytes.
    pub fn delivered(&self, events: u64, bytes: usize) {
        self.deliveries.fetch_add(events, Relaxed);
        self.add_bytes(bytes);
    }

    /// Counts body bytes that carried no event (pings, heartbeats, close frames).
    pub fn add_bytes(&self, bytes: usize) {
        self.bytes_sent.fetch_add(bytes as u64, Relaxed);
    }

    /// Counts one answered poll that carried `events` events in `bytes` body bytes.
    pub fn answered_poll(&self, events: usize, bytes: usize) {
        self.requests.fetch_add(1, Relaxed);
        if events == 0 {
            self.empty_responses.fetch_add(1, Relaxed);
        }
        self.delivered(events as u64, bytes);
    }

    fn snapshot(&self) -> TransportStats {
        TransportStats {
            open_connections: self.open_connections.load(Relaxed),
            connections_total: self.connections_total.load(Relaxed),
            deliveries: self.deliveries.load(Relaxed),
            requests: self.requests.load(Relaxed),
            empty_responses: self.empty_responses.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            lagging_disconnects: self.lagging_disconnects.load(Relaxed),
        }
    }
}

/// All of the server's counters.
#[derive(Debug)]
pub struct Counters {
    started: Instant,
    events_published: AtomicU64,
    events_published_by_clients: AtomicU64,
    rejected_connections: AtomicU64,
    ticker_lag_us: AtomicU64,
    ticker_lag_max_us: AtomicU64,
    /// Open streaming connections of every kind (echo included): what `--max-connections` caps.
    open_streaming: AtomicUsize,
    transports: [TransportCounters; 5],
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

impl Counters {
    /// Fresh counters; uptime counts from now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            events_published: AtomicU64::new(0),
            events_published_by_clients: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            ticker_lag_us: AtomicU64::new(0),
            ticker_lag_max_us: AtomicU64::new(0),
            open_streaming: AtomicUsize::new(0),
            transports: Default::default(),
        }
    }

    /// The counters of one transport.
    pub fn transport(&self, t: Transport) -> &TransportCounters {
        &self.transports[index(t)]
    }

    /// Counts one published event; `by_client` for `/publish` and WebSocket text frames.
    pub fn published(&self, by_client: bool) {
        self.events_published.fetch_add(1, Relaxed);
        if by_client {
            self.events_published_by_clients.fetch_add(1, Relaxed);
        }
    }

    /// Records how late (µs after its scheduled time) the ticker published an event.
    pub fn ticker_lag(&self, lag_us: u64) {
        self.ticker_lag_us.store(lag_us, Relaxed);
        self.ticker_lag_max_us.fetch_max(lag_us, Relaxed);
    }

    /// Counts one streaming subscriber of `t` cut off for lagging.
    pub fn lagging(&self, t: Transport) {
        self.transport(t).lagging_disconnects.fetch_add(1, Relaxed);
    }

    /// Takes one of the `max` streaming-connection slots for a connection of `transport` (`None`
    /// for the echo socket, which is capped but not a feed transport). `None` when all slots are
    /// taken; the refusal is counted.
    pub fn open_streaming(
        self: &Arc<Self>,
        transport: Option<Transport>,
        max: usize,
    ) -> Option<ConnectionGuard> {
        // Optimistic increment, undone on overflow: no lock, and the cap is never exceeded.
        if self.open_streaming.fetch_add(1, Relaxed) >= max {
            self.open_streaming.fetch_sub(1, Relaxed);
            self.rejected_connections.fetch_add(1, Relaxed);
            return None;
        }
        Some(self.open(transport, true))
    }

    /// Registers one poll request of `transport` in flight (polls are not capped).
    pub fn open_request(self: &Arc<Self>, transport: Transport) -> ConnectionGuard {
        self.open(Some(transport), false)
    }

    fn open(self: &Arc<Self>, transport: Option<Transport>, capped: bool) -> ConnectionGuard {
        if let Some(t) = transport {
            let c = self.transport(t);
            c.open_connections.fetch_add(1, Relaxed);
            c.connections_total.fetch_add(1, Relaxed);
        }
        ConnectionGuard {
            counters: Arc::clone(self),
            transport,
            capped,
        }
    }

    /// The `/stats` document, given the hub's head seq.
    pub fn snapshot(&self, head_seq: Seq) -> StatsSnapshot {
        let transports: BTreeMap<_, _> = Transport::ALL
            .into_iter()
            .map(|t| (t, self.transport(t).snapshot()))
            .collect();
        StatsSnapshot {
            uptime_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            head_seq,
            events_published: self.events_published.load(Relaxed),
            events_published_by_clients: self.events_published_by_clients.load(Relaxed),
            bytes_sent: transports.values().map(|t| t.bytes_sent).sum(),
            lagging_disconnects: transports.values().map(|t| t.lagging_disconnects).sum(),
            rejected_connections: self.rejected_connections.load(Relaxed),
            ticker_lag_us: self.ticker_lag_us.load(Relaxed),
            ticker_lag_max_us: self.ticker_lag_max_us.load(Relaxed),
            transports,
            // The feed's identity is the server's to fill in (see `app::stats`).
            ..StatsSnapshot::default()
        }
    }
}

/// One open connection or request in the counters; dropping it closes it there.
#[derive(Debug)]
pub struct ConnectionGuard {
    counters: Arc<Counters>,
    transport: Option<Transport>,
    capped: bool,
}

impl ConnectionGuard {
    /// The counters of this connection's transport, if it has one.
    pub fn counters(&self) -> Option<&TransportCounters> {
        self.transport.map(|t| self.counters.transport(t))
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(t) = self.transport {
            self.counters
                .transport(t)
                .open_connections
                .fetch_sub(1, Relaxed);
        }
        if self.capped {
            self.counters.open_streaming.fetch_sub(1, Relaxed);
        }
    }
}

const fn index(t: Transport) -> usize {
    match t {
        Transport::Ws => 0,
        Transport::Sse => 1,
        Transport::LongPoll => 2,
        Transport::ShortPoll => 3,
        Transport::Tcp => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_refuses_and_counts_then_frees_on_drop() {
        let counters = Arc::new(Counters::new());
        let a = counters.open_streaming(Some(Transport::Ws), 2).unwrap();
        let _b = counters.open_streaming(None, 2).unwrap();
        assert!(counters.open_streaming(Some(Transport::Sse), 2).is_none());
        let snap = counters.snapshot(0);
        assert_eq!(snap.rejected_connections, 1);
        assert_eq!(snap.transports[&Transport::Ws].open_connections, 1);
        assert_eq!(snap.transports[&Transport::Sse].open_connections, 0);
        drop(a);
        assert_eq!(
            counters.snapshot(0).transports[&Transport::Ws].open_connections,
            0
        );
        assert!(counters.open_streaming(Some(Transport::Sse), 2).is_some());
    }

    #[test]
    fn totals_sum_transports() {
        let counters = Arc::new(Counters::new());
        counters.transport(Transport::Ws).delivered(2, 100);
        counters.transport(Transport::LongPoll).answered_poll(0, 2);
        counters.lagging(Transport::Tcp);
        let snap = counters.snapshot(7);
        assert_eq!(snap.bytes_sent, 102);
        assert_eq!(snap.lagging_disconnects, 1);
        assert_eq!(snap.head_seq, 7);
        let lp = &snap.transports[&Transport::LongPoll];
        assert_eq!((lp.requests, lp.empty_responses), (1, 1));
    }
}
