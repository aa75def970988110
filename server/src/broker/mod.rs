//! Cluster mode: one feed across many server processes, through a NATS JetStream stream.
//!
//! A single process holds the feed in its hub; to serve more connections than one process (or one
//! machine) can hold, several nodes must serve *the same* feed. The classic answer, and the one
//! Centrifugo, SignalR backplanes and Socket.IO adapters use, is a broker between them: every node
//! hands the events it creates to the broker, and every node delivers everything the broker holds.
//!
//! With `--broker nats://HOST:PORT` that broker is one JetStream stream (`--broker-stream`, on the
//! subject `STREAM.feed`). JetStream stores every message with a stream sequence (1, 2, 3, … with
//! no gap), and that sequence **is** the event's `seq`. So the seq is global, not per node: a
//! client may poll node A with `?after=N` and then node B, or resume an SSE stream on another node
//! with `Last-Event-ID`, and get exactly the events after N. No sticky sessions are needed, within
//! what the stream still keeps (`--history` is its `max_msgs`).
//!
//! The path of one event:
//!
//! 1. a node creates it (its ticker, `POST /publish`, a WebSocket text frame) and publishes it to
//!    the stream ([`Broker::publish`]; [`message`] says what the message carries);
//! 2. JetStream stores it and answers with an ack holding the stream sequence: `POST /publish`
//!    answers `{"seq":N}` with it;
//! 3. every node, the publisher included, reads the stream in order ([`follower`]) and appends
//!    each message to its own hub with the seq and `ts` from the message
//!    ([`crate::hub::Hub::append`]); from there on, each node encodes and fans out as in embedded
//!    mode, once per node.
//!
//! So a node's own events also make the round trip through the broker before its subscribers see
//! them: that hop is the price of a global order, and what the lab measures as the broker's added
//! latency. The ticker is the other subtle part: every node runs one, yet the feed must carry
//! `--rate` events/s, not N × `--rate` ([`tick_publisher`]).
//!
//! **The epoch.** A client resuming with `?after=N` must be able to tell "the same feed, N events
//! on" from "a new feed whose seqs restarted". In cluster mode the feed is the stream, so its
//! identity is the stream's creation time in ns ([`Broker::epoch`]): it survives any node's
//! restart, and a stream deleted and recreated gets a new one.
//!
//! **When the broker goes away**, async-nats reconnects by itself; meanwhile the node cannot
//! publish and its feed stands still, so new feed requests get 503 `{"error":"broker
//! unavailable"}` ([`Broker::is_connected`]) and a log line says so; `/stats` still answers. When
//! the broker is back, the follower reads on from the hub's head and the node serves again.
//!
//! A production deployment would run a NATS cluster of three with replicas = 3, so the broker
//! itself survives a kill; the lab runs one nats-server and measures the nodes.

pub mod follower;
pub mod message;
pub mod tick_publisher;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishAckFuture, stream};
use rtlab_wire::{Seq, now_unix_nanos};
use tokio::sync::watch;

use crate::hub::Origin;
use message::headers;

/// How long JetStream keeps a tick's `Nats-Msg-Id` to drop the other nodes' copies of it.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// How long connecting (at start) and each JetStream request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest pause between two reconnection attempts: a broker that comes back is found
/// within about this long.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// What can go wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker URL is not `nats://HOST:PORT`, or nothing answers there.
    #[error("cannot connect to the broker at {url}: {source}")]
    Connect {
        /// The `--broker` URL.
        url: String,
        /// Why.
        source: async_nats::ConnectError,
    },
    /// The stream could not be created or read.
    #[error("JetStream stream {stream}: {message}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// Why (the server's answer).
        message: String,
    },
    /// A publish was not stored (the broker is away, or refused it).
    #[error("publishing to the broker: {0}")]
    Publish(String),
}

/// A connection to the feed's stream: cheap to clone, shared by the node's publishers and its
/// follower.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    client: async_nats::Client,
    jetstream: jetstream::Context,
    stream: String,
    subject: String,
    epoch: u64,
    last_seq_at_start: Seq,
    /// The stream was deleted and recreated under this node ([`follower`]).
    replaced: AtomicBool,
    /// The follower is reading the stream (it is not between a failure and its next attempt).
    following: watch::Sender<bool>,
    /// Bumped on every connection and disconnection: the follower starts over at once rather
    /// than waiting for its consumer to notice (missed heartbeats take seconds).
    connection_changes: watch::Sender<u64>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("url", &self.inner.url)
            .field("stream", &self.inner.stream)
            .field("epoch", &self.inner.epoch)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Connects to `url` and opens the stream `stream` (subject `STREAM.feed`), creating it if
    /// missing with `history` as its `max_msgs` (oldest dropped first), file storage (so the feed
    /// survives a broker restart) and a [`DUPLICATE_WINDOW`]. An existing stream is used as it
    /// is. Fails if the broker does not answer within [`REQUEST_TIMEOUT`].
    pub async fn connect(url: &str, stream: &str, history: usize) -> Result<Self, BrokerError> {
        let logged_url = url.to_owned();
        let connection_changes = watch::Sender::new(0u64);
        let changes = connection_changes.clone();
        let client = async_nats::ConnectOptions::new()
            .name("rtlab-server")
            .connection_timeout(REQUEST_TIMEOUT)
            .request_timeout(Some(REQUEST_TIMEOUT))
            .reconnect_delay_callback(|attempts| {
                (Duration::from_millis(100) * attempts.min(5) as u32).min(MAX_RECONNECT_DELAY)
            })
            .event_callback(move |event| {
                let url = logged_url.clone();
                if matches!(
                    event,
                    async_nats::Event::Connected | async_nats::Event::Disconnected
                ) {
                    changes.send_modify(|n| *n += 1);
                }
                async move {
                    match event {
                        async_nats::Event::Disconnected => tracing::warn!(
                            %url,
                            "broker unavailable: feed requests get 503 until it is back"
                        ),
                        async_nats::Event::Connected => {
                            tracing::info!(%url, "broker connected")
                        }
                        other => tracing::debug!(%url, event = %other, "broker event"),
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|source| BrokerError::Connect {
                url: url.to_owned(),
                source,
            })?;
        let mut jetstream = jetstream::new(client.clone());
        jetstream.set_timeout(REQUEST_TIMEOUT);
        let subject = format!("{stream}.feed");
        let stream_error = |message: String| BrokerError::Stream {
            stream: stream.to_owned(),
            message,
        };
        let mut handle = jetstream
            .get_or_create_stream(stream::Config {
                name: stream.to_owned(),
                subjects: vec![subject.clone()],
                max_messages: i64::try_from(history).unwrap_or(i64::MAX),
                discard: stream::DiscardPolicy::Old,
                storage: stream::StorageType::File,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(|e| stream_error(e.to_string()))?;
        let info = handle
            .info()
            .await
            .map_err(|e| stream_error(e.to_string()))?;
        let epoch = u64::try_from(info.created.unix_timestamp_nanos()).unwrap_or(0);
        let last_seq_at_start = info.state.last_sequence;
        tracing::info!(%url, stream, epoch, last_seq = last_seq_at_start, "cluster mode");
        Ok(Self {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                client,
                jetstream,
                stream: stream.to_owned(),
                subject,
                epoch,
                last_seq_at_start,
                replaced: AtomicBool::new(false),
                following: watch::Sender::new(false),
                connection_changes,
            }),
        })
    }

    /// The `--broker` URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.inner.stream
    }

    /// The feed's identity: the stream's creation time, ns since the Unix epoch.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch
    }

    /// The stream's newest seq when this node connected: what the node reads before it serves.
    pub fn last_seq_at_start(&self) -> Seq {
        self.inner.last_seq_at_start
    }

    /// Whether the connection to the broker is up right now.
    pub fn is_connected(&self) -> bool {
        self.inner.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Whether this node can serve the feed: connected, following the stream, and the stream is
    /// the one it started with.
    pub fn is_available(&self) -> bool {
        self.is_connected()
            && *self.inner.following.borrow()
            && !self.inner.replaced.load(Ordering::Relaxed)
    }

    fn mark_replaced(&self) {
        self.inner.replaced.store(true, Ordering::Relaxed);
    }

    fn set_following(&self, following: bool) {
        self.inner.following.send_if_modified(|now| {
            let changed = *now != following;
            *now = following;
            changed
        });
    }

    /// Waits (at most `timeout`) until the follower reads the stream; whether it does.
    pub async fn wait_following(&self, timeout: Duration) -> bool {
        let mut following = self.inner.following.subscribe();
        tokio::time::timeout(timeout, following.wait_for(|&f| f))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// A receiver that changes whenever the connection comes up or goes down.
    fn connection_changes(&self) -> watch::Receiver<u64> {
        self.inner.connection_changes.subscribe()
    }

    /// Publishes `data` as a client's event stamped now, and waits for the broker to store it:
    /// its seq.
    pub async fn publish(&self, data: String) -> Result<Seq, BrokerError> {
        let ack = self
            .send(data, now_unix_nanos(), Origin::Client, None)
            .await?;
        let ack = ack.await.map_err(|e| BrokerError::Publish(e.to_string()))?;
        Ok(ack.sequence)
    }

    /// Hands an event to the connection (in call order, which is the order the broker stores
    /// them in) and returns the future of its ack without waiting for it. `message_id` is a
    /// `Nats-Msg-Id` for deduplication.
    pub async fn send(
        &self,
        data: String,
        ts: u64,
        origin: Origin,
        message_id: Option<String>,
    ) -> Result<PublishAckFuture, BrokerError> {
        let mut publish = jetstream::message::PublishMessage::build()
            .headers(headers(ts, origin))
            .payload(data.into());
        if let Some(id) = message_id {
            publish = publish.message_id(id);
        }
        self.inner
            .jetstream
            .send_publish(self.inner.subject.clone(), publish)
            .await
            .map_err(|e| BrokerError::Publish(e.to_string()))
    }

    /// Publishes a client's event without waiting for its ack (a WebSocket text frame: the
    /// connection must not stall on the broker's round trip). A failure is logged. While the
    /// broker is away the event is dropped with a warning rather than queued: async-nats would
    /// hold it in its bounded client channel, and once that is full this call would block the
    /// connection (its pings and close included) until the broker came back.
    pub async fn publish_in_background(&self, data: String) {
        if !self.is_available() {
            tracing::warn!("broker unavailable: a WebSocket client's event was dropped");
            return;
        }
        match self
            .send(data, now_unix_nanos(), Origin::Client, None)
            .await
        {
            Ok(ack) => {
                tokio::spawn(async move {
                    if let Err(e) = ack.await {
                        tracing::warn!(
                            error = %e,
                            "a WebSocket client's event was not acknowledged in time"
                        );
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "a WebSocket client's event was not sent"),
        }
    }

    fn jetstream(&self) -> &jetstream::Context {
        &self.inner.jetstream
    }
}
