//! How long a dropped subscriber waits before each attempt to reconnect: exponential backoff with
//! full jitter, bounded.
//!
//! **Why back off at all.** When a server dies, every one of its clients loses its connection in
//! the same millisecond. If each retried at once and then on a fixed period, they would all
//! arrive together at whatever comes back (a restarted process, the next node behind the
//! proxy): a *thundering herd* of thousands of handshakes in one instant, which can knock the
//! newcomer over too. So the wait grows after each failure (doubling from [`BASE`] up to
//! [`CAP`]: a server that is down for long is asked rarely), and it is **jittered**: each wait
//! is drawn uniformly in `[0, ceiling]` ("full jitter", from AWS's *Exponential Backoff and
//! Jitter*), which spreads the herd over the whole ceiling instead of moving it as one block.
//! Full jitter may draw a wait near zero; that is the point (some clients come back at once,
//! the rest spread out), and the ceiling still bounds the worst case.
//!
//! The ceiling is bounded by [`CAP`], and the whole attempt by the give-up time
//! (`--reconnect-give-up-ms`, see `reconnect.rs`), so a dead server costs each subscriber at most
//! a few dozen attempts.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The first ceiling: a connection dropped by a restart behind a proxy is usually back within a
/// few tens of milliseconds.
pub const BASE: Duration = Duration::from_millis(50);
/// The largest ceiling: a server that stays down is asked at least this often.
pub const CAP: Duration = Duration::from_secs(2);

/// The waits of one outage: a fresh `Backoff` per drop.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    /// Attempts drawn so far.
    attempt: u32,
    rng: StdRng,
}

impl Backoff {
    /// Waits from [`BASE`] doubling to [`CAP`], drawn from `seed` (different per subscriber, so
    /// that subscribers dropped together do not draw the same waits).
    pub fn new(seed: u64) -> Self {
        Self::with_bounds(BASE, CAP, seed)
    }

    /// Waits whose ceiling starts at `base` and doubles up to `cap`.
    pub fn with_bounds(base: Duration, cap: Duration, seed: u64) -> Self {
        Self {
            base,
            cap: cap.max(base),
            attempt: 0,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The ceiling of the next wait: `base × 2^attempt`, at most `cap`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next wait, uniform in `[0, ceiling]`; the ceiling then doubles.
    pub fn next_wait(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.rng.random_range(0..=micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_the_base_to_the_cap_and_stays_there() {
        let mut b = Backoff::new(1);
        let mut ceilings = Vec::new();
        for _ in 0..8 {
            ceilings.push(b.ceiling().as_millis());
            b.next_wait();
        }
        assert_eq!(ceilings, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
        for _ in 0..100 {
            b.next_wait();
        }
        assert_eq!(b.ceiling(), CAP, "no overflow after many attempts");
    }

    #[test]
    fn every_wait_is_within_zero_and_its_ceiling_and_they_spread() {
        for seed in 0..50 {
            let mut b = Backoff::new(seed);
            for _ in 0..20 {
                let ceiling = b.ceiling();
                let wait = b.next_wait();
                assert!(wait <= ceiling, "{wait:?} over {ceiling:?}");
            }
        }
        // Full jitter: at the cap, waits fall all over [0, 2 s], not in one block.
        let mut b = Backoff::new(7);
        for _ in 0..6 {
            b.next_wait();
        }
        let waits: Vec<Duration> = (0..200).map(|_| b.next_wait()).collect();
        assert!(waits.iter().any(|w| *w < Duration::from_millis(500)));
        assert!(waits.iter().any(|w| *w > Duration::from_millis(1500)));
    }

    #[test]
    fn subscribers_with_different_seeds_draw_different_waits() {
        let draw = |seed| {
            let mut b = Backoff::new(seed);
            (0..5).map(|_| b.next_wait()).collect::<Vec<_>>()
        };
        assert_ne!(draw(1), draw(2));
        assert_eq!(draw(3), draw(3));
    }
}
