//! Upstream: subscribers that also publish, on an open-model schedule.
//!
//! **Why the schedule is fixed in advance.** A naive load generator sends, waits for the answer,
//! then sends again (a *closed* model). When the server stalls for a second, such a client simply
//! stops sending for a second: the stall delays one request, and the hundreds of requests that
//! *should* have been sent during it are never made, so never measured. The histogram looks
//! healthy while users would have suffered; Gil Tene named this *coordinated omission*. wrk2's
//! answer, used here: fix every send time before the run (`start + k / rate`), send as soon as
//! possible when late, and measure latency from the **scheduled** time, so that a stall shows up
//! in every publish it delayed.
//!
//! **How a publish comes back.** The published text is `rtlab-pub:<run>:<subscriber>:<n>:<scheduled
//! unix ns>`, where `n` is the publish's index on its schedule, so `<subscriber>:<n>` names one
//! publish uniquely. The server turns it into an event that every subscriber receives; the
//! publisher recognises its own by the prefix and reads the index and the scheduled time back out
//! of it, so no per-publish state is kept. An echo counts only when the publish was *scheduled in
//! the window* (whenever it comes back, drain included) and its index was not echoed before, so
//! `echoed ≤ sent` and the round-trip histogram holds exactly the counted echoes
//! ([`EchoCounter`]). Over WebSocket the publish is a text frame on the subscriber's own
//! connection (full duplex: 6 bytes of masked header); every other transport must open a second
//! connection and `POST /publish` (a whole HTTP request per publish). This file has the schedule,
//! the text format, the echo counter, and the POST publisher.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::clock::RunClock;
use crate::config::Target;
use crate::tally::PublishTally;
use crate::tls::TlsConnector;
use crate::transport::http::HttpClient;
use crate::wire_counter::ByteTally;

/// Send times fixed in advance: `first + k × period`.
#[derive(Debug, Clone)]
pub struct OpenSchedule {
    first: Instant,
    period: Duration,
    k: u64,
}

impl OpenSchedule {
    /// `rate` sends per second starting at `start`, shifted by `offset` (a fraction of one
    /// period, 0..1) so that many publishers do not all send at the same instant.
    pub fn new(start: Instant, rate: f64, offset: f64) -> Self {
        let period = Duration::from_secs_f64(1.0 / rate.max(1e-9));
        Self {
            first: start + period.mul_f64(offset.clamp(0.0, 1.0)),
            period,
            k: 0,
        }
    }

    /// The time of the next send.
    pub fn next_due(&self) -> Instant {
        self.first + self.period.mul_f64(self.k as f64)
    }

    /// Returns the time of the next send and moves past it. Lateness never shifts later sends:
    /// that is the open model.
    pub fn take(&mut self) -> Instant {
        self.take_indexed().1
    }

    /// [`take`](Self::take), with the send's index on the schedule (its unique number).
    pub fn take_indexed(&mut self) -> (u64, Instant) {
        let due = self.next_due();
        let k = self.k;
        self.k += 1;
        (k, due)
    }

    /// Skips the sends scheduled before `now` (used once, when a subscriber joins late: it
    /// did not exist to send them, so they were never intended).
    pub fn skip_until(&mut self, now: Instant) {
        if now > self.first {
            let behind = (now - self.first).as_secs_f64() / self.period.as_secs_f64();
            self.k = self.k.max(behind.ceil() as u64);
        }
    }
}

/// The identifying prefix of the publishes of subscriber `id` in run `run`.
pub fn own_prefix(run: u64, id: u64) -> String {
    format!("rtlab-pub:{run:x}:{id}:")
}

/// The text of publish number `index`: the prefix, the index and the scheduled send time.
pub fn publish_text(prefix: &str, index: u64, scheduled_unix_ns: u64) -> String {
    format!("{prefix}{index}:{scheduled_unix_ns}")
}

/// If `data` is one of ours (starts with `prefix`), the publish index and the scheduled send
/// time it carries.
pub fn parse_own(prefix: &[u8], data: &[u8]) -> Option<(u64, u64)> {
    let rest = data.strip_prefix(prefix)?;
    let (index, rest) = leading_number(rest)?;
    let (scheduled, _) = leading_number(rest.strip_prefix(b":")?)?;
    Some((index, scheduled))
}

/// The decimal number at the start of `s`, and what follows it.
fn leading_number(s: &[u8]) -> Option<(u64, &[u8])> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
    Some((n, &s[digits..]))
}

/// Recognises one subscriber's own publishes among the events it receives, and decides which
/// echoes count: those of publishes scheduled in the window, each once.
#[derive(Debug)]
pub struct EchoCounter {
    prefix: String,
    /// The window in wall-clock ns: publishes scheduled in it are the ones counted.
    window_unix_ns: (u64, u64),
    /// Highest publish index echoed so far (echoes are counted once).
    last_echo: Option<u64>,
}

impl EchoCounter {
    /// The echoes of subscriber `id`'s publishes in run `run_id`.
    pub fn new(run_id: u64, id: u64, clock: &RunClock) -> Self {
        Self {
            prefix: own_prefix(run_id, id),
            window_unix_ns: (
                clock.unix_nanos(clock.window_start),
                clock.unix_nanos(clock.window_end),
            ),
            last_echo: None,
        }
    }

    /// The prefix of this subscriber's publish texts.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// If the event `data` is a counted echo, the scheduled send time (unix ns) of its publish.
    pub fn observe(&mut self, data: &[u8]) -> Option<u64> {
        let (index, sched) = parse_own(self.prefix.as_bytes(), data)?;
        let (start, end) = self.window_unix_ns;
        if sched < start || sched >= end || self.last_echo.is_some_and(|last| index <= last) {
            return None;
        }
        self.last_echo = Some(index);
        Some(sched)
    }
}

/// Everything a POST publisher needs.
pub(crate) struct PostPublisher {
    /// Server's HTTP side.
    pub target: Target,
    /// Its resolved address.
    pub addr: SocketAddr,
    /// Connection index (for the source address) and the run's total.
    pub conn_index: u64,
    /// Total connections of the run.
    pub conn_total: u64,
    /// The shaped dial's wait (zero when not shaping).
    pub handshake: Duration,
    /// TLS sessions to the server's HTTP side, when its URL asks for TLS.
    pub tls: Option<TlsConnector>,
    /// Text prefix.
    pub prefix: String,
    /// Send times.
    pub schedule: OpenSchedule,
    /// Measured window.
    pub window: (Instant, Instant),
    /// Maps an `Instant` to unix nanoseconds, and says when to give up.
    pub clock: RunClock,
}

impl PostPublisher {
    /// Publishes by `POST /publish` until the window ends.
    pub(crate) async fn run(mut self) -> PublishTally {
        let mut tally = PublishTally::default();
        let bytes = ByteTally::new_shared();
        let mut client: Option<HttpClient> = None;
        let path = self.target.path(rtlab_wire::paths::PUBLISH);
        let mut body_buf = Vec::new();
        let (window_start, window_end) = self.window;
        self.schedule.skip_until(Instant::now());
        loop {
            let (index, due) = self.schedule.take_indexed();
            if due >= window_end {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
            let in_window = due >= window_start;
            if client.as_ref().is_none_or(|c| c.is_closed()) {
                match HttpClient::open(
                    self.addr,
                    &self.target,
                    (self.conn_index, self.conn_total),
                    self.handshake,
                    self.tls.as_ref(),
                    bytes.clone(),
                )
                .await
                {
                    Ok(c) => client = Some(c),
                    Err(e) => {
                        *tally
                            .errors
                            .entry(format!("publish {}", e.kind()))
                            .or_default() += 1;
                        continue;
                    }
                }
            }
            let Some(c) = client.as_mut() else { continue };
            let text = publish_text(&self.prefix, index, self.clock.unix_nanos(due));
            let before = bytes.snapshot();
            // A server that never answers must not keep the publisher past the run.
            let deadline = self.clock.publish_deadline();
            let request = c.request(http::Method::POST, &path, Bytes::from(text), &mut body_buf);
            let Ok(result) = tokio::time::timeout_at(deadline.into(), request).await else {
                *tally.errors.entry("publish timeout".into()).or_default() += 1;
                break;
            };
            let spent = bytes.snapshot().since(before);
            match result {
                Ok(status) if status.is_success() => {
                    if in_window {
                        tally.sent += 1;
                        tally.bytes_up += spent.up;
                    }
                }
                Ok(status) => {
                    *tally
                        .errors
                        .entry(format!("publish http {}", status.as_u16()))
                        .or_default() += 1;
                }
                Err(e) => {
                    client = None;
                    *tally
                        .errors
                        .entry(format!("publish {}", e.kind()))
                        .or_default() += 1;
                }
            }
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_times_are_fixed_in_advance_and_lateness_does_not_shift_them() {
        let t0 = Instant::now();
        let mut s = OpenSchedule::new(t0, 10.0, 0.0);
        assert_eq!(s.take(), t0);
        assert_eq!(s.take(), t0 + Duration::from_millis(100));
        // However late the caller is, the next time stays on the grid.
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.take(), t0 + Duration::from_millis(200));
    }

    #[test]
    fn offset_and_skip() {
        let t0 = Instant::now();
        let mut s = OpenSchedule::new(t0, 10.0, 0.5);
        assert_eq!(s.next_due(), t0 + Duration::from_millis(50));
        s.skip_until(t0 + Duration::from_millis(420));
        assert_eq!(s.next_due(), t0 + Duration::from_millis(450));
        // Skipping backwards never happens.
        s.skip_until(t0);
        assert_eq!(s.next_due(), t0 + Duration::from_millis(450));
    }

    #[test]
    fn publish_text_round_trips() {
        let prefix = own_prefix(0xabc, 7);
        assert_eq!(prefix, "rtlab-pub:abc:7:");
        let text = publish_text(&prefix, 12, 1_763_769_600_123_456_789);
        assert_eq!(text, "rtlab-pub:abc:7:12:1763769600123456789");
        assert_eq!(
            parse_own(prefix.as_bytes(), text.as_bytes()),
            Some((12, 1_763_769_600_123_456_789))
        );
        // Another subscriber's publish is not ours.
        let other = publish_text(&own_prefix(0xabc, 70), 1, 5);
        assert_eq!(parse_own(prefix.as_bytes(), other.as_bytes()), None);
        assert_eq!(parse_own(prefix.as_bytes(), b"xxxx"), None);
        assert_eq!(parse_own(prefix.as_bytes(), b"rtlab-pub:abc:7:12"), None);
    }
}
