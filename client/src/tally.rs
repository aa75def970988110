//! Plain counters: what one subscriber counted, and their sum over a run.
//!
//! Next to the histograms (`histograms.rs`), a run needs numbers that simply add up: events,
//! bytes per phase, requests, publishes, seq verdicts, failures by kind. Each subscriber owns one
//! [`Tally`] (no sharing, no atomics on the receive path) and hands it back when it ends; the
//! collector sums them with [`Tally::merge`], the same `push`/`merge` shape as the histograms.
//! A POST publisher keeps its own [`PublishTally`], which its subscriber adds to its `Tally`.

use std::collections::BTreeMap;

use rtlab_wire::Seq;
use serde::{Deserialize, Serialize};

use crate::wire_counter::Bytes2;

/// What one publisher did in the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishTally {
    /// Publishes scheduled in the window and sent.
    pub sent: u64,
    /// Bytes sent up for those publishes (frames, or whole requests).
    pub bytes_up: u64,
    /// Failed publishes by kind.
    pub errors: BTreeMap<String, u64>,
}

/// What reconnecting after dropped connections did (`subscriber/reconnect.rs`), one
/// subscriber's or summed. All zero without drops, or with `--no-reconnect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeTally {
    /// Connections dropped (after set-up, not by the subscriber itself) that it tried to
    /// reconnect after.
    pub drops: u64,
    /// Outages that ended: a new connection answered (`subscriber/resume.rs`).
    pub reconnects: u64,
    /// Outages it gave up on (the give-up time, or the run's end, came first).
    pub gave_up: u64,
    /// Seqs missing between the last event before a drop and the first one after it.
    pub lost_across: u64,
    /// Events received again after a reconnect (a resume that replayed too much).
    pub duplicates_across: u64,
    /// Answers with another feed epoch than the subscriber's (`feed_epoch.rs`).
    pub feed_restarts: u64,
    /// Connections opened while reconnecting (their set-up bytes fall in the window, not in
    /// set-up: reconnecting is part of what the window costs).
    #[serde(default)]
    pub connections: u64,
}

impl ResumeTally {
    /// Adds another's counts.
    pub fn merge(&mut self, o: &ResumeTally) {
        self.drops += o.drops;
        self.reconnects += o.reconnects;
        self.gave_up += o.gave_up;
        self.lost_across += o.lost_across;
        self.duplicates_across += o.duplicates_across;
        self.feed_restarts += o.feed_restarts;
        self.connections += o.connections;
    }
}

/// The plain counters of one subscriber (or, summed, of a run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Events received in the window.
    pub events: u64,
    /// Distinct events with seq in the window's range `(S0, S1]`, whenever received (drain
    /// included); see `window_seq.rs`.
    pub in_range: u64,
    /// Their JSON bytes.
    pub payload_bytes: u64,
    /// The framing they should have cost, per the analytic model (streaming transports).
    pub analytic_overhead_bytes: u64,
    /// Keep-alive bytes received in the window (ping frames, heartbeat chunks).
    pub keepalive_down: u64,
    /// Keep-alive bytes sent in the window (pong frames).
    pub keepalive_up: u64,
    /// Bytes at the socket during set-up.
    pub setup: Bytes2,
    /// Bytes at the socket during the window.
    pub window: Bytes2,
    /// Below TLS: bytes that crossed the socket during set-up (the TLS handshake included).
    /// Equal to `setup` without TLS.
    #[serde(default)]
    pub setup_wire: Bytes2,
    /// Below TLS: bytes that crossed the socket during the window.
    #[serde(default)]
    pub window_wire: Bytes2,
    /// Connections this subscriber opened (its own; re-opened poll connections included; a
    /// subscriber on another's HTTP/2 connection opens none).
    #[serde(default)]
    pub connections: u64,
    /// Poll requests answered in the window.
    pub requests: u64,
    /// Of those, answers without events.
    pub empty_polls: u64,
    /// Response bytes of those answers that were not body (status line, headers).
    pub response_head_bytes: u64,
    /// Request bytes of those polls.
    pub request_bytes: u64,
    /// Poll connections re-opened after the server closed one.
    pub reconnects: u64,
    /// Own publishes received back in the window.
    pub echoed: u64,
    /// Publishing.
    pub publish: PublishTally,
    /// Lowest and highest seq received in the window.
    pub seq_range: Option<(Seq, Seq)>,
    /// Whole-run sequence results.
    pub lost: u64,
    /// Whole-run duplicates.
    pub duplicates: u64,
    /// Whole-run reordering.
    pub out_of_order: u64,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// How subscribers lost after set-up were ended, by kind (`crate::ending`): a WebSocket
    /// close code (`"1001"`, `"1008"`), `"end of stream"` (an SSE or TCP stream the server
    /// ended), or the error's kind.
    #[serde(default)]
    pub close_codes: BTreeMap<String, u64>,
    /// Subscribers by the last (highest) seq they received: one entry per subscriber that
    /// connected, so the run can tell who ended behind the others (`crate::ending`).
    #[serde(default)]
    pub last_seqs: BTreeMap<Seq, u64>,
    /// Subscribers whose seq sequence had a gap (at least one event missing).
    #[serde(default)]
    pub subscribers_with_gaps: u64,
    /// Reconnects after dropped connections, and what they cost in seqs.
    #[serde(default)]
    pub resume: ResumeTally,
}

impl Tally {
    /// Adds another subscriber's counters.
    pub fn merge(&mut self, o: &Tally) {
        self.events += o.events;
        self.in_range += o.in_range;
        self.payload_bytes += o.payload_bytes;
        self.analytic_overhead_bytes += o.analytic_overhead_bytes;
        self.keepalive_down += o.keepalive_down;
        self.keepalive_up += o.keepalive_up;
        self.setup.down += o.setup.down;
        self.setup.up += o.setup.up;
        self.window.down += o.window.down;
        self.window.up += o.window.up;
        self.setup_wire.down += o.setup_wire.down;
        self.setup_wire.up += o.setup_wire.up;
        self.window_wire.down += o.window_wire.down;
        self.window_wire.up += o.window_wire.up;
        self.connections += o.connections;
        self.requests += o.requests;
        self.empty_polls += o.empty_polls;
        self.response_head_bytes += o.response_head_bytes;
        self.request_bytes += o.request_bytes;
        self.reconnects += o.reconnects;
        self.echoed += o.echoed;
        self.publish.sent += o.publish.sent;
        self.publish.bytes_up += o.publish.bytes_up;
        for (k, v) in &o.publish.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.seq_range = match (self.seq_range, o.seq_range) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (x, None) | (None, x) => x,
        };
        self.lost += o.lost;
        self.duplicates += o.duplicates;
        self.out_of_order += o.out_of_order;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.close_codes {
            *self.close_codes.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.last_seqs {
            *self.last_seqs.entry(*k).or_default() += v;
        }
        self.subscribers_with_gaps += o.subscribers_with_gaps;
        self.resume.merge(&o.resume);
    }

    /// Counts one failure.
    pub fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }
}
