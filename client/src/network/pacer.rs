//! The link's arithmetic: when a chunk that entered one direction of a link comes out.
//!
//! One [`Pacer`] per direction of a connection; the relay (`relay.rs`) asks it, for each piece
//! of bytes it reads, when that piece may be written out on the other side:
//!
//! ```text
//! sent    = when the last bit is on the wire: the token bucket, filled at the link rate and
//!           one segment deep (a chunk is cut into segments first); `arrival` when unlimited
//! release = max(sent + RTT/2 + jitter_sample, previous release)
//! ```
//!
//! The `max` is what a byte stream needs: jitter may not reorder, so a chunk drawn a short
//! delay waits behind the one before it, as TCP's in-order delivery makes it wait. No piece may
//! start before the direction is open (`open_at`: the TCP handshake, see `relay.rs`). Jitter is
//! a uniform draw in ±jitter/2 from a seeded generator, so a run's delays can be repeated.
//! Everything here is plain arithmetic on `Instant`s, tested without sockets.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::profile::Link;

/// Most bytes read from a socket at once (one chunk).
pub const READ_BYTES: usize = 16 * 1024;

/// One segment on a rate-limited link: Ethernet's TCP payload (1500 − 20 IP − 20 TCP − 12
/// timestamp options). Also the token bucket's depth, so that an idle link sends one segment
/// at once and the rest at its rate.
pub const SEGMENT_BYTES: usize = 1448;

/// The link's queue beyond the bytes in flight: a router's buffer.
pub const QUEUE_BYTES: usize = 256 * 1024;

/// Buffer of one direction of an unlimited-rate link (a generous TCP window's worth).
pub const UNLIMITED_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// The timing of one direction of one connection: when each piece is released.
#[derive(Debug)]
pub struct Pacer {
    one_way: Duration,
    half_jitter: Duration,
    /// Bytes per second; `None` is unlimited.
    rate: Option<f64>,
    tokens: f64,
    tokens_at: Instant,
    open_at: Instant,
    last_release: Instant,
    rng: StdRng,
}

impl Pacer {
    /// A direction of `link` that may send from `open_at` on, drawing jitter from `seed`.
    pub fn new(link: Link, open_at: Instant, seed: u64) -> Self {
        Self {
            one_way: link.one_way(),
            half_jitter: link.jitter / 2,
            rate: link.bandwidth_bps.map(|bps| bps as f64 / 8.0),
            tokens: SEGMENT_BYTES as f64,
            tokens_at: open_at,
            open_at,
            last_release: open_at,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// How big the pieces of a chunk are (segments when rate-limited, else the whole chunk).
    pub fn segment(&self) -> usize {
        if self.rate.is_some() {
            SEGMENT_BYTES
        } else {
            READ_BYTES
        }
    }

    /// When a piece of `len` bytes read at `arrival` reaches the other side.
    pub fn release(&mut self, arrival: Instant, len: usize) -> Instant {
        let sent = self.serialize(arrival.max(self.open_at), len);
        let at = (sent + self.draw_delay()).max(self.last_release);
        self.last_release = at;
        at
    }

    /// Token bucket: when the last of `len` bytes is on the wire, if they may start at `start`.
    fn serialize(&mut self, start: Instant, len: usize) -> Instant {
        let Some(rate) = self.rate else {
            return start;
        };
        if start > self.tokens_at {
            let refill = (start - self.tokens_at).as_secs_f64() * rate;
            self.tokens = (self.tokens + refill).min(SEGMENT_BYTES as f64);
            self.tokens_at = start;
        }
        // Tokens may go negative: a debt that the next bytes wait for too.
        self.tokens -= len as f64;
        if self.tokens >= 0.0 {
            start
        } else {
            self.tokens_at + Duration::from_secs_f64(-self.tokens / rate)
        }
    }

    /// RTT/2 plus a uniform draw in ±jitter/2 (never below zero).
    fn draw_delay(&mut self) -> Duration {
        if self.half_jitter.is_zero() {
            return self.one_way;
        }
        let j = self.half_jitter.as_secs_f64();
        let d = self.one_way.as_secs_f64() + self.rng.random_range(-j..=j);
        Duration::from_secs_f64(d.max(0.0))
    }

    /// Bytes one direction may hold: those in flight at the link rate, plus a queue.
    pub fn buffer_bytes(link: Link) -> usize {
        match link.bandwidth_bps {
            Some(bps) => {
                let in_flight = (link.one_way() + link.jitter).as_secs_f64() * bps as f64 / 8.0;
                in_flight as usize + QUEUE_BYTES
            }
            None => UNLIMITED_BUFFER_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(rtt_ms: u64, jitter_ms: u64, bps: Option<u64>) -> Link {
        Link::millis(rtt_ms, jitter_ms, bps)
    }

    #[test]
    fn a_chunk_is_released_one_way_later_and_not_before_the_handshake() {
        let t0 = Instant::now();
        let mut p = Pacer::new(link(40, 0, None), t0 + Duration::from_millis(40), 1);
        // Sent before the handshake is over: waits for it, then crosses.
        assert_eq!(p.release(t0, 100), t0 + Duration::from_millis(60));
        let later = t0 + Duration::from_millis(100);
        assert_eq!(p.release(later, 100), later + Duration::from_millis(20));
    }

    #[test]
    fn jitter_is_seeded_bounded_and_never_reorders() {
        let t0 = Instant::now();
        let releases = |seed| {
            let mut p = Pacer::new(link(80, 30, None), t0, seed);
            (0..1000u64)
                .map(|i| p.release(t0 + Duration::from_micros(i * 500), 10))
                .collect::<Vec<_>>()
        };
        let a = releases(7);
        assert_eq!(a, releases(7), "same seed, same delays");
        assert_ne!(a, releases(8));
        assert!(a.windows(2).all(|w| w[0] <= w[1]), "in order");
        let mut spread = Vec::new();
        for (i, at) in a.iter().enumerate() {
            let d = *at - (t0 + Duration::from_micros(i as u64 * 500));
            assert!(d >= Duration::from_millis(25), "{d:?}");
            // The clamp may hold a chunk behind a later-drawn one, never past the bound.
            assert!(d <= Duration::from_millis(55), "{d:?}");
            spread.push(d);
        }
        let (lo, hi) = (spread.iter().min().unwrap(), spread.iter().max().unwrap());
        assert!(
            *hi - *lo > Duration::from_millis(20),
            "jitter shows: {lo:?}..{hi:?}"
        );
    }

    #[test]
    fn bandwidth_is_a_serialization_delay() {
        let t0 = Instant::now();
        let mut p = Pacer::new(link(0, 0, Some(1_000_000)), t0, 1);
        let mut last = t0;
        let mut left = 65_536;
        while left > 0 {
            let n = left.min(p.segment());
            last = p.release(t0, n);
            left -= n;
        }
        // 64 KiB at 1 Mbit/s: 524 ms, less the one segment the full bucket sends at once.
        let took = last - t0;
        let expected = Duration::from_secs_f64((65_536 - SEGMENT_BYTES) as f64 * 8.0 / 1e6);
        assert!(
            took.abs_diff(expected) < Duration::from_millis(1),
            "{took:?}"
        );
        // After a second of silence the bucket is full again, but only one segment deep.
        let idle = t0 + Duration::from_secs(2);
        assert_eq!(p.release(idle, SEGMENT_BYTES), idle);
        assert!(p.release(idle, SEGMENT_BYTES) > idle + Duration::from_millis(11));
    }
}
