//! The meter: what one subscriber measures, whatever its transport.
//!
//! Every transport hands its events, keep-alives and poll answers to a [`Meter`], which keeps
//! the seq bookkeeping, times latency, sums payload and analytic framing, recognises the
//! subscriber's own publishes, and cuts the subscriber's byte counts into phases (set-up,
//! warm-up, window, drain, done) by snapshots taken at idle moments (see `subscriber/mod.rs`
//! for why). It fills a plain [`Tally`] and sends samples to its [`Recorder`]; nothing here
//! touches a histogram.
//!
//! **The drain.** Delivery is judged by seq ([`crate::window_seq`]): the events published in the
//! window are those with seq in `(S0, S1]`, and the last of them are still on their way when the
//! window ends. So after the window a subscriber *drains*: it keeps receiving, counting only
//! events in that range (and their latency, since they were published in the window), until it
//! has seen `S1` or its drain time is up. The drain time is twice the worst latency this
//! subscriber saw in the window, at least [`DRAIN_MIN`] and at most [`DRAIN_MAX`]: long enough
//! for an event that is merely as late as the others, bounded even for a short poll with a long
//! interval. Drained events count towards `delivery_ratio` and the latency histogram, but not
//! towards `events_received` nor the window's bytes (they arrive after the window). Which
//! events are timed at all is the latency population's business (`population.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rtlab_wire::{EventView, Seq, now_unix_nanos};

use crate::clock::{DRAIN_MAX, DRAIN_MIN, RunClock};
use crate::feed_epoch::EpochVerdict;
use crate::publish::EchoCounter;
use crate::recorder::{LiveCounters, Recorder};
use crate::sample::{Sample, micros};
use crate::sequence::{SeqTracker, SeqVerdict};
use crate::subscriber::ctx::Ctx;
use crate::subscriber::population::LatencyPopulation;
use crate::subscriber::resume::Resumption;
use crate::tally::Tally;
use crate::transport::SubError;
use crate::window_seq::{SeqBound, WindowSeqs};
use crate::wire_counter::{ByteTally, Bytes2};

/// How late a phase boundary may be crossed while events keep arriving back to back.
pub const FORCE_CROSS_AFTER: Duration = Duration::from_millis(50);
/// How often a draining subscriber looks again whether `S1` has been read.
const DRAIN_RECHECK: Duration = Duration::from_millis(5);

/// Where a subscriber is in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Connecting and handshaking.
    Setup,
    /// Connected, before the window.
    Warmup,
    /// Measured.
    Window,
    /// After the window: still receiving the window's last events, until seq `S1` or the
    /// drain time.
    Drain,
    /// The subscriber stops.
    Done,
}

/// One subscriber's measuring instrument.
#[derive(Debug)]
pub struct Meter {
    /// Subscriber number, from 0.
    pub id: u64,
    clock: RunClock,
    /// The subscriber's tally of the protocol's bytes (all its connections; above TLS).
    pub bytes: Arc<ByteTally>,
    /// The tally of what crossed its sockets: below TLS, the handshakes and record framing
    /// included. Without TLS the same tally as [`bytes`](Self::bytes).
    pub wire: Arc<ByteTally>,
    phase: Phase,
    connect_started: Instant,
    seen_first_event: bool,
    tcp_connect_recorded: bool,
    tls_recorded: bool,
    window_start_wire: Bytes2,
    connect_recorded: bool,
    window_start_bytes: Bytes2,
    seq: SeqTracker,
    /// Counters.
    pub tally: Tally,
    recorder: Recorder,
    /// Recognises this subscriber's own publishes, if publishing.
    echoes: Option<EchoCounter>,
    events_since_clock_check: u32,
    window_seqs: Arc<WindowSeqs>,
    /// Decides which events' latencies are timed.
    population: LatencyPopulation,
    /// Worst event latency in the window, µs (sets the drain time).
    max_latency_us: u64,
    drain_end: Instant,
    /// The WebSocket close code and reason the server sent, if it closed this subscriber.
    close: Option<(u16, String)>,
    /// Events received in any phase (a stalled subscriber's count before its cut).
    events_seen: u64,
    /// Stop at the first event instead of the window's end (a churn cycle, a subscriber about
    /// to stall).
    first_event_only: bool,
    /// The receive buffer its connection asks for (`SO_RCVBUF`), if not the kernel's default:
    /// a stalled subscriber's small one (`stalled.rs`).
    recv_buffer_bytes: Option<u32>,
    /// What it remembers across dropped connections: the feed's epoch, the outage, the seam.
    resumption: Resumption,
}

impl Meter {
    /// A meter for subscriber `id`.
    pub fn new(id: u64, ctx: &Ctx, recorder: Recorder) -> Self {
        let bytes = ByteTally::new_shared();
        let wire = if ctx.tls.is_some() {
            ByteTally::new_shared()
        } else {
            bytes.clone()
        };
        Self {
            id,
            clock: ctx.clock,
            bytes,
            wire,
            phase: Phase::Setup,
            connect_started: Instant::now(),
            seen_first_event: false,
            tcp_connect_recorded: false,
            tls_recorded: false,
            window_start_wire: Bytes2::default(),
            connect_recorded: false,
            window_start_bytes: Bytes2::default(),
            seq: SeqTracker::new(),
            tally: Tally::default(),
            recorder,
            echoes: ctx
                .publish_rate
                .map(|_| EchoCounter::new(ctx.run_id, id, &ctx.clock)),
            events_since_clock_check: 0,
            window_seqs: ctx.window_seqs.clone(),
            population: LatencyPopulation::new(ctx.window_seqs.clone()),
            max_latency_us: 0,
            drain_end: ctx.clock.window_end + DRAIN_MIN,
            close: None,
            events_seen: 0,
            first_event_only: false,
            recv_buffer_bytes: None,
            resumption: Resumption::default(),
        }
    }

    /// Makes the subscriber stop at its first event (the phase becomes `Done` then) instead of
    /// after the window: one churn cycle, or a subscriber about to stall.
    pub fn stop_at_first_event(&mut self) {
        self.first_event_only = true;
    }

    /// Makes the subscriber's connection ask for a receive buffer of `bytes` (set before it
    /// connects): a slow peer's small window, see `stalled.rs`.
    pub fn use_recv_buffer(&mut self, bytes: u32) {
        self.recv_buffer_bytes = Some(bytes);
    }

    /// The receive buffer its connection asks for, if not the kernel's default.
    pub fn recv_buffer_bytes(&self) -> Option<u32> {
        self.recv_buffer_bytes
    }

    /// Whether an event has arrived since connecting.
    pub fn seen_first_event(&self) -> bool {
        self.seen_first_event
    }

    /// Events received in any phase, duplicates included.
    pub fn events_seen(&self) -> u64 {
        self.events_seen
    }

    /// The server closed this WebSocket with `code` and `reason`.
    pub fn closed_with(&mut self, code: u16, reason: &str) {
        self.close = Some((code, reason.to_owned()));
    }

    /// The WebSocket close code the server sent, if any.
    pub fn close_code(&self) -> Option<u16> {
        self.close.as_ref().map(|(code, _)| *code)
    }

    /// The WebSocket close code and reason the server sent, if any, as `1008 lagging`.
    pub fn close_frame(&self) -> Option<String> {
        self.close
            .as_ref()
            .map(|(code, reason)| format!("{code} {reason}").trim_end().to_owned())
    }

    /// Reads on after the end: a stalled subscriber reading what is buffered (its phase is
    /// `Done`, so nothing more is measured but `events_seen`).
    pub fn read_on_after_end(&mut self) {
        self.first_event_only = false;
        self.phase = Phase::Done;
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
        self.echoes.as_ref().map(EchoCounter::prefix)
    }

    /// The live counters (for the connection count).
    pub fn live(&self) -> &Arc<LiveCounters> {
        self.recorder.live()
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

    /// Where a (re)connection should resume: after the last seq seen, if any was (the first
    /// connection, and the first after a feed restart, subscribe live).
    pub fn resume_after(&self) -> Option<Seq> {
        Some(self.seq.highest()).filter(|&n| n > 0)
    }

    /// The server answered this connection (a `101`, a response head) with the feed `epoch`
    /// (`None`: no `Rtlab-Epoch` header). Ends an outage, timing it. When the epoch is not the
    /// one remembered, the feed restarted: the restart is counted and the seq tracking starts
    /// over; and if the connection asked to resume after a seq of the old feed, it fails with
    /// [`SubError::FeedRestarted`] so that the subscriber subscribes again, live.
    pub fn answered(&mut self, epoch: Option<u64>) -> Result<(), SubError> {
        if self.resumption.answered(epoch, &mut self.tally.resume) == EpochVerdict::Restarted {
            let resumed_old_feed = self.seq.highest() > 0;
            self.seq.restart();
            if resumed_old_feed {
                return Err(SubError::FeedRestarted);
            }
        }
        self.end_outage();
        Ok(())
    }

    /// Times the outage that just ended, if one was going on.
    fn end_outage(&mut self) {
        if let Some(outage) = self.resumption.take_outage(&mut self.tally.resume) {
            self.recorder.push(Sample::Reconnect(micros(outage)));
        }
    }

    /// The connection dropped (not by the subscriber's choice): the subscriber will reconnect
    /// (the next answer ends the outage, see [`answered`](Self::answered)).
    pub fn dropped(&mut self) {
        self.resumption
            .dropped(Instant::now(), &mut self.tally.resume);
    }

    /// Whether the subscriber is between a drop and the new connection's answer.
    pub fn in_outage(&self) -> bool {
        self.resumption.in_outage()
    }

    /// A reconnect succeeded: the close frame of the dropped connection is history.
    pub fn reconnected(&mut self) {
        self.close = None;
    }

    /// The TCP dial of the subscriber's own connection is complete (through a shaper, after its
    /// handshake wait): records the TCP connect time, once, so that a poll connection re-opened
    /// mid-run does not count as a second dial. Separating it from [`connected`](Self::connected)
    /// splits time to first event into round trips: the dial, then the HTTP set-up (a
    /// WebSocket upgrade, an SSE response head), then the wait for the first event.
    pub fn tcp_connected(&mut self) {
        if !self.tcp_connect_recorded {
            self.tcp_connect_recorded = true;
            self.recorder
                .push(Sample::TcpConnect(micros(self.connect_started.elapsed())));
        }
    }

    /// The TLS handshake of the subscriber's own connection took `handshake` (after the dial):
    /// recorded once, like [`tcp_connected`](Self::tcp_connected).
    pub fn tls_connected(&mut self, handshake: Duration) {
        if !self.tls_recorded {
            self.tls_recorded = true;
            self.recorder.push(Sample::TlsHandshake(micros(handshake)));
        }
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
            // Until S1 is read, look again shortly; then wait for events or the drain's end.
            Phase::Drain if self.window_seqs.end() == SeqBound::Unknown => {
                (Instant::now() + DRAIN_RECHECK).min(self.drain_end)
            }
            Phase::Drain => self.drain_end,
            Phase::Done => self.clock.never(),
        }
    }

    /// Whether a draining subscriber has all it waits for: seq `S1` (or `S1` cannot be read, or
    /// the window published nothing).
    fn drained(&self) -> bool {
        match self.window_seqs.end() {
            SeqBound::Known(s1) => {
                self.seq.highest() >= s1
                    || matches!(self.window_seqs.start(), SeqBound::Known(s0) if s1 <= s0)
            }
            SeqBound::Unavailable => true,
            SeqBound::Unknown => false,
        }
    }

    /// Crosses every boundary that is due, at an idle moment (`unconsumed` bytes read but not
    /// yet parsed). Returns `true` when the subscriber should stop.
    pub fn cross(&mut self, unconsumed: usize) -> bool {
        self.cross_due(Instant::now(), unconsumed);
        self.phase == Phase::Done
    }

    /// Both tallies now, less `unconsumed` bytes read but not yet parsed. Below TLS the same
    /// count is subtracted: exact without TLS; with TLS off by the record framing of a record
    /// read only in part (22 bytes), and blind to ciphertext rustls holds undecrypted, which
    /// at an idle moment is none.
    fn snapshots(&self, unconsumed: usize) -> (Bytes2, Bytes2) {
        let mut at = self.bytes.snapshot();
        at.down = at.down.saturating_sub(unconsumed as u64);
        let mut wire = self.wire.snapshot();
        wire.down = wire.down.saturating_sub(unconsumed as u64);
        (at, wire)
    }

    fn cross_due(&mut self, now: Instant, unconsumed: usize) {
        let (at, wire) = self.snapshots(unconsumed);
        if self.phase == Phase::Setup {
            self.tally.setup = at;
            self.tally.setup_wire = wire;
            self.phase = Phase::Warmup;
        }
        if self.first_event_only && self.seen_first_event {
            self.phase = Phase::Done;
            return;
        }
        if self.phase == Phase::Warmup && now >= self.clock.window_start {
            self.window_start_bytes = at;
            self.window_start_wire = wire;
            self.phase = Phase::Window;
        }
        if self.phase == Phase::Window && now >= self.clock.window_end {
            self.tally.window = at.since(self.window_start_bytes);
            self.tally.window_wire = wire.since(self.window_start_wire);
            self.phase = Phase::Drain;
            let drain = Duration::from_micros(self.max_latency_us.saturating_mul(2));
            self.drain_end = self.clock.window_end + drain.clamp(DRAIN_MIN, DRAIN_MAX);
        }
        if self.phase == Phase::Drain && (now >= self.drain_end || self.drained()) {
            self.phase = Phase::Done;
        }
    }

    /// Called after each event by subscribers that cross boundaries at idle moments: whether a
    /// boundary is overdue by [`FORCE_CROSS_AFTER`] (the stream never went idle).
    pub fn overdue(&mut self) -> bool {
        if self.first_event_only && self.seen_first_event {
            return true;
        }
        if self.phase == Phase::Drain && self.drained() {
            return true;
        }
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
            let (at, wire) = self.snapshots(unconsumed);
            self.tally.window = at.since(self.window_start_bytes);
            self.tally.window_wire = wire.since(self.window_start_wire);
        }
        self.phase = Phase::Done;
        let drain_over = Instant::now() >= self.clock.window_end + DRAIN_MIN;
        self.population
            .settle(drain_over, &mut self.tally, &mut self.recorder);
        self.tally.lost = self.seq.lost();
        self.tally.duplicates = self.seq.duplicates();
        self.tally.out_of_order = self.seq.out_of_order();
        self.recorder.flush();
    }

    /// One event received: `json_len` bytes of event JSON, whose framing should have cost
    /// `analytic` bytes (streaming transports).
    pub fn event(&mut self, ev: &EventView<'_>, json_len: usize, analytic: Option<usize>) {
        let now_ns = now_unix_nanos();
        let verdict = self.seq.observe(ev.seq);
        let fresh = verdict != SeqVerdict::Duplicate;
        self.resumption.observe(verdict, &mut self.tally.resume);
        // The raw-TCP floor has no answer but its events.
        if self.resumption.in_outage() {
            self.end_outage();
        }
        self.events_seen += 1;
        self.recorder.note_event();
        if !self.seen_first_event {
            self.seen_first_event = true;
            self.recorder
                .push(Sample::FirstEvent(micros(self.connect_started.elapsed())));
        }
        if self.phase == Phase::Setup || self.phase == Phase::Done {
            return;
        }
        let latency = now_ns.saturating_sub(ev.ts) / 1_000;
        if fresh {
            self.echo(ev, now_ns);
        }
        let now = Instant::now();
        let in_window = self.phase == Phase::Window;
        if fresh && now >= self.clock.window_start {
            let before_end = now < self.clock.window_end;
            self.population.observe(
                ev.seq,
                before_end,
                latency,
                in_window,
                &mut self.tally,
                &mut self.recorder,
            );
        }
        if !in_window {
            return;
        }
        self.max_latency_us = self.max_latency_us.max(latency);
        let t = &mut self.tally;
        t.events += 1;
        t.payload_bytes += json_len as u64;
        t.analytic_overhead_bytes += analytic.unwrap_or(0) as u64;
        t.seq_range = Some(match t.seq_range {
            Some((lo, hi)) => (lo.min(ev.seq), hi.max(ev.seq)),
            None => (ev.seq, ev.seq),
        });
    }

    /// Counts `ev` if it is the echo of one of this subscriber's publishes scheduled in the
    /// window, once per publish (by its index), and times its round trip.
    fn echo(&mut self, ev: &EventView<'_>, now_ns: u64) {
        let Some(echoes) = self.echoes.as_mut() else {
            return;
        };
        let Some(sched) = echoes.observe(ev.data.as_bytes()) else {
            return;
        };
        self.tally.echoed += 1;
        self.recorder
            .push(Sample::RoundTrip(now_ns.saturating_sub(sched) / 1_000));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Target;
    use crate::histograms::{HistogramShard, LatencyHistograms};
    use crate::publish;
    use rtlab_wire::Transport;
    use std::sync::atomic::AtomicU64;

    fn ctx(window_start: Instant, window_end: Instant) -> Ctx {
        Ctx {
            transport: Transport::Ws,
            target: Target::parse_http("http://127.0.0.1:1").unwrap(),
            addr: "127.0.0.1:1".parse().unwrap(),
            handshake: Duration::ZERO,
            control: None,
            clock: RunClock {
                start: Instant::now() - Duration::from_secs(1),
                start_unix_ns: now_unix_nanos(),
                window_start,
                window_end,
            },
            poll_interval: Duration::from_millis(100),
            poll_phases: Default::default(),
            long_poll_timeout: Duration::from_secs(1),
            publish_rate: None,
            connect_timeout: Duration::from_secs(1),
            run_id: 1,
            clients: 1,
            conn_counter: AtomicU64::new(0),
            window_seqs: Arc::default(),
            tls: None,
            control_tls: None,
            http: crate::config::HttpVersion::Http1,
            h2_pool: Default::default(),
            reconnect_give_up: None,
        }
    }

    fn meter(ctx: &Ctx) -> (Meter, Arc<HistogramShard>) {
        let shard = Arc::new(HistogramShard::default());
        let recorder = Recorder::new(shard.clone(), Arc::new(LiveCounters::default()));
        (Meter::new(0, ctx, recorder), shard)
    }

    /// A window that opened 1 ms ago and ends in `rest`.
    fn window_open_for(rest: Duration) -> Ctx {
        let now = Instant::now();
        ctx(now - Duration::from_millis(1), now + rest)
    }

    fn event(seq: u64) -> EventView<'static> {
        event_aged(seq, Duration::ZERO)
    }

    #[test]
    fn set_up_bytes_include_what_was_read_with_the_head() {
        let ctx = window_open_for(Duration::from_secs(60));
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
    fn below_tls_bytes_are_a_second_tally_split_at_the_same_moments() {
        let mut plain = ctx_with_open_window();
        let (m, _) = meter(&plain);
        assert!(Arc::ptr_eq(&m.bytes, &m.wire), "without TLS one tally");
        let trust = crate::tls::TlsTrust {
            ca: None,
            insecure: true,
        };
        plain.tls = Some(crate::tls::TlsConnector::new(&trust, "127.0.0.1", &[]).unwrap());
        let (mut m, _) = meter(&plain);
        assert!(!Arc::ptr_eq(&m.bytes, &m.wire));
        // The handshake crosses the socket only; the upgrade crosses both.
        m.wire.add_up(300 + 22);
        m.wire.add_down(1500 + 22);
        m.bytes.add_up(300);
        m.set_up_idle(0);
        assert_eq!(m.tally.setup, Bytes2 { down: 0, up: 300 });
        assert_eq!(
            m.tally.setup_wire,
            Bytes2 {
                down: 1522,
                up: 322
            }
        );
        m.bytes.add_down(100);
        m.wire.add_down(122);
        m.finish(10);
        assert_eq!(m.tally.window, Bytes2 { down: 90, up: 0 });
        assert_eq!(m.tally.window_wire, Bytes2 { down: 112, up: 0 });
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
        let mut stats = LatencyHistograms::new();
        shard.merge_into(&mut stats);
        assert_eq!(stats.latency.len(), 0, "no latency outside the window");
        assert_eq!(stats.first_event.len(), 1, "but the first event is timed");
        assert_eq!(stats.connect.len(), 1);
    }

    #[test]
    fn the_dial_is_timed_once_and_no_later_than_the_set_up() {
        let ctx = window_open_for(Duration::from_secs(60));
        let (mut m, shard) = meter(&ctx);
        m.tcp_connected();
        std::thread::sleep(Duration::from_millis(2));
        // A poll connection re-opened later dials again: not a second sample.
        m.tcp_connected();
        m.set_up_idle(0);
        m.finish(0);
        let mut stats = LatencyHistograms::new();
        shard.merge_into(&mut stats);
        assert_eq!(stats.tcp_connect.len(), 1);
        assert_eq!(stats.connect.len(), 1);
        assert!(
            stats.connect.max() >= stats.tcp_connect.max() + 1_000,
            "the set-up ends after the dial: {} µs then {} µs",
            stats.tcp_connect.max(),
            stats.connect.max()
        );
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
    fn delivery_counts_the_window_range_by_seq_and_drains_to_s1() {
        let ctx = window_open_for(Duration::from_millis(30));
        let (mut m, shard) = meter(&ctx);
        m.set_up_idle(0);
        assert_eq!(m.phase(), Phase::Window);
        // Received in the window before S0 was read: kept aside, decided at the end.
        m.event(&event(10), 10, None);
        ctx.window_seqs.set_start(Some(10));
        m.event(&event(11), 10, None);
        m.event(&event(11), 10, None); // a duplicate counts once
        std::thread::sleep(Duration::from_millis(35));
        assert!(
            !m.cross(0),
            "the window's end starts the drain, not the stop"
        );
        assert_eq!(m.phase(), Phase::Drain);
        // After the end, before S1 is known: kept aside too.
        m.event(&event(12), 10, None);
        assert!(!m.overdue());
        ctx.window_seqs.set_end(Some(13));
        m.event(&event(13), 10, None);
        assert!(m.overdue(), "S1 is in: the drain is over");
        assert!(m.cross(0));
        m.event(&event(14), 10, None); // after the drain: ignored
        m.finish(0);
        // 11, 12 and 13 were published in (10, 13]; 10 was not.
        assert_eq!(m.tally.in_range, 3);
        assert_eq!(
            m.tally.events, 3,
            "events_received stays the window's arrivals"
        );
        let mut stats = LatencyHistograms::new();
        shard.merge_into(&mut stats);
        // One population: 11 (once, not its duplicate), and the drained 12 and 13; not 10.
        assert_eq!(stats.latency.len(), m.tally.in_range);
    }

    /// An event with this seq, published `age` ago.
    fn event_aged(seq: u64, age: Duration) -> EventView<'static> {
        let age_ns = u64::try_from(age.as_nanos()).unwrap();
        EventView {
            seq,
            ts: now_unix_nanos() - age_ns,
            data: "x".into(),
        }
    }

    #[test]
    fn latency_is_one_sample_per_window_event_per_subscriber() {
        let ctx = window_open_for(Duration::from_millis(30));
        ctx.window_seqs.set_start(Some(100));
        let (mut m, shard) = meter(&ctx);
        m.set_up_idle(0);
        // Published before the window, arriving late inside it: an arrival of the window, but
        // not one of its events. These are the slow ones that used to be over-sampled.
        let slow = Duration::from_secs(5);
        for seq in 95..=100 {
            m.event(&event_aged(seq, slow), 10, None);
        }
        for seq in 101..=104 {
            m.event(&event(seq), 10, None);
        }
        m.event(&event(104), 10, None); // a duplicate is not a second sample
        std::thread::sleep(Duration::from_millis(35));
        assert!(!m.cross(0));
        ctx.window_seqs.set_end(Some(106));
        m.event(&event(105), 10, None); // drained, in range
        m.event(&event(107), 10, None); // after S1: next window's, not timed
        m.event(&event(106), 10, None);
        m.finish(0);
        assert_eq!(
            m.tally.events, 11,
            "the window's arrivals, for rates and bytes"
        );
        assert_eq!(m.tally.in_range, 6, "101..=106");
        let mut stats = LatencyHistograms::new();
        shard.merge_into(&mut stats);
        assert_eq!(stats.latency.len(), m.tally.in_range);
        assert!(
            stats.latency.max() < 1_000_000,
            "no slow pre-window event in the histogram: {} µs",
            stats.latency.max()
        );
    }

    #[test]
    fn without_stats_the_population_is_the_windows_distinct_arrivals() {
        let ctx = window_open_for(Duration::from_millis(30));
        ctx.window_seqs.set_start(None);
        ctx.window_seqs.set_end(None);
        let (mut m, shard) = meter(&ctx);
        m.set_up_idle(0);
        for seq in [1, 2, 2, 3] {
            m.event(&event(seq), 10, None);
        }
        std::thread::sleep(Duration::from_millis(35));
        // Without S1 there is nothing to drain for.
        assert!(m.cross(0));
        m.finish(0);
        assert_eq!((m.tally.events, m.tally.in_range), (4, 0));
        let mut stats = LatencyHistograms::new();
        shard.merge_into(&mut stats);
        assert_eq!(stats.latency.len(), m.tally.events - m.tally.duplicates);
    }

    #[test]
    fn a_stats_that_never_answers_falls_back_for_everybody() {
        let ctx = window_open_for(Duration::from_millis(10));
        let (mut m, shard) = meter(&ctx);
        m.set_up_idle(0);
        // S0 is never read: these are kept aside, undecided.
        for seq in [1, 2, 2, 3] {
            m.event(&event(seq), 10, None);
        }
        // The subscriber outlives the window and a whole drain.
        std::thread::sleep(Duration::from_millis(10) + DRAIN_MIN);
        m.finish(0);
        assert_eq!(ctx.window_seqs.start(), SeqBound::Unavailable);
        ctx.window_seqs.set_start(Some(0)); // a late answer is ignored
        assert_eq!(ctx.window_seqs.range(), None);
        let mut stats = LatencyHistograms::new();
        shard.merge_into(&mut stats);
        assert_eq!(stats.latency.len(), m.tally.events - m.tally.duplicates);
    }

    #[test]
    fn the_drain_is_bounded_when_s1_never_comes() {
        let now = Instant::now();
        let ctx = ctx(now - Duration::from_secs(3), now - Duration::from_secs(2));
        let (mut m, _) = meter(&ctx);
        ctx.window_seqs.set_start(Some(0));
        // Window and drain (at least DRAIN_MIN after the end) are both over.
        m.set_up_idle(0);
        assert_eq!(m.phase(), Phase::Done);
    }

    #[test]
    fn echoes_count_once_and_only_for_publishes_scheduled_in_the_window() {
        let mut ctx = window_open_for(Duration::from_secs(60));
        ctx.publish_rate = Some(10.0);
        let (mut m, shard) = meter(&ctx);
        m.set_up_idle(0);
        let prefix = m.own_prefix().unwrap().to_owned();
        let clock = *m.clock();
        let in_window = clock.unix_nanos(clock.window_start + Duration::from_millis(1));
        let before = clock.unix_nanos(clock.window_start) - 1_000_000;
        let mut seq = 0;
        let mut own = |m: &mut Meter, index: u64, sched: u64| {
            seq += 1;
            let text = publish::publish_text(&prefix, index, sched);
            m.event(
                &EventView {
                    seq,
                    ts: now_unix_nanos(),
                    data: text.into(),
                },
                10,
                None,
            );
        };
        own(&mut m, 3, before); // sent in the warm-up, echoed in the window: not counted
        own(&mut m, 4, in_window);
        own(&mut m, 4, in_window); // the same publish again (e.g. a retried POST)
        own(&mut m, 5, in_window);
        m.finish(0);
        assert_eq!(m.tally.echoed, 2);
        let mut stats = LatencyHistograms::new();
        shard.merge_into(&mut stats);
        assert_eq!(stats.round_trip.len(), m.tally.echoed);
    }

    #[test]
    fn a_restarted_feed_starts_the_seq_tracking_over_instead_of_counting_loss() {
        let (mut m, shard) = meter(&ctx_with_open_window());
        m.answered(Some(1)).unwrap();
        m.set_up_idle(0);
        assert_eq!(
            m.resume_after(),
            None,
            "the first connection subscribes live"
        );
        for seq in 1..=50 {
            m.event(&event(seq), 10, None);
        }
        assert_eq!(m.resume_after(), Some(50));
        m.dropped();
        // The restarted server answers the resume after 50 with another epoch.
        assert!(matches!(m.answered(Some(2)), Err(SubError::FeedRestarted)));
        assert_eq!(m.resume_after(), None, "subscribe again, live");
        m.answered(Some(2)).unwrap();
        for seq in 1..=5 {
            m.event(&event(seq), 10, None);
        }
        m.finish(0);
        let t = &m.tally;
        assert_eq!((t.lost, t.duplicates, t.out_of_order), (0, 0, 0));
        assert_eq!((t.resume.feed_restarts, t.resume.lost_across), (1, 0));
        let mut stats = LatencyHistograms::new();
        shard.merge_into(&mut stats);
        assert_eq!(stats.reconnect.len(), 1, "one outage, timed once");
    }

    #[test]
    fn a_resume_on_the_same_feed_judges_the_seam_by_seq() {
        let (mut m, _) = meter(&ctx_with_open_window());
        m.answered(Some(9)).unwrap();
        m.set_up_idle(0);
        for seq in 1..=10 {
            m.event(&event(seq), 10, None);
        }
        m.dropped();
        m.answered(Some(9)).unwrap();
        // Resumed after 10, but the server's history had dropped 11 and 12.
        for seq in 13..=15 {
            m.event(&event(seq), 10, None);
        }
        m.dropped();
        // A server without the header: unknown epoch, never a restart.
        m.answered(None).unwrap();
        for seq in [14, 15, 16] {
            m.event(&event(seq), 10, None);
        }
        m.finish(0);
        let t = &m.tally;
        assert_eq!((t.resume.lost_across, t.resume.duplicates_across), (2, 2));
        assert_eq!(
            (t.lost, t.duplicates),
            (2, 2),
            "and in the run's counts, as before"
        );
        assert_eq!((t.resume.drops, t.resume.feed_restarts), (2, 0));
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
