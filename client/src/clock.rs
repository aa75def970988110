//! The run's clock: one time line for every subscriber, and every deadline derived from it.
//!
//! ```text
//!  start      ramp + warm-up     window_start        window_end   drain      stop
//!    |--------------------------------|====================|~~~~~~~~~~~|--grace--|
//!                                                          | DRAIN_MIN ..DRAIN_MAX |
//! ```
//!
//! A load generator's numbers are only comparable when every subscriber, publisher and timer
//! agrees on when the window opens and closes, so the engine fixes the [`RunClock`] once, before
//! the first connection, and everything else reads it. The constants that stretch the run past
//! the window live here too, because they only make sense together: a subscriber *drains* for
//! at most [`DRAIN_MAX`] after the window (to receive the window's last events, see
//! `subscriber/meter.rs`), whatever still waits on the network (a poll, a publisher) must be done
//! half a [`STOP_GRACE`] after that, and the engine aborts what is left a whole grace after it.
//! Each deadline is a method, so that no caller re-adds the constants its own way.
//!
//! A production load generator (oha, wrk2) also stores the *intended* start of each request;
//! here that is the publisher's schedule (`publish.rs`), anchored at [`RunClock::start`].

use std::time::{Duration, Instant};

/// Shortest drain after the window.
pub const DRAIN_MIN: Duration = Duration::from_secs(1);
/// Longest drain after the window, whatever the latency or poll interval.
pub const DRAIN_MAX: Duration = Duration::from_secs(10);
/// How long after the longest drain the engine waits for subscribers to finish before aborting
/// them.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// Far enough after the window to mean "never" for a timer that must still be armed.
const NEVER_AFTER: Duration = Duration::from_secs(86_400);

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

    /// When the engine aborts the subscribers still running: the longest drain and a whole
    /// [`STOP_GRACE`] after the window.
    pub fn stop(&self) -> Instant {
        self.window_end + DRAIN_MAX + STOP_GRACE
    }

    /// When a request still waiting on the server (a short poll, a publisher's last POST, a
    /// subscriber waiting for its publisher) gives up: half a grace before [`stop`](Self::stop),
    /// so that the subscriber still hands its results over in time.
    pub fn late_answer_deadline(&self) -> Instant {
        self.window_end + DRAIN_MAX + STOP_GRACE / 2
    }

    /// When a POST publisher gives up on an answer: publishes are only counted in the window,
    /// so half a grace after it is plenty.
    pub fn publish_deadline(&self) -> Instant {
        self.window_end + STOP_GRACE / 2
    }

    /// A time after everything: for a timer that must be armed but should not fire.
    pub fn never(&self) -> Instant {
        self.window_end + NEVER_AFTER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_come_in_order_after_the_window() {
        let start = Instant::now();
        let clock = RunClock {
            start,
            start_unix_ns: 1_000,
            window_start: start + Duration::from_secs(1),
            window_end: start + Duration::from_secs(2),
        };
        assert_eq!(clock.unix_nanos(start + Duration::from_micros(3)), 4_000);
        assert_eq!(clock.unix_nanos(start - Duration::from_secs(1)), 1_000);
        assert!(clock.window_end < clock.publish_deadline());
        assert!(clock.window_end + DRAIN_MAX < clock.late_answer_deadline());
        assert!(clock.late_answer_deadline() < clock.stop());
        assert!(clock.stop() < clock.never());
    }
}
