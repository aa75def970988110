//! When each short-polling subscriber polls: its own random phase on the interval grid.
//!
//! **Why the phase matters.** A short poll waits for the next poll, so an event's latency is the
//! time from its publication to the next poll of its subscriber, plus a round trip. The textbook
//! mean, half an interval, assumes the poll times are *uncorrelated* with the publish times. A
//! load generator easily breaks that assumption: if every subscriber starts its timer right after
//! connecting, all of them connect within a few ms of one another, and the server's ticker period
//! divides the interval (20 events/s and a 100 ms poll, say), then every poll of every subscriber
//! lands at the same offset after a tick, run after run. The measured mean is then whatever that
//! offset happens to be (28 ms instead of 50 ms in one reference run, 49 ms in the next): a
//! measurement of the client's start-up, not of short polling.
//!
//! **What is done instead.** Subscriber `i` polls on the grid `start + phase_i + k × interval`,
//! anchored at the run's start (not at its own connect), with `phase_i` drawn at random in
//! `[0, interval)`. The phases are drawn by *jittered strata*: the interval is cut into one slot
//! per subscriber, each slot gets one uniform point, and the points are dealt out in a random
//! order. Each subscriber's phase is still uniform on the whole interval, but the set of them
//! covers it evenly, so a small run does not land on a skewed mean by bad luck: with ten
//! subscribers polling every 100 ms a feed of 20 events/s, independent draws would put the mean
//! more than 10 % away from half an interval about one run in four.
//!
//! **Reproducible.** The draws come from one generator seeded with the run's seed (`--seed`, or a
//! fresh one per run), which the report records: the same seed, subscriber count and interval give
//! the same phases, so a surprising run can be repeated exactly. (The generator is rand's
//! `StdRng`, whose algorithm may change between rand releases: with this `Cargo.lock`, the same
//! seed gives the same phases.)
//!
//! **Long polls** have no interval and so no phase: a subscriber asks again as soon as an answer
//! arrives, so its requests follow the events themselves. What a production client would add,
//! and this one does not need, is jitter on its retry back-off after 429/503, so that refused
//! clients do not all come back at the same moment.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Largest seed a fresh run draws: 2⁵³, so that the seed survives any JSON reader (JavaScript's
/// numbers are doubles) and can be passed back as `--seed` exactly.
pub const FRESH_SEED_LIMIT: u64 = 1 << 53;

/// A seed for a run that was given none.
pub fn fresh_seed() -> u64 {
    rand::rng().random_range(0..FRESH_SEED_LIMIT)
}

/// The poll phases of a run's subscribers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollPhases {
    /// The poll interval, in ns.
    interval_ns: u64,
    /// Subscriber `i`'s phase, in ns, in `[0, interval_ns)`.
    phases_ns: Vec<u64>,
}

impl PollPhases {
    /// Draws the phases of `subscribers` subscribers polling every `interval`, from `seed`.
    pub fn new(seed: u64, interval: Duration, subscribers: u64) -> Self {
        let interval_ns = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        let n = u128::from(subscribers);
        let mut rng = StdRng::seed_from_u64(seed);
        // Slot k is [k × interval / n, (k + 1) × interval / n): one uniform point in each.
        let slot = |k: u128| u64::try_from(u128::from(interval_ns) * k / n).unwrap_or(u64::MAX);
        let mut phases_ns: Vec<u64> = (0..n)
            .map(|k| {
                let (lo, hi) = (slot(k), slot(k + 1));
                if hi > lo {
                    rng.random_range(lo..hi)
                } else {
                    lo
                }
            })
            .collect();
        phases_ns.shuffle(&mut rng);
        Self {
            interval_ns,
            phases_ns,
        }
    }

    /// Subscriber `id`'s phase (zero for a subscriber the phases were not drawn for).
    pub fn phase(&self, id: u64) -> Duration {
        let ns = usize::try_from(id)
            .ok()
            .and_then(|i| self.phases_ns.get(i))
            .copied()
            .unwrap_or(0);
        Duration::from_nanos(ns)
    }

    /// The first instant at or after `now` on subscriber `id`'s grid, `anchor + phase + k ×
    /// interval` (`k ≥ 0`).
    pub fn next_poll(&self, id: u64, anchor: Instant, now: Instant) -> Instant {
        let first = anchor + self.phase(id);
        if now <= first || self.interval_ns == 0 {
            return first.max(now);
        }
        let late = (now - first).as_nanos();
        let interval = u128::from(self.interval_ns);
        let periods = late.div_ceil(interval);
        let offset = u64::try_from(periods * interval).unwrap_or(u64::MAX);
        first + Duration::from_nanos(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(100);

    #[test]
    fn phases_are_spread_over_the_interval_not_equal() {
        let p = PollPhases::new(7, INTERVAL, 100);
        let phases: Vec<Duration> = (0..100).map(|i| p.phase(i)).collect();
        assert!(phases.iter().all(|ph| *ph < INTERVAL), "{phases:?}");
        // One phase in each 1 ms slot: the set covers the interval evenly…
        let mut slots: Vec<u128> = phases.iter().map(|ph| ph.as_micros() / 1_000).collect();
        slots.sort_unstable();
        assert_eq!(slots, (0..100).collect::<Vec<u128>>());
        // …but which subscriber gets which slot is random, not its connect order.
        let in_order = phases.windows(2).filter(|w| w[0] < w[1]).count();
        assert!((20..80).contains(&in_order), "{in_order} of 99 ascending");
    }

    #[test]
    fn the_same_seed_gives_the_same_phases_another_seed_others() {
        let a = PollPhases::new(42, INTERVAL, 20);
        assert_eq!(a, PollPhases::new(42, INTERVAL, 20));
        let b = PollPhases::new(43, INTERVAL, 20);
        assert_ne!(a, b);
        // Even a single subscriber gets a seeded phase anywhere in the interval.
        let singles: Vec<Duration> = (0..20)
            .map(|seed| PollPhases::new(seed, INTERVAL, 1).phase(0))
            .collect();
        assert!(singles.iter().any(|p| *p < INTERVAL / 2), "{singles:?}");
        assert!(singles.iter().any(|p| *p >= INTERVAL / 2), "{singles:?}");
    }

    #[test]
    fn the_next_poll_is_on_the_subscribers_grid() {
        let p = PollPhases::new(1, INTERVAL, 4);
        let anchor = Instant::now();
        let phase = p.phase(2);
        // Before the first grid point: the first grid point.
        assert_eq!(p.next_poll(2, anchor, anchor), anchor + phase);
        // Connected 1.234 s into the run: the next point of the same grid.
        let now = anchor + Duration::from_millis(1_234);
        let next = p.next_poll(2, anchor, now);
        assert!(next >= now && next < now + INTERVAL, "{:?}", next - now);
        let since = (next - anchor - phase).as_nanos();
        assert_eq!(since % INTERVAL.as_nanos(), 0);
        // Exactly on a grid point: that point.
        let on = anchor + phase + INTERVAL * 3;
        assert_eq!(p.next_poll(2, anchor, on), on);
    }

    #[test]
    fn fresh_seeds_survive_json() {
        for _ in 0..100 {
            let s = fresh_seed();
            assert!(s < FRESH_SEED_LIMIT);
            assert_eq!(s as f64 as u64, s);
        }
        // Without drawn phases (another transport) every phase is zero.
        assert_eq!(PollPhases::default().phase(3), Duration::ZERO);
    }
}
