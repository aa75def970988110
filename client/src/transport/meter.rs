//! The meter: what one subscriber measures, whatever its transport.
//!
//! Every transport hands its events, keep-alives and poll answers to a [`Meter`], which keeps
//! the seq bookkeeping, times latency, sums payload and analytic framing, recognises the
//! subscriber's own publishes, and cuts the subscriber's byte counts into phases (set-up,
//! warm-up, window, done) by snapshots taken at idle moments (see the module above for why).
//! It fills a plain [`Tally`] and sends samples to its [`Recorder`]; nothing here touches a
//! histogram.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rtlab_wire::{EventView, Seq, now_unix_nanos};

use crate::publish;
use crate::sample::{Recorder, Sample, micros};
use crate::sequence::SeqTracker;
use crate::tally::Tally;
use crate::transport::{Ctx, FORCE_CROSS_AFTER, RunClock};
use crate::wire_counter::{ByteTally, Bytes2};

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

    /// The live counters (for the connection count).
    pub fn live(&self) -> &Arc<crate::sample::LiveCounters> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Target;
    use crate::sample::LiveCounters;
    use crate::stats::{Stats, StatsShard};
    use rtlab_wire::Transport;
    use std::sync::atomic::AtomicU64;

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
