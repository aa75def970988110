//! The collector: what the subscribers handed over, merged exactly, and the report built.
//!
//! As in oha's `result_data.rs`, aggregation is `push`/`merge` and nothing else: each finished
//! subscriber's [`Outcome`] is added to a [`Collector`] (its [`Tally`] summed, its end counted:
//! completed, lost as lagging, disconnected, never connected); at the end the engine adds the
//! histogram shards into one `LatencyHistograms` (HdrHistograms add exactly), and
//! [`Collected::report`] builds the [`RunReport`] from the sums, those histograms, the server's
//! counters at the window's two ends, and the window's seqs. Every number in the report is
//! derived here, in one place, from the raw counts.
//!
//! The same sums also add up *across processes*: a run split over several client processes
//! (`--shards`, see [`crate::shards`]) has each shard hand back its [`Collector`] (before any
//! verdict), its histograms and its [`RunFacts`] instead of a report; the parent adds them with
//! [`Collector::merge`] and `LatencyHistograms::merge`, and gives the verdict
//! ([`Collector::finish`]) and builds the one report ([`Collected::report`]) with the very code
//! an unsharded run goes through. Nothing derived (a percentile, a ratio) is ever averaged, and a
//! shard whose subscribers could not connect is data, as it would be in one process.
//!
//! The collector also decides whether there is anything to report: a run fails only when
//! nothing could be measured (no subscriber connected, or every one was lost before the end;
//! then the partial report goes with the error); anything less is data.

use rtlab_wire::framing::streaming_overhead;
use rtlab_wire::{StatsSnapshot, Transport, now_unix_nanos};
use serde::{Deserialize, Serialize};

use crate::clock::RunClock;
use crate::config::RunConfig;
use crate::control::ServerWindow;
use crate::ending::StalledEnd;
use crate::ending::tail;
use crate::error::RunError;
use crate::histograms::{LatencyHistograms, summarize, to_base64};
use crate::report::{
    ChurnReport, EndedEarly, NetworkReport, PublishReport, ResumeReport, RunReport, SCHEMA_VERSION,
    StalledReport, WindowMode, WireReport,
};
use crate::subscriber::{End, Outcome};
use crate::tally::Tally;
use crate::transport::SubError;

/// The subscribers' outcomes so far. Serializable: it is what one shard of a sharded run hands
/// back (see [`crate::shards`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Collector {
    total: Tally,
    connected: u64,
    completed: u64,
    lagging: u64,
    disconnects: u64,
    first_connect_error: Option<FirstError>,
    first_loss: Option<FirstError>,
    connect_failures: u64,
    /// The stalled subscribers' ends (`--stalled`), apart from everyone else's.
    #[serde(default)]
    stalled: Vec<StalledEnd>,
    /// When the last subscriber lost after set-up was handed over, ns since the Unix epoch
    /// (0: none): where a run that ended early ended.
    #[serde(default)]
    last_loss_unix_ns: u64,
    /// When the last outcome of all was handed over (a churn's end).
    #[serde(default)]
    last_end_unix_ns: u64,
    /// The run's start and window start, for the times above.
    #[serde(default)]
    clock: Option<ClockMarks>,
}

/// The run's clock as wall-clock instants (they cross a process boundary, `Instant`s do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockMarks {
    /// The run's start (its first connection), ns since the Unix epoch.
    pub start_unix_ns: u64,
    /// The measured window's start.
    pub window_start_unix_ns: u64,
}

/// The first failure of its kind, as much of it as the run's verdict needs: unlike the error
/// itself (which may hold an `io::Error`), it crosses a process boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum FirstError {
    /// The server does not speak the contract: the reason.
    Protocol(String),
    /// An HTTP status, and the error's message.
    Status(u16, String),
    /// Anything else, as its message.
    Other(String),
}

impl From<&SubError> for FirstError {
    fn from(e: &SubError) -> Self {
        match e {
            SubError::Protocol(reason) => FirstError::Protocol(reason.clone()),
            SubError::Status(code) => FirstError::Status(*code, e.to_string()),
            other => FirstError::Other(other.to_string()),
        }
    }
}

/// What the subscribers left behind, once the run has something to report.
#[derive(Debug)]
pub struct Collected {
    total: Tally,
    connected: u64,
    completed: u64,
    lagging: u64,
    disconnects: u64,
    /// Every subscriber was lost before the end: the first one's reason.
    all_lost: Option<String>,
    stalled: Vec<StalledEnd>,
    last_loss_unix_ns: u64,
    last_end_unix_ns: u64,
    clock: Option<ClockMarks>,
    connect_failures: u64,
}

impl Collector {
    /// Adds one subscriber's outcome.
    pub fn push(&mut self, outcome: Outcome) {
        let Outcome {
            tally,
            end,
            lost_at_unix_ns,
        } = outcome;
        self.total.merge(&tally);
        let now = now_unix_nanos();
        self.last_end_unix_ns = self.last_end_unix_ns.max(now);
        match end {
            End::Completed => {
                self.connected += 1;
                self.completed += 1;
            }
            End::Stalled(stalled) => self.stalled.push(stalled),
            End::Lost(e) => {
                let lost_at = lost_at_unix_ns.unwrap_or(now);
                self.last_loss_unix_ns = self.last_loss_unix_ns.max(lost_at);
                self.connected += 1;
                if matches!(e, SubError::Lagging) {
                    self.lagging += 1;
                } else {
                    self.disconnects += 1;
                }
                self.first_loss.get_or_insert_with(|| FirstError::from(&e));
            }
            End::ConnectFailed(e) => {
                self.first_connect_error
                    .get_or_insert_with(|| FirstError::from(&e));
                self.connect_failures += 1;
            }
        }
    }

    /// Adds another process's outcomes (a shard of the same run): every count sums, and the
    /// first failures are this one's, else the other's.
    pub fn merge(&mut self, other: Collector) {
        self.total.merge(&other.total);
        self.connected += other.connected;
        self.completed += other.completed;
        self.lagging += other.lagging;
        self.disconnects += other.disconnects;
        self.connect_failures += other.connect_failures;
        self.first_connect_error = self
            .first_connect_error
            .take()
            .or(other.first_connect_error);
        self.first_loss = self.first_loss.take().or(other.first_loss);
        self.stalled.extend(other.stalled);
        self.last_loss_unix_ns = self.last_loss_unix_ns.max(other.last_loss_unix_ns);
        self.last_end_unix_ns = self.last_end_unix_ns.max(other.last_end_unix_ns);
        self.clock = self.clock.or(other.clock);
    }

    /// Notes the run's clock, against which the ends' times are told.
    pub fn mark_clock(&mut self, clock: &RunClock) {
        self.clock = Some(ClockMarks {
            start_unix_ns: clock.start_unix_ns,
            window_start_unix_ns: clock.unix_nanos(clock.window_start),
        });
    }

    /// Subscribers that connected (completed or lost later), so far.
    pub fn connected(&self) -> u64 {
        self.connected
    }

    /// Subscribers that completed, so far.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// Subscribers that never finished set-up, so far.
    pub fn connect_failures(&self) -> u64 {
        self.connect_failures
    }

    /// Counts the subscribers the engine had to abort at the end.
    pub fn stuck(&mut self, count: u64) {
        *self.total.errors.entry("stuck at end".into()).or_default() += count;
    }

    /// The run's verdict: what was collected, or why there is nothing to report.
    pub fn finish(self, config: &RunConfig) -> Result<Collected, RunError> {
        let mut all_lost = None;
        if self.completed == 0 {
            let url = config.url.clone();
            if self.connected == 0 {
                return Err(match self.first_connect_error {
                    Some(FirstError::Protocol(reason)) => RunError::Protocol { url, reason },
                    Some(FirstError::Status(code, _)) if code != 503 && code != 429 => {
                        RunError::Protocol {
                            url,
                            reason: format!(
                                "the {} endpoint answered HTTP {code}",
                                config.transport
                            ),
                        }
                    }
                    Some(FirstError::Status(_, reason) | FirstError::Other(reason)) => {
                        RunError::Connect { url, reason }
                    }
                    None => RunError::Internal("no subscriber ran".into()),
                });
            }
            match self.first_loss {
                Some(FirstError::Protocol(reason)) => {
                    return Err(RunError::Protocol { url, reason });
                }
                // Built into an error with the partial report by `report`.
                Some(FirstError::Status(_, reason) | FirstError::Other(reason)) => {
                    all_lost = Some(reason);
                }
                None => return Err(RunError::Internal("no subscriber completed".into())),
            }
        }
        Ok(Collected {
            total: self.total,
            connected: self.connected,
            completed: self.completed,
            lagging: self.lagging,
            disconnects: self.disconnects,
            all_lost,
            stalled: self.stalled,
            last_loss_unix_ns: self.last_loss_unix_ns,
            last_end_unix_ns: self.last_end_unix_ns,
            clock: self.clock,
            connect_failures: self.connect_failures,
        })
    }
}

/// Everything besides the subscribers' outcomes that goes into the report.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunFacts {
    /// The server's counters at the window's ends.
    pub server: ServerWindow,
    /// `S0` and `S1`, when both were read.
    pub window_seqs: Option<(u64, u64)>,
    /// Events the connected subscribers should have received in range, when `S0` and `S1` are
    /// known: `(S1 − S0) × connected` in one process ([`expected_in_range`]); in a sharded run
    /// the sum of each shard's own, because each shard read its own `S0` and `S1`.
    pub expected_in_range: Option<u64>,
    /// The seed the run used.
    pub seed: u64,
    /// The shaped network and its calibration, if any.
    pub network: Option<NetworkReport>,
}

/// The events `connected` subscribers should all have received in the window `(S0, S1]`.
pub fn expected_in_range(window_seqs: Option<(u64, u64)>, connected: u64) -> Option<u64> {
    window_seqs.map(|(s0, s1)| s1.saturating_sub(s0) * connected)
}

impl Collected {
    /// Whether the run has its window to the end (not every subscriber lost before it).
    pub fn complete(&self) -> bool {
        self.all_lost.is_none()
    }

    /// Builds the report from these sums and the run's `histograms`; when every subscriber was
    /// lost, the report goes with the error as the partial result.
    pub fn report(
        self,
        config: &RunConfig,
        histograms: &LatencyHistograms,
        facts: RunFacts,
    ) -> Result<RunReport, RunError> {
        let mut report = RunReport {
            network: facts.network.clone(),
            stalled: stalled_report(config, &self.stalled),
            ..build_report(config, &self, histograms, &facts)
        };
        if let (Some(cycles), Some(clock)) = (config.churn, self.clock) {
            let elapsed_s = self.last_end_unix_ns.saturating_sub(clock.start_unix_ns) as f64 / 1e9;
            report.churn = Some(ChurnReport {
                cycles_asked: cycles,
                cycles_done: self.completed,
                cycles_failed: self.connect_failures + (self.connected - self.completed),
                elapsed_s,
                cycles_per_s: per_second(self.completed, elapsed_s),
            });
        }
        match self.all_lost.clone() {
            None => Ok(report),
            Some(reason) => {
                let (ended_early, window_s) = self.ended_early(config, &reason);
                report.ended_early = Some(ended_early);
                cut_window(&mut report, window_s);
                Err(RunError::AllDisconnected {
                    reason,
                    partial: Some(Box::new(report)),
                })
            }
        }
    }

    /// How the run ended early (when the last subscriber was lost, how they were ended, who
    /// ended behind the others; see `ending.rs`), and how much of the window it measured, in
    /// seconds: from the window's start to that loss, 0 if it came during the warm-up.
    fn ended_early(&self, config: &RunConfig, reason: &str) -> (EndedEarly, f64) {
        let planned = config.duration.as_secs_f64();
        let tail = tail(&self.total.last_seqs);
        let at = self.last_loss_unix_ns;
        let (at_s, window_s) = match self.clock {
            Some(c) => (
                at.saturating_sub(c.start_unix_ns) as f64 / 1e9,
                (at.saturating_sub(c.window_start_unix_ns) as f64 / 1e9).min(planned),
            ),
            None => (0.0, 0.0),
        };
        let ended = EndedEarly {
            reason: reason.to_owned(),
            at_s,
            planned_duration_s: planned,
            close_codes: self.total.close_codes.clone(),
            highest_seq: tail.highest_seq,
            subscribers_behind: tail.subscribers_behind,
            events_behind: tail.events_behind,
            subscribers_with_gaps: self.total.subscribers_with_gaps,
        };
        (ended, window_s)
    }
}

/// Cuts a report's window to the `window_s` seconds measured before the run ended early: the
/// rates are per second of that (0 when nothing of the window was measured).
fn cut_window(report: &mut RunReport, window_s: f64) {
    report.duration_s = window_s;
    report.events_per_s = per_second(report.events_received, window_s);
    report.server_events_per_s = per_second(report.server_events_published, window_s);
}

/// `n / seconds`, 0 for no time at all.
fn per_second(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        0.0
    }
}

/// The stalled subscribers' report (`--stalled`), when there were any.
fn stalled_report(config: &RunConfig, ends: &[StalledEnd]) -> Option<StalledReport> {
    if config.stalled == 0 {
        return None;
    }
    let mut r = StalledReport {
        asked: config.stalled,
        ..StalledReport::default()
    };
    for e in ends {
        if let Some(why) = &e.not_stalled {
            *r.failed.entry(why.clone()).or_default() += 1;
            continue;
        }
        r.stalled += 1;
        match &e.cut {
            Some(kind) => {
                r.cut += 1;
                *r.close_codes.entry(kind.clone()).or_default() += 1;
                r.events_before_cut.push(e.events);
                r.last_seq_before_cut.push(e.last_seq);
            }
            None => r.events_not_cut.push(e.events),
        }
    }
    r.events_before_cut.sort_unstable();
    r.last_seq_before_cut.sort_unstable();
    r.events_not_cut.sort_unstable();
    Some(r)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn build_report(
    config: &RunConfig,
    c: &Collected,
    h: &LatencyHistograms,
    facts: &RunFacts,
) -> RunReport {
    let t = &c.total;
    let ServerWindow {
        first,
        last,
        fallback_reason: no_stats,
    } = &facts.server;
    let (window_seqs, seed) = (facts.window_seqs, facts.seed);
    let server = (first, last);
    let duration_s = config.duration.as_secs_f64();
    let server_events_published = match &server {
        (Some(a), Some(b)) => b.events_published.saturating_sub(a.events_published),
        _ => t.seq_range.map_or(0, |(lo, hi)| hi - lo + 1),
    };
    let server_lagging_disconnects = match &server {
        (Some(a), Some(b)) => {
            let lagging = |s: &StatsSnapshot| {
                s.transports
                    .get(&config.transport)
                    .map_or(0, |t| t.lagging_disconnects)
            };
            Some(lagging(b).saturating_sub(lagging(a)))
        }
        _ => None,
    };
    let overhead = t
        .window
        .down
        .saturating_sub(t.payload_bytes + t.keepalive_down);
    // The analytic model is HTTP/1.1's (chunked SSE); over HTTP/2 there is no figure.
    let analytic = streaming_overhead(config.transport, 1, 1)
        .filter(|_| config.http == crate::config::HttpVersion::Http1)
        .map(|_| t.analytic_overhead_bytes);
    let tls_on = crate::config::Target::parse(&config.url, config.transport).is_ok_and(|t| t.tls);
    let is_poll = !config.transport.is_streaming();
    let publish = config.publish_rate.map(|rate| PublishReport {
        rate_per_client: rate,
        via: if config.transport == Transport::Ws {
            "ws-frame"
        } else {
            "http-post"
        }
        .into(),
        sent: t.publish.sent,
        echoed: t.echoed,
        round_trip_us: summarize(&h.round_trip),
        bytes_up_per_publish: ratio(t.publish.bytes_up, t.publish.sent),
        round_trip_histogram_b64: to_base64(&h.round_trip),
    });
    let post_publishes = if config.transport == Transport::Ws {
        0
    } else {
        t.publish.sent
    };
    // Exact by seq when S0 and S1 are known: every connected subscriber should have received
    // each of the S1 − S0 events published in the window, by the end of its drain.
    let expected = facts.expected_in_range;
    let delivery_ratio = match expected {
        Some(expected) => ratio(t.in_range, expected),
        None => ratio(t.events, server_events_published * c.connected),
    };
    let (window_mode, window_fallback_reason) = match window_seqs {
        Some(_) => (WindowMode::ExactBySeq, None),
        None => (
            WindowMode::SeqRange,
            // Both reads succeeded, but the first too late: the subscribers had given up on S0.
            Some(
                no_stats
                    .clone()
                    .unwrap_or_else(|| "/stats answered too late for the window's start".into()),
            ),
        ),
    };
    let mut errors = t.errors.clone();
    errors.retain(|k, _| k != "lagging");
    RunReport {
        schema_version: SCHEMA_VERSION,
        transport: Some(config.transport),
        url: config.url.clone(),
        clients: config.clients,
        connected: c.connected,
        completed: c.completed,
        duration_s,
        warmup_s: config.warmup.as_secs_f64(),
        poll_interval_ms: (config.transport == Transport::ShortPoll)
            .then_some(config.poll_interval.as_secs_f64() * 1e3),
        events_received: t.events,
        events_per_s: t.events as f64 / duration_s,
        window_mode: Some(window_mode),
        window_fallback_reason,
        server_events_published,
        server_events_per_s: server_events_published as f64 / duration_s,
        delivery_ratio,
        window_seq_start: window_seqs.map(|(s0, _)| s0),
        window_seq_end: window_seqs.map(|(_, s1)| s1),
        events_in_range: t.in_range,
        undelivered: expected.map(|e| e.saturating_sub(t.in_range)),
        lost: t.lost,
        duplicates: t.duplicates,
        out_of_order: t.out_of_order,
        lagging_disconnects: c.lagging,
        disconnects: c.disconnects,
        server_lagging_disconnects,
        errors,
        latency_us: summarize(&h.latency),
        tcp_connect_us: summarize(&h.tcp_connect),
        tls_handshake_us: summarize(&h.tls_handshake),
        connect_us: summarize(&h.connect),
        first_event_us: summarize(&h.first_event),
        wire: WireReport {
            setup_bytes_down: t.setup.down,
            setup_bytes_up: t.setup.up,
            bytes_down: t.window.down,
            bytes_up: t.window.up,
            payload_bytes_per_event: ratio(t.payload_bytes, t.events),
            overhead_bytes_per_event: ratio(overhead, t.events),
            analytic_overhead_bytes_per_event: analytic.map(|a| ratio(a, t.events)),
            keepalive_bytes: t.keepalive_down + t.keepalive_up,
            payload_bytes: t.payload_bytes,
            overhead_bytes: overhead,
            analytic_overhead_bytes: analytic,
            keepalive_bytes_down: t.keepalive_down,
            keepalive_bytes_up: t.keepalive_up,
            request_bytes_per_request: is_poll.then(|| ratio(t.request_bytes, t.requests)),
            response_head_bytes_per_request: is_poll
                .then(|| ratio(t.response_head_bytes, t.requests)),
            setup_wire_bytes_down: t.setup_wire.down,
            setup_wire_bytes_up: t.setup_wire.up,
            wire_bytes_down: t.window_wire.down,
            wire_bytes_up: t.window_wire.up,
            wire_bytes_down_per_event: ratio(t.window_wire.down, t.events),
            tls_overhead_bytes_per_event: ratio(
                t.window_wire.down.saturating_sub(t.window.down),
                t.events,
            ),
            // Per first connection: re-opened ones (after a keep-alive close or a drop) set
            // up in the window, not in set-up.
            setup_wire_bytes_per_connection: {
                let first = t
                    .connections
                    .saturating_sub(t.reconnects)
                    .saturating_sub(t.resume.connections);
                (first > 0).then(|| ratio(t.setup_wire.down + t.setup_wire.up, first))
            },
        },
        requests: t.requests + post_publishes,
        requests_per_event: is_poll.then(|| ratio(t.requests, t.events)),
        empty_polls: t.empty_polls,
        empty_poll_share: is_poll.then(|| ratio(t.empty_polls, t.requests)),
        reconnects: t.reconnects,
        resume: config
            .reconnect_give_up
            .filter(|_| config.churn.is_none())
            .map(|give_up| ResumeReport {
                give_up_ms: u64::try_from(give_up.as_millis()).unwrap_or(u64::MAX),
                drops: t.resume.drops,
                count: t.resume.reconnects,
                gave_up: t.resume.gave_up,
                time_to_reconnect_us: summarize(&h.reconnect),
                lost_across_reconnects: t.resume.lost_across,
                duplicates_across_reconnects: t.resume.duplicates_across,
                feed_restarts: t.resume.feed_restarts,
            }),
        tls: tls_on,
        http_version: (config.transport != Transport::Tcp).then(|| {
            match config.transport {
                Transport::Ws => crate::config::HttpVersion::Http1,
                _ => config.http,
            }
            .as_str()
            .to_owned()
        }),
        streams_per_connection: u64::from(config.streams_per_connection),
        connections: t.connections,
        publish,
        latency_histogram_b64: to_base64(&h.latency),
        seed: Some(seed),
        network: None,
        ended_early: None,
        stalled: None,
        churn: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(end: End) -> Outcome {
        let mut tally = Tally {
            events: 10,
            ..Tally::default()
        };
        if let End::Lost(e) | End::ConnectFailed(e) = &end {
            tally.error(e.kind());
        }
        Outcome {
            tally,
            end,
            lost_at_unix_ns: None,
        }
    }

    fn collect(ends: Vec<End>) -> Result<Collected, RunError> {
        let mut c = Collector::default();
        for end in ends {
            c.push(outcome(end));
        }
        c.finish(&RunConfig::new(Transport::Sse, "http://127.0.0.1:1"))
    }

    #[test]
    fn outcomes_add_up_and_ends_are_told_apart() {
        let c = collect(vec![
            End::Completed,
            End::Lost(SubError::Lagging),
            End::Lost(SubError::Closed("reset".into())),
            End::ConnectFailed(SubError::ConnectTimeout),
        ])
        .unwrap();
        assert!(c.complete());
        assert_eq!(
            (c.connected, c.completed, c.lagging, c.disconnects),
            (3, 1, 1, 1)
        );
        assert_eq!(c.total.events, 40);
        assert_eq!(c.total.errors.get("connect timeout"), Some(&1));
    }

    #[test]
    fn a_run_with_nothing_measured_is_an_error() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = collect(vec![End::ConnectFailed(SubError::Connect(refused))]).unwrap_err();
        assert!(matches!(e, RunError::Connect { .. }), "{e}");
        let e = collect(vec![End::ConnectFailed(SubError::Status(404))]).unwrap_err();
        assert!(
            e.to_string().contains("the sse endpoint answered HTTP 404"),
            "{e}"
        );
        let e = collect(vec![End::Lost(SubError::Protocol("binary".into()))]).unwrap_err();
        assert!(matches!(e, RunError::Protocol { .. }), "{e}");
        assert!(matches!(collect(vec![]), Err(RunError::Internal(_))));
    }

    #[test]
    fn every_subscriber_lost_keeps_the_partial_report() {
        let c = collect(vec![End::Lost(SubError::Lagging)]).unwrap();
        assert!(!c.complete());
        let config = RunConfig::new(Transport::Sse, "http://127.0.0.1:1");
        let facts = RunFacts {
            server: ServerWindow::default(),
            window_seqs: None,
            expected_in_range: None,
            seed: 7,
            network: None,
        };
        match c.report(&config, &LatencyHistograms::new(), facts) {
            Err(RunError::AllDisconnected {
                reason,
                partial: Some(partial),
            }) => {
                assert_eq!(reason, "disconnected as lagging");
                assert_eq!((partial.connected, partial.lagging_disconnects), (1, 1));
                assert_eq!(partial.seed, Some(7));
            }
            other => panic!("{other:?}"),
        }
    }
}
