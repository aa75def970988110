//! Subscribers: one trait, one implementation per transport, one shared meter.
//!
//! Each file here is the client half of the file of the same name in `server/src/transport/`:
//! `ws.rs`, `sse.rs`, `long_poll.rs`, `short_poll.rs`, `tcp.rs`. They differ only in how they get
//! events off the wire; *what is measured* is the same for all and lives here, in [`Meter`]:
//!
//! - every event goes through [`Meter::event`]: seq bookkeeping, latency (receive wall clock −
//!   `ts`), payload bytes, the analytic framing the protocol should have cost, and recognition
//!   of the subscriber's own publishes;
//! - the subscriber's bytes are counted at its socket ([`WireCounter`]) and split in phases by
//!   snapshots the meter takes: **set-up** (the handshake or first response, and anything read
//!   along with it), **warm-up**, the measured **window**, and the tail after it.
//!
//! **Why phase changes wait for an idle moment.** For the measured framing to equal the analytic
//! framing *exactly*, every byte of an event must fall in the same phase as the event itself.
//! Bytes are counted when the socket is read; events are counted when they are parsed, a little
//! later, and hyper or tungstenite may already have read the next event into their buffers. So a
//! subscriber crosses a phase boundary only when its parser has just asked for more and been
//! told "nothing yet" (the stream returned `Pending`): at that moment every byte read has been
//! turned into events. The tcp subscriber, which owns its buffer, instead subtracts the bytes
//! still buffered. Under saturation there may be no idle moment, so a boundary is forced
//! [`FORCE_CROSS_AFTER`] late (exactness then may be off by the one event in flight).

pub mod http;
pub mod long_poll;
pub mod short_poll;
pub mod sse;
pub mod tcp;
pub mod ws;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtlab_wire::{EventView, Seq, Transport, now_unix_nanos};
use tokio::net::TcpStream;

use crate::config::Target;
use crate::publish::{self, OpenSchedule, PublishTally};
use crate::sample::{Recorder, Sample, micros};
use crate::sequence::SeqTracker;
use crate::wire_counter::{ByteTally, Bytes2, WireCounter};

/// How late a phase boundary may be crossed while events keep arriving back to back.
pub const FORCE_CROSS_AFTER: Duration = Duration::from_millis(50);

/// The run's time line, shared by all subscribers.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    /// When the run started (first connection).
    pub start: Instant,
    /// Wall clock at `start`, ns since the Unix epoch.
    pub start_unix_ns: u64,
    /// Start of the measured window.
    pub window_start: Instant,
    /// End of the measured window.
    pub window_end: Instant,
}

impl RunClock {
    /// The wall-clock time of `t`, in ns since the Unix epoch.
    pub fn unix_nanos(&self, t: Instant) -> u64 {
        let since = t.saturating_duration_since(self.start);
        self.start_unix_ns
            .saturating_add(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// What every subscriber of a run shares: where to connect, how, and when.
#[derive(Debug)]
pub struct Ctx {
    /// The transport.
    pub transport: Transport,
    /// The server (for tcp, its TCP listener).
    pub target: Target,
    /// Its resolved address.
    pub addr: SocketAddr,
    /// The server's HTTP side, for publishing, if any.
    pub control: Option<(Target, SocketAddr)>,
    /// Time line.
    pub clock: RunClock,
    /// Short-poll interval.
    pub poll_interval: Duration,
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

    /// Opens a counted TCP connection to the server.
    pub async fn connect(&self, tally: Arc<ByteTally>) -> Result<WireCounter<TcpStream>, SubError> {
        let index = self.conn_counter.fetch_add(1, Ordering::Relaxed);
        let stream = crate::source_addr::connect(self.addr, index, self.conn_total())
            .await
            .map_err(SubError::Connect)?;
        Ok(WireCounter::new(stream, tally))
    }

    /// The publish schedule of subscriber `id`, if publishing.
    pub fn publish_schedule(&self, id: u64) -> Option<OpenSchedule> {
        let rate = self.publish_rate?;
        // Spread subscribers' send times evenly over one period (golden-ratio sequence).
        let offset = (id as f64 * 0.618_033_988_75).fract();
        Some(OpenSchedule::new(self.clock.start, rate, offset))
    }
}

/// Why one subscriber stopped early (data for the report, not a run failure).
#[derive(Debug, thiserror::Error)]
pub enum SubError {
    /// TCP connect failed.
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// Set-up took longer than the connect timeout.
    #[error("connect timed out")]
    ConnectTimeout,
    /// The server answered with an HTTP status other than the contract's.
    #[error("HTTP {0}")]
    Status(u16),
    /// What the server sent is not the contract.
    #[error("{0}")]
    Protocol(String),
    /// The server closed the subscriber as lagging.
    #[error("disconnected as lagging")]
    Lagging,
    /// The connection ended or broke.
    #[error("{0}")]
    Closed(String),
}

impl SubError {
    /// The key this error is counted under in the report's `errors`.
    pub fn kind(&self) -> String {
        match self {
            SubError::Connect(e) => match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connect refused".into(),
                std::io::ErrorKind::TimedOut => "connect timeout".into(),
                std::io::ErrorKind::AddrNotAvailable | std::io::ErrorKind::AddrInUse => {
                    "connect no source port".into()
                }
                _ => "connect failed".into(),
            },
            SubError::ConnectTimeout => "connect timeout".into(),
            SubError::Status(code) => format!("http {code}"),
            SubError::Protocol(_) => "protocol".into(),
            SubError::Lagging => "lagging".into(),
            SubError::Closed(_) => "disconnected".into(),
        }
    }
}

/// The plain counters of one subscriber (or, summed, of a run).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Events received in the window.
    pub events: u64,
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
}

impl Tally {
    /// Adds another subscriber's counters.
    pub fn merge(&mut self, o: &Tally) {
        self.events += o.events;
        self.payload_bytes += o.payload_bytes;
        self.analytic_overhead_bytes += o.analytic_overhead_bytes;
        self.keepalive_down += o.keepalive_down;
        self.keepalive_up += o.keepalive_up;
        self.setup.down += o.setup.down;
        self.setup.up += o.setup.up;
        self.window.down += o.window.down;
        self.window.up += o.window.up;
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
    }

    /// Counts one failure.
    pub fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }
}

/// Where a subscriber is in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Connecting and handshaking.
    Setup,
    /// Connected, before the window.
    Warmup,
    /// Measured.
    Window,
    /// After the window: the subscriber stops.
    Done,
}

/// One subscriber's measuring instrument.
#[derive(Debug)]
pub struct Meter {
    /// Subscriber number, from 0.
    pub id: u64,
    clock: RunClock,
    /// The subscriber's socket tally (all its connections).
    pub bytes: Arc<ByteTally>,
    phase: Phase,
    connect_started: Instant,
    seen_first_event: bool,
    connect_recorded: bool,
    window_start_bytes: Bytes2,
    seq: SeqTracker,
    /// Counters.
    pub tally: Tally,
    recorder: Recorder,
    own_prefix: Option<String>,
    events_since_clock_check: u32,
}

impl Meter {
    /// A meter for subscriber `id`.
    pub fn new(id: u64, ctx: &Ctx, recorder: Recorder) -> Self {
        Self {
            id,
            clock: ctx.clock,
            bytes: ByteTally::new_shared(),
            phase: Phase::Setup,
            connect_started: Instant::now(),
            seen_first_event: false,
            connect_recorded: false,
            window_start_bytes: Bytes2::default(),
            seq: SeqTracker::new(),
            tally: Tally::default(),
            recorder,
            own_prefix: ctx
                .publish_rate
                .map(|_| publish::own_prefix(ctx.run_id, id)),
            events_since_clock_check: 0,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the meter is in the measured window.
    pub fn in_window(&self) -> bool {
        self.phase == Phase::Window
    }

    /// This subscriber's publish prefix, if publishing.
    pub fn own_prefix(&self) -> Option<&str> {
        self.own_prefix.as_deref()
    }

    /// The run's clock.
    pub fn clock(&self) -> &RunClock {
        &self.clock
    }

    /// Start the seq tracker after `after` (for polls and resumption).
    pub fn expect_after(&mut self, after: Seq) {
        if self.seq.highest() == 0 {
            self.seq = SeqTracker::starting_after(after);
        }
    }

    /// Highest seq seen so far.
    pub fn last_seq(&self) -> Seq {
        self.seq.highest()
    }

    /// The connection is open (polls: TCP connected; the set-up poll comes next). Records the
    /// connect time; otherwise [`set_up`](Self::set_up) does.
    pub fn connected(&mut self) {
        if !self.connect_recorded {
            self.connect_recorded = true;
            self.recorder
                .push(Sample::Connect(micros(self.connect_started.elapsed())));
        }
    }

    /// Set-up is complete (handshake done, first response head read): records its time. Its
    /// *bytes* are taken at the next idle moment ([`cross`](Self::cross)), because the library
    /// that read the head may already hold the first events read along with it; those events
    /// then count as set-up too, with their bytes.
    pub fn set_up(&mut self) {
        self.connected();
    }

    /// [`set_up`](Self::set_up) for a subscriber that is idle right now (nothing read beyond
    /// what it parsed): takes the set-up bytes at once.
    pub fn set_up_idle(&mut self, unconsumed: usize) {
        self.set_up();
        self.cross_due(Instant::now(), unconsumed);
    }

    /// The next phase boundary (far future once done).
    pub fn boundary(&self) -> Instant {
        match self.phase {
            // Set-up ends at the first idle moment: due at once.
            Phase::Setup => self.clock.start,
            Phase::Warmup => self.clock.window_start,
            Phase::Window => self.clock.window_end,
            Phase::Done => self.clock.window_end + Duration::from_secs(86_400),
        }
    }

    /// Crosses every boundary that is due, at an idle moment (`unconsumed` bytes read but not
    /// yet parsed). Returns `true` when the subscriber should stop.
    pub fn cross(&mut self, unconsumed: usize) -> bool {
        self.cross_due(Instant::now(), unconsumed);
        self.phase == Phase::Done
    }

    fn cross_due(&mut self, now: Instant, unconsumed: usize) {
        let mut at = self.bytes.snapshot();
        at.down = at.down.saturating_sub(unconsumed as u64);
        if self.phase == Phase::Setup {
            self.tally.setup = at;
            self.phase = Phase::Warmup;
        }
        if self.phase == Phase::Warmup && now >= self.clock.window_start {
            self.window_start_bytes = at;
            self.phase = Phase::Window;
        }
        if self.phase == Phase::Window && now >= self.clock.window_end {
            self.tally.window = at.since(self.window_start_bytes);
            self.phase = Phase::Done;
        }
    }

    /// Called after each event by subscribers that cross boundaries at idle moments: whether a
    /// boundary is overdue by [`FORCE_CROSS_AFTER`] (the stream never went idle).
    pub fn overdue(&mut self) -> bool {
        self.events_since_clock_check += 1;
        if self.events_since_clock_check < 64 {
            return false;
        }
        self.events_since_clock_check = 0;
        Instant::now() >= self.boundary() + FORCE_CROSS_AFTER
    }

    /// The subscriber ends (window over, or its connection lost): closes the window's bytes.
    pub fn finish(&mut self, unconsumed: usize) {
        if self.phase == Phase::Window {
            let mut at = self.bytes.snapshot();
            at.down = at.down.saturating_sub(unconsumed as u64);
            self.tally.window = at.since(self.window_start_bytes);
        }
        self.phase = Phase::Done;
        self.tally.lost = self.seq.lost();
        self.tally.duplicates = self.seq.duplicates();
        self.tally.out_of_order = self.seq.out_of_order();
        self.recorder.flush();
    }

    /// One event received: `json_len` bytes of event JSON, whose framing should have cost
    /// `analytic` bytes (streaming transports).
    pub fn event(&mut self, ev: &EventView<'_>, json_len: usize, analytic: Option<usize>) {
        let now_ns = now_unix_nanos();
        self.seq.observe(ev.seq);
        self.recorder.note_event();
        if !self.seen_first_event {
            self.seen_first_event = true;
            self.recorder
                .push(Sample::FirstEvent(micros(self.connect_started.elapsed())));
        }
        if self.phase != Phase::Window {
            return;
        }
        let t = &mut self.tally;
        t.events += 1;
        t.payload_bytes += json_len as u64;
        t.analytic_overhead_bytes += analytic.unwrap_or(0) as u64;
        t.seq_range = Some(match t.seq_range {
            Some((lo, hi)) => (lo.min(ev.seq), hi.max(ev.seq)),
            None => (ev.seq, ev.seq),
        });
        self.recorder
            .push(Sample::Latency(now_ns.saturating_sub(ev.ts) / 1_000));
        if let Some(prefix) = &self.own_prefix
            && let Some(sched) = publish::scheduled_time(prefix.as_bytes(), ev.data.as_bytes())
        {
            self.tally.echoed += 1;
            self.recorder
                .push(Sample::RoundTrip(now_ns.saturating_sub(sched) / 1_000));
        }
    }

    /// Keep-alive traffic (pings, pongs, heartbeats), counted apart from framing.
    pub fn keepalive(&mut self, down: usize, up: usize) {
        if self.phase == Phase::Window {
            self.tally.keepalive_down += down as u64;
            self.tally.keepalive_up += up as u64;
        }
    }

    /// One poll answered: its request and response bytes, body length and event count.
    pub fn poll_answered(&mut self, spent: Bytes2, body_len: usize, events: usize) {
        if self.phase == Phase::Window {
            let t = &mut self.tally;
            t.requests += 1;
            if events == 0 {
                t.empty_polls += 1;
            }
            t.response_head_bytes += spent.down.saturating_sub(body_len as u64);
            t.request_bytes += spent.up;
        }
    }

    /// One publish sent over the subscriber's own connection, scheduled at `due`.
    pub fn published(&mut self, due: Instant, bytes_up: u64) {
        if due >= self.clock.window_start && due < self.clock.window_end {
            self.tally.publish.sent += 1;
            self.tally.publish.bytes_up += bytes_up;
        }
    }
}

/// A way of receiving the feed.
pub trait Subscriber: Sized + Send {
    /// Whether publishes travel over the subscriber's own connection (WebSocket), rather than
    /// by `POST /publish` on a second one.
    const PUBLISHES_ITSELF: bool = false;

    /// Connects and completes set-up, ending with [`Meter::set_up`].
    fn connect(ctx: &Ctx, meter: &mut Meter)
    -> impl Future<Output = Result<Self, SubError>> + Send;

    /// Receives until the meter's phase is [`Phase::Done`] (`Ok`) or the connection fails.
    /// Must call [`Meter::finish`] before returning either way.
    fn receive(
        self,
        ctx: &Ctx,
        meter: &mut Meter,
    ) -> impl Future<Output = Result<(), SubError>> + Send;
}

/// How one subscriber ended.
#[derive(Debug)]
pub enum End {
    /// Stayed to the end of the window.
    Completed,
    /// Never finished set-up.
    ConnectFailed(SubError),
    /// Lost after set-up.
    Lost(SubError),
}

/// One subscriber's result.
#[derive(Debug)]
pub struct Outcome {
    /// Counters.
    pub tally: Tally,
    /// How it ended.
    pub end: End,
}

/// Runs subscriber `meter.id` of type `S` from connect to the end of the window.
pub async fn drive<S: Subscriber>(ctx: Arc<Ctx>, mut meter: Meter) -> Outcome {
    let deadline = (Instant::now() + ctx.connect_timeout).min(ctx.clock.window_end);
    let connected = tokio::time::timeout_at(deadline.into(), S::connect(&ctx, &mut meter)).await;
    let sub = match connected {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return failed(meter, e),
        Err(_) => return failed(meter, SubError::ConnectTimeout),
    };
    let live = meter.recorder.live().clone();
    live.connected.fetch_add(1, Ordering::Relaxed);
    live.ever_connected.fetch_add(1, Ordering::Relaxed);

    let publisher = match (&ctx.control, ctx.publish_schedule(meter.id)) {
        (Some((target, addr)), Some(schedule)) if !S::PUBLISHES_ITSELF => {
            let p = publish::PostPublisher {
                target: target.clone(),
                addr: *addr,
                conn_index: ctx.conn_counter.fetch_add(1, Ordering::Relaxed),
                conn_total: ctx.conn_total(),
                prefix: meter.own_prefix().unwrap_or_default().to_owned(),
                schedule,
                window: (ctx.clock.window_start, ctx.clock.window_end),
                clock: ctx.clock,
            };
            Some(tokio::spawn(p.run()))
        }
        _ => None,
    };

    let result = sub.receive(&ctx, &mut meter).await;
    live.connected.fetch_sub(1, Ordering::Relaxed);
    if let Some(mut p) = publisher {
        if result.is_err() {
            p.abort();
        }
        let deadline = ctx.clock.window_end + crate::engine::STOP_GRACE / 2;
        let joined = match tokio::time::timeout_at(deadline.into(), &mut p).await {
            Ok(joined) => joined.ok(),
            Err(_) => {
                p.abort();
                None
            }
        };
        if let Some(t) = joined {
            meter.tally.publish.sent += t.sent;
            meter.tally.publish.bytes_up += t.bytes_up;
            for (k, v) in t.errors {
                *meter.tally.errors.entry(k).or_default() += v;
            }
        }
    }
    let end = match result {
        Ok(()) => End::Completed,
        Err(e) => {
            meter.tally.error(e.kind());
            End::Lost(e)
        }
    };
    Outcome {
        tally: std::mem::take(&mut meter.tally),
        end,
    }
}

fn failed(mut meter: Meter, e: SubError) -> Outcome {
    meter.finish(0);
    meter.tally.error(e.kind());
    Outcome {
        tally: std::mem::take(&mut meter.tally),
        end: End::ConnectFailed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::LiveCounters;
    use crate::stats::{Stats, StatsShard};

    fn ctx(window_start: Instant, window_end: Instant) -> Ctx {
        Ctx {
            transport: Transport::Ws,
            target: Target::parse_http("http://127.0.0.1:1").unwrap(),
            addr: "127.0.0.1:1".parse().unwrap(),
            control: None,
            clock: RunClock {
                start: Instant::now() - Duration::from_secs(1),
                start_unix_ns: now_unix_nanos(),
                window_start,
                window_end,
            },
            poll_interval: Duration::from_millis(100),
            long_poll_timeout: Duration::from_secs(1),
            publish_rate: None,
            connect_timeout: Duration::from_secs(1),
            run_id: 1,
            clients: 1,
            conn_counter: AtomicU64::new(0),
        }
    }

    fn meter(ctx: &Ctx) -> (Meter, Arc<StatsShard>) {
        let shard = Arc::new(StatsShard::default());
        let recorder = Recorder::new(shard.clone(), Arc::new(LiveCounters::default()));
        (Meter::new(0, ctx, recorder), shard)
    }

    fn event(seq: u64) -> EventView<'static> {
        EventView {
            seq,
            ts: now_unix_nanos(),
            data: "x".into(),
        }
    }

    #[test]
    fn set_up_bytes_include_what_was_read_with_the_head() {
        let now = Instant::now();
        let ctx = ctx(
            now - Duration::from_millis(1),
            now + Duration::from_secs(60),
        );
        let (mut m, _) = meter(&ctx);
        m.bytes.add_up(200);
        m.bytes.add_down(150 + 30);
        m.set_up();
        // An event that came in the same read as the response head: set-up, not window.
        m.event(&event(1), 28, Some(2));
        assert_eq!(m.phase(), Phase::Setup);
        assert!(!m.cross(0));
        assert_eq!(m.tally.setup, Bytes2 { down: 180, up: 200 });
        assert_eq!(m.phase(), Phase::Window);
        m.bytes.add_down(30);
        m.event(&event(2), 28, Some(2));
        m.finish(0);
        assert_eq!(m.tally.events, 1);
        assert_eq!(m.tally.window, Bytes2 { down: 30, up: 0 });
        assert_eq!(m.tally.analytic_overhead_bytes, 2);
    }

    #[test]
    fn warm_up_events_are_not_measured_and_unconsumed_bytes_move_on() {
        let now = Instant::now();
        let ctx = ctx(now + Duration::from_secs(60), now + Duration::from_secs(61));
        let (mut m, shard) = meter(&ctx);
        m.set_up_idle(0);
        assert_eq!(m.phase(), Phase::Warmup);
        m.bytes.add_down(30);
        m.event(&event(5), 28, Some(2));
        m.keepalive(8, 0);
        m.finish(0);
        assert_eq!((m.tally.events, m.tally.keepalive_down), (0, 0));
        assert_eq!(m.tally.window, Bytes2::default());
        let mut stats = Stats::new();
        shard.merge_into(&mut stats);
        assert_eq!(stats.latency.len(), 0, "no latency outside the window");
        assert_eq!(stats.first_event.len(), 1, "but the first event is timed");
        assert_eq!(stats.connect.len(), 1);
    }

    #[test]
    fn crossing_the_end_subtracts_unparsed_bytes() {
        let now = Instant::now();
        let ctx = ctx(now - Duration::from_secs(2), now - Duration::from_secs(1));
        let (mut m, _) = meter(&ctx);
        m.set_up_idle(0);
        // Both boundaries are past: straight through the window to done.
        assert_eq!(m.phase(), Phase::Done);
        assert!(m.cross(0));

        let ctx = ctx_with_open_window();
        let (mut m, _) = meter(&ctx);
        m.set_up_idle(0);
        m.bytes.add_down(100);
        m.finish(40);
        assert_eq!(m.tally.window.down, 60);
    }

    fn ctx_with_open_window() -> Ctx {
        let now = Instant::now();
        ctx(now - Duration::from_secs(1), now + Duration::from_secs(60))
    }

    #[test]
    fn sequence_results_reach_the_tally_at_finish() {
        let (mut m, _) = meter(&ctx_with_open_window());
        m.set_up_idle(0);
        for seq in [1, 2, 4, 4] {
            m.event(&event(seq), 10, None);
        }
        m.finish(0);
        assert_eq!((m.tally.lost, m.tally.duplicates), (1, 1));
        assert_eq!(m.tally.seq_range, Some((1, 4)));
    }
}
