//! The cluster's ticker: N nodes each run one, and the feed still carries `--rate` events/s.
//!
//! In embedded mode the ticker counts ticks from the server's start. Across nodes that cannot
//! work: each would start its own count, and the feed would carry N × `--rate`. A single elected
//! ticker would fix the rate but not a node kill (the feed would stop until a new leader is
//! elected). Instead every node publishes *every* tick, and the broker keeps one copy of each:
//!
//! - **One timetable for everyone.** Tick `k` is due at `k / rate` seconds after the Unix epoch,
//!   not after some node's start, so every node on the machine (or on machines with synchronised
//!   clocks) agrees which tick is due when and stamps it with the same `ts`.
//! - **One copy per tick.** Each node publishes tick `k` with the header
//!   `Nats-Msg-Id: tick-RATE-k` ([`super::message::tick_message_id`]). JetStream remembers the ids it
//!   stored within its duplicate window ([`super::DUPLICATE_WINDOW`]) and acknowledges a second
//!   message with a known id as a duplicate without storing it. So the first node to publish a
//!   tick makes the event, and the others' copies vanish.
//! - **Order.** Each node publishes its ticks in `k` order, so whichever node's copy of tick `k`
//!   wins, it was sent before that node's `k + 1`: the stream carries ticks in `k` order, and their
//!   `ts` never go backwards.
//! - **A node killed** takes nothing with it: the others were publishing the same ticks all along.
//!   The rate survives as long as one node does.
//!
//! The cost is N publishes per event to the broker (N − 1 of them dropped), which at the lab's
//! rates and node counts is small next to the fan-out. As in embedded mode, a tick's `ts` is its
//! scheduled time, late or not, and each node's lateness goes to its `/stats` (`ticker_lag_us`).
//! While the broker is away the node publishes nothing (the ticks due meanwhile are skipped, not
//! queued to burst out on reconnection); a node further behind than [`max_catch_up`] ticks
//! skips the oldest, so that it never publishes a tick whose id the broker may have forgotten.

use std::sync::Arc;
use std::time::Duration;

use rtlab_wire::now_unix_nanos;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;

use super::Broker;
use super::message::tick_message_id;
use crate::counters::Counters;
use crate::hub::Origin;
use crate::hub::ticker::{MAX_CATCH_UP, MAX_TICK, MIN_TICK, filler};

/// Publishes tick `k` = ⌊now × rate⌋ for every `k` that falls due, at `rate` events/s of
/// `payload_bytes` filler, until `shutdown` fires. A rate of 0 (or below, or not finite) returns
/// at once.
pub async fn run(
    broker: Broker,
    counters: Arc<Counters>,
    rate: f64,
    payload_bytes: usize,
    shutdown: CancellationToken,
) {
    if !(rate.is_finite() && rate > 0.0) {
        return;
    }
    let grid = Grid::new(rate);
    let data = filler(payload_bytes);
    let period = Duration::try_from_secs_f64(1.0 / rate)
        .unwrap_or(MAX_TICK)
        .clamp(MIN_TICK, MAX_TICK);
    let now = now_unix_nanos();
    let mut next = grid.last_due(now) + 1;
    let first_wake = Instant::now() + Duration::from_nanos(grid.due_at(next).saturating_sub(now));
    let mut ticks = interval_at(first_wake, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let catch_up = max_catch_up(rate);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let last_due = grid.last_due(now_unix_nanos());
        if last_due < next {
            continue;
        }
        if !broker.is_available() {
            next = last_due + 1;
            continue;
        }
        next = next.max((last_due + 1).saturating_sub(catch_up));
        for k in next..=last_due {
            let scheduled = grid.due_at(k);
            let sent = broker
                .send(
                    data.clone(),
                    scheduled,
                    Origin::Ticker,
                    Some(tick_message_id(rate, k)),
                )
                .await;
            match sent {
                // The ack only says stored or duplicate: either is fine, so it is not awaited.
                Ok(ack) => drop(ack),
                Err(e) => {
                    tracing::debug!(error = %e, tick = k, "tick not sent");
                    break;
                }
            }
            counters.ticker_lag(now_unix_nanos().saturating_sub(scheduled) / 1_000);
        }
        next = last_due + 1;
    }
}

/// The most overdue ticks published in one wake-up: [`MAX_CATCH_UP`], and never more than half
/// the broker's duplicate window, within which the other nodes' copies are still recognised.
pub fn max_catch_up(rate: f64) -> u64 {
    let half_window = (rate * super::DUPLICATE_WINDOW.as_secs_f64() / 2.0) as u64;
    MAX_CATCH_UP.min(half_window.max(1))
}

/// The timetable shared by every node: tick `k` is due `k / rate` seconds after the Unix epoch.
///
/// Computed in integers, with the rate in thousandths of an event per second: every node must
/// compute bit-identical `k` and `ts` from the same clock reading, and `f64` arithmetic on
/// nanosecond timestamps (~1.8e18, where a double's step is 256 ns) would not even give equal
/// gaps between ticks. Rates are thus taken to 0.001 events/s (the smallest is 0.001).
#[derive(Debug, Clone, Copy)]
struct Grid {
    millihertz: u128,
}

impl Grid {
    fn new(rate: f64) -> Self {
        Self {
            millihertz: ((rate * 1_000.0).round() as u128).max(1),
        }
    }

    /// The newest tick due at `now_ns` (ns since the Unix epoch).
    fn last_due(self, now_ns: u64) -> u64 {
        u64::try_from(u128::from(now_ns) * self.millihertz / 1_000_000_000_000).unwrap_or(u64::MAX)
    }

    /// When tick `k` is due, in ns since the Unix epoch: its `ts`. The first instant at which
    /// [`Grid::last_due`] reaches `k` (a ceiling, so the two never disagree).
    fn due_at(self, k: u64) -> u64 {
        let ns = (u128::from(k) * 1_000_000_000_000).div_ceil(self.millihertz);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_computes_the_same_ticks_from_the_clock_alone() {
        let grid = Grid::new(10.0);
        let now = 1_764_300_000_123_456_789;
        let k = grid.last_due(now);
        assert_eq!(k, 17_643_000_001);
        assert_eq!(grid.due_at(k), 1_764_300_000_100_000_000);
        assert!(grid.due_at(k) <= now && now < grid.due_at(k + 1));
        // Fractional rates: one tick every two seconds.
        let slow = Grid::new(0.5);
        assert_eq!(slow.due_at(3), 6_000_000_000);
        assert_eq!(slow.last_due(7_999_999_999), 3);
        // A tick is due exactly from its ts on, at any rate.
        let odd = Grid::new(3.0);
        for k in [1, 2, 17_643_000_001] {
            assert_eq!(odd.last_due(odd.due_at(k)), k);
            assert_eq!(odd.last_due(odd.due_at(k) - 1), k - 1);
        }
    }

    #[test]
    fn ticks_are_exactly_one_period_apart() {
        let grid = Grid::new(5_000.0);
        let k = grid.last_due(1_764_300_000_000_000_000);
        for i in 0..1_000 {
            assert_eq!(grid.due_at(k + i + 1) - grid.due_at(k + i), 200_000);
        }
    }

    #[test]
    fn catch_up_stays_within_the_duplicate_window() {
        assert_eq!(max_catch_up(10.0), 600);
        assert_eq!(max_catch_up(1_000.0), MAX_CATCH_UP);
        assert_eq!(max_catch_up(0.001), 1);
    }
}
