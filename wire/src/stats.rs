//! The `GET /stats` document: the server's own counters, read by the client (to learn how many
//! events the server published during a measured window) and by the lab runner.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Seq, Transport};

/// Counters of one transport.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportStats {
    /// Streaming connections open now (WebSocket, SSE, TCP) or requests in flight (polls).
    pub open_connections: u64,
    /// Connections (streaming) or requests (polls) accepted since start.
    pub connections_total: u64,
    /// Events handed to subscribers of this transport (one per event per subscriber).
    pub deliveries: u64,
    /// Poll requests answered (0 for streaming transports).
    pub requests: u64,
    /// Poll answers that carried no event: `[]` (0 for streaming transports).
    pub empty_responses: u64,
    /// Body bytes the server wrote (frames, SSE blocks, poll bodies, TCP lines); HTTP heads and
    /// WebSocket handshakes are not included.
    pub bytes_sent: u64,
    /// Subscribers disconnected because their queue was full.
    pub lagging_disconnects: u64,
}

/// The whole `/stats` document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Milliseconds since the server started.
    pub uptime_ms: u64,
    /// Sequence number of the newest event (0 before the first).
    pub head_seq: Seq,
    /// Events published since start (ticker and clients).
    pub events_published: u64,
    /// Of those, events published by clients (`POST /publish` and WebSocket text frames).
    pub events_published_by_clients: u64,
    /// Body bytes written, all transports.
    pub bytes_sent: u64,
    /// Slow-subscriber disconnects, all transports.
    pub lagging_disconnects: u64,
    /// Streaming connections refused with 503 because `--max-connections` were open.
    pub rejected_connections: u64,
    /// How late the ticker published its most recent event, in microseconds after the event's
    /// scheduled time (its `ts`): a server that cannot keep up with `--rate` shows it here and in
    /// every latency measured against `ts`. Absent (0) from servers that do not report it.
    #[serde(default)]
    pub ticker_lag_us: u64,
    /// The largest such lag since the server started, in microseconds.
    #[serde(default)]
    pub ticker_lag_max_us: u64,
    /// Per-transport counters, keyed by the transport's text form.
    pub transports: BTreeMap<Transport, TransportStats>,
    /// The feed's identity (the `Rtlab-Epoch` header's value): ns since the Unix epoch of the
    /// feed's birth, as a decimal string because JSON numbers lose precision above 2^53 in
    /// JavaScript. Empty from servers that do not report it.
    #[serde(default)]
    pub epoch: String,
    /// Whether the feed lives in this process or in a broker.
    #[serde(default)]
    pub mode: FeedMode,
    /// This server's name among the nodes of a cluster (`--node`).
    #[serde(default)]
    pub node: String,
    /// The broker, in cluster mode (`null` in embedded mode).
    #[serde(default)]
    pub broker: Option<BrokerStatus>,
    /// The memory allocator's own account of the heap (`null` where the server cannot read it).
    #[serde(default)]
    pub heap: Option<HeapStats>,
}

/// The heap as the memory allocator sees it: what the program has allocated and not yet freed,
/// and what the allocator holds from the operating system to serve it.
///
/// The difference is free memory the allocator keeps for later: after a burst of connections it
/// can be megabytes, and it counts in the process's RSS though nothing uses it. A leak grows
/// `allocated_bytes`; fragmentation and high-water marks grow only `held_bytes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeapStats {
    /// Bytes in live allocations (allocated and not yet freed), mmapped blocks included.
    pub allocated_bytes: u64,
    /// Bytes the allocator holds from the operating system (its arenas and mmapped blocks):
    /// `allocated_bytes` plus the free memory it keeps.
    pub held_bytes: u64,
    /// Times the server has handed the allocator's free pages back to the OS since it started
    /// (`--heap-release-interval`); RSS drops then, `held_bytes` does not (the chunks stay).
    #[serde(default)]
    pub releases: u64,
    /// What the last of those releases took, µs (it holds each arena's lock meanwhile).
    #[serde(default)]
    pub last_release_us: u64,
}

/// Where the feed lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedMode {
    /// In the server process itself (the default, no broker).
    #[default]
    Embedded,
    /// In a NATS JetStream stream that every node of the cluster serves (`--broker`).
    Cluster,
}

/// The broker a cluster node publishes to and follows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerStatus {
    /// The broker's URL (`nats://HOST:PORT`).
    pub url: String,
    /// Whether the node's connection to it is up right now.
    pub connected: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_are_keyed_by_text_form() {
        let mut s = StatsSnapshot::default();
        s.transports
            .insert(Transport::LongPoll, TransportStats::default());
        let json = serde_json::to_value(&s).unwrap();
        assert!(json["transports"]["long-poll"].is_object());
        let back: StatsSnapshot = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn feed_identity_fields_have_the_contract_shape() {
        let s = StatsSnapshot {
            epoch: "1764300000123456789".into(),
            mode: FeedMode::Cluster,
            node: "a".into(),
            broker: Some(BrokerStatus {
                url: "nats://127.0.0.1:4222".into(),
                connected: true,
            }),
            ..StatsSnapshot::default()
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["epoch"], "1764300000123456789");
        assert_eq!(json["mode"], "cluster");
        assert_eq!(json["broker"]["connected"], true);
        let embedded = serde_json::to_value(StatsSnapshot::default()).unwrap();
        assert_eq!(embedded["mode"], "embedded");
        assert!(embedded["broker"].is_null());
        // A server from before the epoch still parses.
        let mut old = embedded;
        for field in ["epoch", "mode", "node", "broker", "heap"] {
            old.as_object_mut().unwrap().remove(field);
        }
        assert_eq!(
            serde_json::from_value::<StatsSnapshot>(old).unwrap(),
            StatsSnapshot::default()
        );
    }

    #[test]
    fn the_heap_is_byte_counts_and_releases_or_null() {
        let s = StatsSnapshot {
            heap: Some(HeapStats {
                allocated_bytes: 5_179_072,
                held_bytes: 7_639_040,
                releases: 3,
                last_release_us: 412,
            }),
            ..StatsSnapshot::default()
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["heap"]["allocated_bytes"], 5_179_072);
        assert_eq!(json["heap"]["held_bytes"], 7_639_040);
        assert_eq!(json["heap"]["releases"], 3);
        assert_eq!(json["heap"]["last_release_us"], 412);
        // A server from before releases still parses.
        let old = serde_json::json!({"allocated_bytes": 1, "held_bytes": 2});
        assert_eq!(
            serde_json::from_value::<HeapStats>(old).unwrap().releases,
            0
        );
        assert!(serde_json::to_value(StatsSnapshot::default()).unwrap()["heap"].is_null());
    }
}
