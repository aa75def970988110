//! The follower: reads the feed's stream in order and appends every event to this node's hub.
//!
//! Every node, the one that published an event included, learns of it here, so every node's hub
//! holds the same events with the same seqs in the same order. The follower uses an *ordered
//! consumer*: an ephemeral, unacknowledged JetStream consumer that the client watches for gaps and
//! missed heartbeats and recreates from the last stream sequence it delivered. That is the
//! cheapest way to read a stream in order, and nothing on the broker outlives the node.
//!
//! It starts at the stream's oldest kept event, not at its head, so a node that joins (or
//! restarts) warms its history ring with what the stream still keeps: a client can resume on it
//! with an old `Last-Event-ID` at once. [`crate::server`] waits until the follower has caught up
//! with the stream's head of the moment before it opens its listeners.
//!
//! **Recovery.** When the connection to the broker drops or comes back, or the ordered consumer
//! gives up (a restarted broker has forgotten the ephemeral consumer, which the consumer itself
//! only notices after missed heartbeats, seconds later), the follower creates a new consumer at
//! once, retrying every [`RETRY_DELAY`] while the broker is away, starting right after the hub's
//! head, so nothing is lost and nothing is
//! appended twice (the hub drops a seq it already has). Before that it checks that the stream is
//! still the one the node started with: a stream deleted and recreated has a new epoch and seqs
//! restarted from 1, which a node cannot splice onto the feed it serves; it says so and stays
//! unavailable until it is restarted.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::Broker;
use super::message::StreamEvent;
use crate::hub::Hub;

/// The pause after a failed attempt to follow the stream, before the next one.
pub const RETRY_DELAY: Duration = Duration::from_millis(250);

/// Follows the stream into `hub` until `shutdown` fires.
pub async fn run(broker: Broker, hub: Hub, shutdown: CancellationToken) {
    let mut attempts = 0u64;
    let mut changes = broker.connection_changes();
    loop {
        changes.borrow_and_update();
        let outcome = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            // The connection went down or came back: whatever consumer we had is suspect.
            _ = changes.changed() => Err("the broker connection changed".to_owned()),
            outcome = follow(&broker, &hub, attempts > 0) => outcome,
        };
        broker.set_following(false);
        attempts += 1;
        if let Err(reason) = outcome {
            if broker.is_connected() {
                tracing::info!(%reason, head = hub.head(), "following the broker's stream again");
            } else {
                tracing::debug!(%reason, head = hub.head(), "cannot follow the broker's stream");
            }
        }
        // Back at once after a reconnection; after a failure, a short pause (or the reconnection).
        if !changes.has_changed().unwrap_or(false) {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = changes.changed() => {}
                () = tokio::time::sleep(RETRY_DELAY) => {}
            }
        }
    }
}

/// One ordered consumer, from the hub's head (or the stream's start) until it fails.
async fn follow(broker: &Broker, hub: &Hub, check_epoch: bool) -> Result<(), String> {
    let jetstream = broker.jetstream();
    if check_epoch {
        let mut stream = jetstream
            .get_stream(broker.stream())
            .await
            .map_err(|e| e.to_string())?;
        let info = stream.info().await.map_err(|e| e.to_string())?;
        let epoch = u64::try_from(info.created.unix_timestamp_nanos()).unwrap_or(0);
        if epoch != broker.epoch() {
            broker.mark_replaced();
            tracing::error!(
                old_epoch = broker.epoch(),
                new_epoch = epoch,
                "the broker's stream was recreated: this node's feed is gone; restart the node"
            );
            return Err("stream recreated".into());
        }
    }
    let deliver_policy = match hub.head() {
        0 => DeliverPolicy::All,
        head => DeliverPolicy::ByStartSequence {
            start_sequence: head + 1,
        },
    };
    let consumer = jetstream
        .create_consumer_on_stream(
            pull::OrderedConfig {
                deliver_policy,
                ..Default::default()
            },
            broker.stream(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    broker.set_following(true);
    tracing::debug!(after = hub.head(), "following the broker's stream");
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| e.to_string())?;
        let info = message.info().map_err(|e| e.to_string())?;
        let fallback_ts = u64::try_from(info.published.unix_timestamp_nanos()).unwrap_or(0);
        let event = StreamEvent::from_parts(
            info.stream_sequence,
            message.headers.as_ref(),
            &message.payload,
            fallback_ts,
        );
        hub.append(event.seq, event.ts, event.data, event.origin);
    }
    Err("the ordered consumer ended".into())
}
