//! The ticker: the server's own publisher, `--rate` events per second of `--payload-bytes` filler.
//!
//! A feed at a known, steady rate is what makes transports comparable: the client can compute
//! expected deliveries, and latency is not hidden behind bursts. The ticker keeps the *average*
//! rate exact rather than the gap between two events: it wakes every `1/rate` (never more often
//! than every [`MIN_TICK`]) and publishes however many events are due since it started, so
//! `rate = 5000` gives five events per 1 ms tick instead of silently capping at 1000/s, and a
//! late wake-up is caught up instead of lost. If the server falls very far behind (more than
//! [`MAX_CATCH_UP`] events), the schedule restarts from now rather than bursting the whole
//! backlog at once.
//!
//! A production feed is driven by real events; a load generator with a precise schedule would
//! also record each event's *intended* time so latency can be corrected for schedule slips.

use std::time::Duration;

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
    let mut start = Instant::now();
    let mut ticks = interval_at(start + period, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut published: u64 = 0;
    let mut warned = false;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            now = ticks.tick() => {
                // A tiny epsilon so that float rounding never postpones an event that is due.
                let due = ((now - start).as_secs_f64() * rate + 1e-9).floor() as u64;
                let mut behind = due.saturating_sub(published);
                if behind > MAX_CATCH_UP {
                    if !warned {
                        tracing::warn!(behind, rate, "ticker cannot keep up; restarting its schedule");
                        warned = true;
                    }
                    start = now;
                    published = 0;
                    behind = MAX_CATCH_UP;
                }
                for _ in 0..behind {
                    hub.publish(data.clone(), Origin::Ticker);
                }
                published += behind;
            }
        }
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
    async fn zero_rate_publishes_nothing() {
        let hub = Hub::new(HubConfig::default());
        run(hub.clone(), 0.0, 8, CancellationToken::new()).await;
        assert_eq!(hub.head(), 0);
    }
}
