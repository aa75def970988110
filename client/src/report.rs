//! The result of one load run: what `--json` writes and what the lab runner (`rtlab-bench`)
//! stores, merges and draws. This is a versioned wire format (see `SCHEMA_VERSION`): add fields,
//! never rename or re-type one without bumping the version. Its JSON Schema is
//! [`SCHEMA_JSON`]; a field added here must be added there too (a test checks).

use std::collections::BTreeMap;

use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

/// Version of the [`RunReport`] format.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema (draft 2020-12) of [`RunReport`] as serialized, `client/schema/
/// run-report.schema.json`; the client's tests validate real reports against it, and the lab
/// can embed or check it too.
pub const SCHEMA_JSON: &str = include_str!("../schema/run-report.schema.json");

/// How the measured window's events were told apart from the others, which decides how exact
/// `delivery_ratio` is (see `rtlab_client::window_seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowMode {
    /// The server's head seq was read from `/stats` at the window's start and end (`S0`, `S1`):
    /// the window published exactly the events `(S0, S1]`, each subscriber drains until it has
    /// `S1`, and `delivery_ratio` is exact. The server's counters are in the report too.
    ExactBySeq,
    /// No `/stats` (a server that has none, a `tcp` run without `--control-url`, or `/stats`
    /// failed): the seq range the subscribers saw in the window stands in for what the server
    /// published, `delivery_ratio` is by arrival time, there is no drain, and the fields that
    /// need the server's counters are null. `window_fallback_reason` says why.
    SeqRange,
}

impl WindowMode {
    /// How the human-readable table names the mode.
    pub fn describe(self) -> &'static str {
        match self {
            WindowMode::ExactBySeq => "exact by seq from /stats",
            WindowMode::SeqRange => "seq range seen",
        }
    }
}

fn one() -> u64 {
    1
}

/// Summary of a latency distribution, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// Bytes counted at the client's sockets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireReport {
    /// Bytes received while setting connections up (handshake / first response head).
    pub setup_bytes_down: u64,
    /// Bytes sent while setting connections up (upgrade request / first request).
    pub setup_bytes_up: u64,
    /// Bytes received in the measured window, after set-up.
    pub bytes_down: u64,
    /// Bytes sent in the measured window, after set-up.
    pub bytes_up: u64,
    /// Mean event JSON bytes per delivered event.
    pub payload_bytes_per_event: f64,
    /// Mean framing + header bytes per delivered event (everything down that is neither payload
    /// nor keep-alive, in the measured window, divided by events delivered).
    pub overhead_bytes_per_event: f64,
    /// The analytic framing per event from `rtlab_wire::framing`, for the streaming transports.
    pub analytic_overhead_bytes_per_event: Option<f64>,
    /// Keep-alive bytes (WebSocket pings/pongs, SSE comment heartbeats), both directions.
    pub keepalive_bytes: u64,
    /// Event JSON bytes delivered in the window, in total.
    #[serde(default)]
    pub payload_bytes: u64,
    /// Framing + header bytes down in the window, in total: `bytes_down - payload_bytes -
    /// keepalive_bytes_down`. For ws and sse this equals `analytic_overhead_bytes` exactly.
    #[serde(default)]
    pub overhead_bytes: u64,
    /// The analytic framing of the delivered events, summed (streaming transports).
    #[serde(default)]
    pub analytic_overhead_bytes: Option<u64>,
    /// Keep-alive bytes received in the window (ping frames, heartbeat chunks).
    #[serde(default)]
    pub keepalive_bytes_down: u64,
    /// Keep-alive bytes sent in the window (pong frames).
    #[serde(default)]
    pub keepalive_bytes_up: u64,
    /// Polls: mean bytes of one poll request (request line and headers).
    #[serde(default)]
    pub request_bytes_per_request: Option<f64>,
    /// Polls: mean bytes of one poll response that are not body (status line and headers).
    #[serde(default)]
    pub response_head_bytes_per_request: Option<f64>,
    /// Below TLS (what crossed the sockets): bytes received during set-up, the TLS handshake
    /// included. Equal to `setup_bytes_down` without TLS. The fields without `wire_` are the
    /// protocol's bytes, above TLS.
    #[serde(default)]
    pub setup_wire_bytes_down: u64,
    /// Below TLS: bytes sent during set-up, the TLS handshake included.
    #[serde(default)]
    pub setup_wire_bytes_up: u64,
    /// Below TLS: bytes received in the measured window (records' framing included).
    #[serde(default)]
    pub wire_bytes_down: u64,
    /// Below TLS: bytes sent in the measured window.
    #[serde(default)]
    pub wire_bytes_up: u64,
    /// `wire_bytes_down / events_received`: all a delivered event cost downstream on the wire
    /// (payload, framing, keep-alive, and TLS records).
    #[serde(default)]
    pub wire_bytes_down_per_event: f64,
    /// `(wire_bytes_down − bytes_down) / events_received`: what TLS added per event (0 without).
    #[serde(default)]
    pub tls_overhead_bytes_per_event: f64,
    /// Below TLS, set-up bytes both ways per connection of the subscribers' own
    /// (`(setup_wire_bytes_down + setup_wire_bytes_up) / (connections − reconnects − the
    /// connections opened reconnecting after drops)`).
    #[serde(default)]
    pub setup_wire_bytes_per_connection: Option<f64>,
}

/// Upstream: clients publishing events and timing their round trip.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishReport {
    /// Publishes per second per client, as asked.
    pub rate_per_client: f64,
    /// How publishes travelled: `ws-frame` (over the subscriber's own WebSocket) or `http-post`.
    pub via: String,
    /// Publishes sent in the measured window.
    pub sent: u64,
    /// Publishes whose event came back to the publishing subscriber.
    pub echoed: u64,
    /// Publish → receive latency, from the *scheduled* send time, in µs.
    pub round_trip_us: LatencySummary,
    /// Mean bytes sent up per publish (frame or request, headers included).
    pub bytes_up_per_publish: f64,
    /// The round-trip histogram, HdrHistogram V2 serialization, base64.
    #[serde(default)]
    pub round_trip_histogram_b64: String,
}

/// The network the run imitated (`--network` or `--rtt`), and what calibration measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkReport {
    /// The profile's name (`lan`, `mobile`, …), or `custom` for `--rtt`/`--jitter`/`--bandwidth`.
    pub profile: String,
    /// Round-trip time asked for, in µs.
    pub rtt_us: f64,
    /// Jitter of one round trip asked for, in µs (each direction draws in ±half of it).
    pub jitter_us: f64,
    /// Link rate in each direction, bits per second; null is unlimited.
    pub bandwidth_bps: Option<u64>,
    /// Median HTTP round trip to the server through the shaper before the run, in µs; null
    /// when it could not be measured (`calibration_error` says why).
    pub calibrated_rtt_us: Option<f64>,
    /// The same round trip straight to the server, without the shaper (loopback's own), in µs.
    pub loopback_rtt_us: Option<f64>,
    /// `calibrated_rtt_us − loopback_rtt_us − rtt_us`: what the shaper added beyond the link it
    /// imitates (serialization of the small request and answer included), in µs.
    pub calibration_excess_us: Option<f64>,
    /// Why there is no calibration (e.g. a tcp run without `--control-url`).
    pub calibration_error: Option<String>,
}

/// The full result of one run of one transport.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The transport measured.
    pub transport: Option<Transport>,
    /// The server's base URL.
    pub url: String,
    /// Concurrent subscribers asked for.
    pub clients: u64,
    /// Subscribers that connected and set up.
    #[serde(default)]
    pub connected: u64,
    /// Subscribers that stayed connected to the end of the window.
    #[serde(default)]
    pub completed: u64,
    /// Length of the measured window, in seconds.
    pub duration_s: f64,
    /// Length of the warm-up, in seconds (not measured).
    pub warmup_s: f64,
    /// Short-poll interval, in milliseconds (short-poll only).
    pub poll_interval_ms: Option<f64>,
    /// Events delivered to all subscribers in the window.
    pub events_received: u64,
    /// `events_received / duration_s`.
    pub events_per_s: f64,
    /// How the window's events were counted: `exact-by-seq` (from `/stats`) or `seq-range` (the
    /// seq range seen, without `/stats`). Null in reports that predate it.
    #[serde(default)]
    pub window_mode: Option<WindowMode>,
    /// In `seq-range` mode, why there was no `/stats` (e.g. "GET http://…/stats answered HTTP
    /// 404"); null in `exact-by-seq` mode.
    #[serde(default)]
    pub window_fallback_reason: Option<String>,
    /// Events the server published in the window (from `/stats`, or the seq range seen).
    pub server_events_published: u64,
    /// `server_events_published / duration_s`.
    pub server_events_per_s: f64,
    /// `events_in_range / ((window_seq_end − window_seq_start) × connected)`: the share of the
    /// events published in the window that reached the subscribers, by seq, drain included
    /// (see `rtlab_client::window_seq`); at most 1.0, and 1.0 is "kept up". Without `/stats` (the
    /// seq bounds null) it falls back to `events_received / (server_events_published ×
    /// connected)`, which latency at the window's edges skews.
    pub delivery_ratio: f64,
    /// The server's head seq when the window started (`S0`, from `/stats`); null without it.
    #[serde(default)]
    pub window_seq_start: Option<u64>,
    /// The server's head seq when the window ended (`S1`); the window published `(S0, S1]`.
    #[serde(default)]
    pub window_seq_end: Option<u64>,
    /// Distinct events with seq in `(S0, S1]` received by all subscribers, during the window or
    /// the drain after it (at most a bounded time: twice the subscriber's worst window latency,
    /// 1 s to 10 s).
    #[serde(default)]
    pub events_in_range: u64,
    /// Events of the window not received by the end of the drain (lost or late):
    /// `(S1 − S0) × connected − events_in_range`; null without the seq bounds.
    #[serde(default)]
    pub undelivered: Option<u64>,
    /// Events missing from seq sequences (gaps), all subscribers.
    pub lost: u64,
    /// Events received twice.
    pub duplicates: u64,
    /// Events received after a later one.
    pub out_of_order: u64,
    /// Subscribers the server closed as lagging.
    pub lagging_disconnects: u64,
    /// Subscribers that lost their connection mid-run for any other reason.
    pub disconnects: u64,
    /// Lagging disconnects of this transport the server counted during the window (from
    /// `/stats`): the only sign of a lagging SSE or TCP subscriber, whose stream simply ends.
    #[serde(default)]
    pub server_lagging_disconnects: Option<u64>,
    /// Failed requests and connections, counted by kind.
    pub errors: BTreeMap<String, u64>,
    /// Event latency (receive wall clock − `ts`), in µs: one sample per event published in the
    /// window (seq in `(S0, S1]`) per subscriber that received it, in the window or the drain,
    /// so `latency_us.count == events_in_range`. Without `/stats` (seq bounds null): one per
    /// distinct event received in the window.
    pub latency_us: LatencySummary,
    /// TCP connect time per subscriber, µs (one round trip: SYN, SYN-ACK; through a shaper,
    /// its handshake wait). `connect_us − tcp_connect_us` is the HTTP set-up (WebSocket
    /// upgrade, SSE response head; zero for polls and tcp, whose first request is part of the
    /// wait for the first event).
    #[serde(default)]
    pub tcp_connect_us: LatencySummary,
    /// TLS handshake time per subscriber's own connection, µs, from the end of the TCP dial
    /// (`tcp_connect_us`) to the session's start; empty (count 0) without TLS. It is part of
    /// `connect_us`, before the HTTP set-up.
    #[serde(default)]
    pub tls_handshake_us: LatencySummary,
    /// Connect + handshake time per subscriber, in µs.
    pub connect_us: LatencySummary,
    /// Time from connect start to first event per subscriber, in µs.
    pub first_event_us: LatencySummary,
    /// Bytes on the wire.
    pub wire: WireReport,
    /// HTTP requests sent in the window (polls and publishes over POST).
    pub requests: u64,
    /// `requests / events_received` per subscriber (polls only).
    pub requests_per_event: Option<f64>,
    /// Poll answers that carried no event.
    pub empty_polls: u64,
    /// `empty_polls / poll requests`.
    pub empty_poll_share: Option<f64>,
    /// Poll connections re-opened because the server closed a keep-alive connection (not a
    /// drop: see [`resume`](Self::resume) for those).
    #[serde(default)]
    pub reconnects: u64,
    /// Reconnects after dropped connections, and what they cost (see [`ResumeReport`]); null
    /// when the run did not reconnect (`--no-reconnect`, churn) and in reports that predate it.
    #[serde(default)]
    pub resume: Option<ResumeReport>,
    /// Whether the subscribers' connections spoke TLS (`https://`, `wss://`, `tls://`).
    #[serde(default)]
    pub tls: bool,
    /// The HTTP version of sse and the polls (`1.1` or `2`; ws is always `1.1`); null for tcp.
    #[serde(default)]
    pub http_version: Option<String>,
    /// Subscribers per HTTP/2 connection asked for (`--streams-per-connection`; 1 otherwise).
    #[serde(default = "one")]
    pub streams_per_connection: u64,
    /// Connections the subscribers opened (re-opened poll connections and reconnects after
    /// drops included, POST publishers' not): `connected` with a connection each, fewer when
    /// HTTP/2 streams share one. A shared connection's bytes are counted once (see `transport::h2_pool`).
    #[serde(default)]
    pub connections: u64,
    /// Upstream results when `--publish-rate` was set.
    pub publish: Option<PublishReport>,
    /// The event-latency histogram, HdrHistogram V2 serialization, base64, so that runs from
    /// several processes can be merged.
    pub latency_histogram_b64: String,
    /// The seed of the run's random choices (each short-poll subscriber's start phase, see
    /// `rtlab_client::poll_phase`, and the shaped network's jitter): `--seed` repeats them.
    /// Null in reports that predate it.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The shaped network (`--network`, `--rtt`): null when the run went straight over
    /// loopback.
    #[serde(default)]
    pub network: Option<NetworkReport>,
    /// The run ended before its window did (the server shut down, or dropped every
    /// subscriber): why, when, and how the subscribers were cut. Null for a run that ran its
    /// course. When set, `duration_s` is the window as cut (see [`EndedEarly`]).
    #[serde(default)]
    pub ended_early: Option<EndedEarly>,
    /// The stalled subscribers (`--stalled N`): null without them. They are in no other figure.
    #[serde(default)]
    pub stalled: Option<StalledReport>,
    /// A churn run (`--churn CYCLES`): null for an ordinary run.
    #[serde(default)]
    pub churn: Option<ChurnReport>,
}

/// What subscribers did when their connection dropped (the server closed or reset it, answered
/// an error status, or died): reconnected with backoff and resumed after the last seq they saw
/// (`rtlab_client::subscriber::reconnect`). The run's `lost`, `duplicates` and `out_of_order`
/// keep their meaning and include what happened across reconnects; the `_across_reconnects`
/// figures are that part of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResumeReport {
    /// The give-up time, in ms (`--reconnect-give-up-ms`).
    pub give_up_ms: u64,
    /// Connections dropped under the subscribers (not by their own choice).
    pub drops: u64,
    /// Reconnects that succeeded.
    pub count: u64,
    /// Outages given up on: no reconnect before the give-up time or the run's end (those
    /// subscribers are then lost, as without reconnecting).
    pub gave_up: u64,
    /// From the drop to the new connection's answer (the WebSocket `101`, the SSE or poll
    /// response head; tcp: its first event), µs, one sample per successful reconnect.
    pub time_to_reconnect_us: LatencySummary,
    /// Seqs missing between the last event before a drop and the first after it (also in
    /// `lost`): what resuming did not recover (tcp cannot resume; history is bounded).
    pub lost_across_reconnects: u64,
    /// Events received again after a reconnect (also in `duplicates`).
    pub duplicates_across_reconnects: u64,
    /// Reconnects that found the feed restarted (another `Rtlab-Epoch`): the seq tracking of
    /// those subscribers started over instead of counting loss or reordering.
    pub feed_restarts: u64,
}

/// How a run that ended early ended (`rtlab_client::ending`). Its window is cut at `at_s`:
/// `duration_s` becomes the part of the planned window before the last subscriber was lost (0
/// when that was during the warm-up), so every rate in the report (`events_per_s`, …) is per
/// second of window actually measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndedEarly {
    /// The first subscriber loss's reason, e.g. "closed by server (1001 server shutting down)".
    pub reason: String,
    /// When the last subscriber was lost, in seconds since the run's start (its first
    /// connection).
    pub at_s: f64,
    /// The window asked for, in seconds (`duration_s` is what was measured of it).
    pub planned_duration_s: f64,
    /// Subscribers by how they were ended: a WebSocket close code (`"1001"`), `"end of
    /// stream"` (an SSE or TCP stream the server ended), or the error's kind.
    pub close_codes: BTreeMap<String, u64>,
    /// The highest seq any subscriber received: the reference for the tail (the server's own
    /// last seq cannot be read once it is gone).
    pub highest_seq: u64,
    /// Subscribers whose last seq was below `highest_seq`: they missed the end of the feed.
    pub subscribers_behind: u64,
    /// Events those subscribers missed at the end, summed (`highest_seq − last seq`).
    pub events_behind: u64,
    /// Subscribers with a gap inside their stream (`lost` counts the events).
    pub subscribers_with_gaps: u64,
}

/// The subscribers that stopped reading after their first event (`--stalled`), and how the
/// server cut them (`rtlab_client::subscriber::stalled`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StalledReport {
    /// Stalled subscribers asked for.
    pub asked: u64,
    /// Of those, the ones that connected, got their first event and stalled.
    pub stalled: u64,
    /// Of those, the ones the server cut (its stream ended while they were not reading).
    pub cut: u64,
    /// The cut ones by how: a WebSocket close frame's code and reason (`"1008 lagging"`,
    /// `"1008 ping timeout"`), `"end of stream"` (SSE), `"disconnected"` (a reset), …
    pub close_codes: BTreeMap<String, u64>,
    /// Events each cut subscriber received in all before its cut, smallest first: compare with
    /// the server's `--subscriber-queue` (the kernel's socket buffers hold the rest).
    pub events_before_cut: Vec<u64>,
    /// The highest seq each cut subscriber received before its cut, smallest first: the server
    /// cut it when its queue, holding the events after that one, overflowed, so this places
    /// the cut in the feed (compare with `window_seq_start`).
    #[serde(default)]
    pub last_seq_before_cut: Vec<u64>,
    /// Events each stalled subscriber that was not cut had received when it stopped reading.
    pub events_not_cut: Vec<u64>,
    /// Stalled subscribers that failed to connect or got no first event, by reason.
    pub failed: BTreeMap<String, u64>,
}

/// A churn run (`--churn CYCLES`): subscribers that connect, wait for their first event and
/// disconnect, over and over. `first_event_us` is the connect → first-event time of the
/// cycles, `errors` their failures by kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChurnReport {
    /// Cycles asked for.
    pub cycles_asked: u64,
    /// Cycles that got their first event and disconnected.
    pub cycles_done: u64,
    /// Cycles that failed (to connect, or before their first event).
    pub cycles_failed: u64,
    /// From the first connection to the last cycle's end, in seconds.
    pub elapsed_s: f64,
    /// `cycles_done / elapsed_s`.
    pub cycles_per_s: f64,
}
