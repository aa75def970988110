//! The ticker: the server's own publisher, `--rate` events per second of `--payload-bytes` filler.
//!
//! A feed at a known, steady rate is what makes transports comparable: the client can compute
//! expected deliveries, and latency is not hidden behind bursts. The ticker keeps the *average*
//! rate exact rather than the gap between two events: it wakes every `1/rate` (never more often
//! than every [`MIN_TICK`]) and publishes however many events are due since it started, so
//! `rate = 5000` gives five events per 1 ms tick instead of silently capping at 1000/s, and a
//! late wake-up is caught up instead of lost. If the server falls very far behind (more than
//! [`MAX_CATCH_UP`] events), it publishes [`MAX_CATCH_UP`] of them and restarts the schedule from
//! now rather than bursting the whole backlog at once.
//!
//! Each event's `ts` is its *scheduled* time (`start + k / rate` on the wall clock), not the moment
//! the hub got round to it: the contract asks for this so that a server that falls behind its own
//! schedule shows the lag in every latency measured against `ts` (coordinated omission on the
//! server's side otherwise hides exactly the overload a lab should see). How late each publish
//! was goes to `/stats` as `ticker_lag_us`. A production feed is driven by real events; its `ts`
//! would be the source's.

use std::time::Duration;

use rtlab_wire::now_unix_nanos;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;

use super::{Hub, Origin};

/// The shortest sleep between two wake-ups; higher rates publish several events per wake-up.
pub const MIN_TICK: Duration = Duration::from_millis(1);

/// The longest sleep between two wake-ups (rates below one event per hour still work, late).
pub const MAX_TICK: Duration = Duration::from_secs(3600);

/// The most overdue events published in one wake-up; further behind, the schedule is restarted.
pub const MAX_CATCH_UP: u64 = 10_000;

/// The ASCII filler a ticker event carries as `data`: `len` bytes of a repeating alphabet.
pub fn filler(len: usize) -> String {
    (b'a'..=b'z').cycle().take(len).map(char::from).collect()
}

/// Publishes `rate` events per second of `payload_bytes` filler into `hub` until `shutdown` fires.
/// A rate of 0 (or below, or not finite) returns at once.
pub async fn run(hub: Hub, rate: f64, payload_bytes: usize, shutdown: CancellationToken) {
    if !(rate.is_finite() && rate > 0.0) {
        return;
    }
    let data = filler(payload_bytes);
    let period = Duration::try_from_secs_f64(1.0 / rate)
        .unwrap_or(MAX_TICK)
        .clamp(MIN_TICK, MAX_TICK);
    let mut schedule = Schedule::start(rate);
    let mut ticks = interval_at(schedule.start + period, period);
    // Stay on the grid `start + n × period`. With `Delay`, every late wake-up (tokio's timer wheel
    // has 1 ms slots) would shift all later ticks, the drift would pile up to a whole period, and
    // each event would be published up to one period after the time stamped in its `ts`: a
    // sawtooth of lag the server never had. `Skip` keeps the grid; the due count below catches
    // up whatever a late wake-up missed.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut warned = false;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            now = ticks.tick() => {
                let behind = schedule.due(now).saturating_sub(schedule.published);
                for _ in 0..behind.min(MAX_CATCH_UP) {
                    schedule.published += 1;
                    let scheduled = schedule.wall_time_of(schedule.published);
                    hub.publish_at(data.clone(), Origin::Ticker, Some(scheduled));
                    let late_ns = now_unix_nanos().saturating_sub(scheduled);
                    hub.counters().ticker_lag(late_ns / 1_000);
                }
                if behind > MAX_CATCH_UP {
                    // The burst above went out stamped with its (long past) due times, so the lag
                    // shows; the rest is skipped and the timetable starts again from now.
                    if !warned {
                        tracing::warn!(behind, rate, "ticker cannot keep up; restarting its schedule");
                        warned = true;
                    }
                    schedule = Schedule::start(rate);
                }
            }
        }
    }
}

/// The ticker's timetable: event `k` (1-based) is due `k / rate` seconds after `start`.
struct Schedule {
    rate: f64,
    /// When the schedule began, on the monotonic clock (for counting what is due)…
    start: Instant,
    /// …and the same instant on the wall clock (for stamping `ts`).
    start_wall_ns: u64,
    /// Events published since `start`.
    published: u64,
}

impl Schedule {
    fn start(rate: f64) -> Self {
        Self {
            rate,
            start: Instant::now(),
            start_wall_ns: now_unix_nanos(),
            published: 0,
        }
    }

    /// Events due by `now` since the start.
    fn due(&self, now: Instant) -> u64 {
        // A tiny epsilon so that float rounding never postpones an event that is due.
        ((now - self.start).as_secs_f64() * self.rate + 1e-9).floor() as u64
    }

    /// The wall-clock time (ns since the Unix epoch) at which event `k` was due.
    fn wall_time_of(&self, k: u64) -> u64 {
        let offset_ns = (k as f64 / self.rate * 1e9) as u64;
        self.start_wall_ns.saturating_add(offset_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::HubConfig;

    #[test]
    fn filler_is_ascii_of_the_asked_length() {
        assert_eq!(filler(0), "");
        assert_eq!(filler(3), "abc");
        let f = filler(100);
        assert_eq!(f.len(), 100);
        assert!(f.is_ascii());
    }

    #[tokio::test]
    async fn keeps_the_average_rate_above_the_tick_floor() {
        let hub = Hub::new(HubConfig::default());
        let stop = CancellationToken::new();
        let started = std::time::Instant::now();
        let task = tokio::spawn(run(hub.clone(), 5_000.0, 8, stop.clone()));
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.cancel();
        task.await.unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        // One event per 1 ms wake-up would give at most ~200; the due-count gives ~1000.
        assert!(hub.head() > 300, "only {} events", hub.head());
        assert!(hub.head() as f64 <= elapsed * 5_000.0 + 1.0);
        let latest = hub.latest().unwrap();
        let event = rtlab_wire::EventView::parse(latest.json()).unwrap();
        assert_eq!(event.data, "abcdefgh");
    }

    #[tokio::test]
    async fn events_carry_their_scheduled_time_not_the_publish_time() {
        let hub = Hub::new(HubConfig::default());
        let stop = CancellationToken::new();
        let rate = 1_000.0;
        let task = tokio::spawn(run(hub.clone(), rate, 8, stop.clone()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.cancel();
        task.await.unwrap();
        let events = hub.events_after(0, usize::MAX);
        assert!(events.len() > 20, "only {} events", events.len());
        // Scheduled stamps are exactly 1/rate apart (1 ms here), whatever the publish jitter: the
        // ticker publishes several due events per wake-up, which wall-clock stamps would bunch.
        for pair in events.windows(2) {
            let gap = pair[1].ts() - pair[0].ts();
            assert!((999_000..=1_001_000).contains(&gap), "gap {gap} ns");
        }
        // And the ticker's lateness is visible in /stats.
        let snap = hub.counters().snapshot(hub.head());
        assert!(snap.ticker_lag_max_us >= snap.ticker_lag_us);
    }

    #[test]
    fn the_schedule_stamps_event_k_at_k_over_rate() {
        let s = Schedule::start(4.0);
        assert_eq!(s.wall_time_of(0), s.start_wall_ns);
        assert_eq!(s.wall_time_of(1), s.start_wall_ns + 250_000_000);
        assert_eq!(s.wall_time_of(8), s.start_wall_ns + 2_000_000_000);
        assert_eq!(s.due(s.start + Duration::from_millis(1_010)), 4);
    }

    #[tokio::test]
    async fn zero_rate_publishes_nothing() {
        let hub = Hub::new(HubConfig::default());
        run(hub.clone(), 0.0, 8, CancellationToken::new()).await;
        assert_eq!(hub.head(), 0);
    }
}
