//! Subscribers: one trait, one implementation per transport, one shared meter.
//!
//! Each file here is the client half of the file of the same name in `server/src/transport/`:
//! `ws.rs`, `sse.rs`, `long_poll.rs`, `short_poll.rs`, `tcp.rs`. They differ only in how they get
//! events off the wire; *what is measured* is the same for all and lives here, in [`Meter`]:
//!
//! - every event goes through [`Meter::event`]: seq bookkeeping, latency (receive wall clock −
//!   `ts`), payload bytes, the analytic framing the protocol should have cost, and recognition
//!   of the subscriber's own publishes;
//! - the subscriber's bytes are counted at its socket ([`WireCounter`]) and split in phases by
//!   snapshots the meter takes: **set-up** (the handshake or first response, and anything read
//!   along with it), **warm-up**, the measured **window**, and the **drain** after it (the
//!   window's last events still arriving; counted for delivery and latency, not for bytes).
//!
//! **Why phase changes wait for an idle moment.** For the measured framing to equal the analytic
//! framing *exactly*, every byte of an event must fall in the same phase as the event itself.
//! Bytes are counted when the socket is read; events are counted when they are parsed, a little
//! later, and hyper or tungstenite may already have read the next event into their buffers. So a
//! subscriber crosses a phase boundary only when its parser has just asked for more and been
//! told "nothing yet" (the stream returned `Pending`): at that moment every byte read has been
//! turned into events. The tcp and sse subscribers, which own their buffers, instead subtract
//! the bytes still buffered, which is exact at any moment. A long poll waiting for its answer is
//! idle only until the answer's first bytes arrive; after that the boundary waits for the whole
//! answer and puts all of it on the far side. Under saturation a WebSocket stream may have no
//! idle moment, so its boundary is forced [`FORCE_CROSS_AFTER`] late, and exactness may then be
//! off by the bytes tungstenite had read of the next frame (at most one event: visible with
//! 64 KiB events at saturation, never at the lab's usual sizes and rates).

pub mod http;
pub mod long_poll;
pub mod meter;
pub mod short_poll;
pub mod sse;
pub mod tcp;
pub mod ws;
pub mod ws_frames;

pub use crate::tally::Tally;
pub use meter::{Meter, Phase};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtlab_wire::{EventView, Transport, WireError};
use tokio::net::TcpStream;

use crate::config::Target;
use crate::poll_phase::PollPhases;
use crate::publish::{self, OpenSchedule};
use crate::window_seq::WindowSeqs;
use crate::wire_counter::{ByteTally, WireCounter};

/// How late a phase boundary may be crossed while events keep arriving back to back.
pub const FORCE_CROSS_AFTER: Duration = Duration::from_millis(50);

/// The earliest `ts` taken for nanoseconds since the Unix epoch (10¹⁸ ns: September 2001). A
/// smaller `ts` is in another unit, usually milliseconds (JavaScript's `Date.now()`, about
/// 1.7 × 10¹²), and would turn every latency into decades, clamped to the histogram's 60 s:
/// a foreign server's likeliest mistake, worth a clear error rather than a silly report.
pub const MIN_TS_NANOS: u64 = 1_000_000_000_000_000_000;

/// Longest part of an offending message quoted in a protocol error.
const EXCERPT_BYTES: usize = 60;

/// Decodes one event JSON that arrived as `carrier` ("a WebSocket text frame", …), or says,
/// on one line, what is wrong with it and what it began with: the first thing someone pointing
/// this client at another server needs to see.
pub(crate) fn parse_event<'a>(json: &'a [u8], carrier: &str) -> Result<EventView<'a>, SubError> {
    let bad = |what: String| {
        SubError::Protocol(format!(
            "{carrier} is not the event JSON {{\"seq\":N,\"ts\":NANOS,\"data\":\"...\"}} \
             ({what}): {}",
            excerpt(json)
        ))
    };
    let ev = EventView::parse(json).map_err(|e| {
        bad(match e {
            WireError::BadEvent(why) => why,
            other => other.to_string(),
        })
    })?;
    if ev.ts < MIN_TS_NANOS {
        return Err(bad(format!(
            "ts {} is not nanoseconds since the Unix epoch",
            ev.ts
        )));
    }
    Ok(ev)
}

/// The start of `bytes`, quoted and escaped (so a newline in it cannot break the error's line).
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT_BYTES)]);
    let more = if bytes.len() > EXCERPT_BYTES {
        "…"
    } else {
        ""
    };
    format!("{text:?}{more}")
}

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
}

/// What every subscriber of a run shares: where to connect, how, and when.
#[derive(Debug)]
pub struct Ctx {
    /// The transport.
    pub transport: Transport,
    /// The server (for tcp, its TCP listener).
    pub target: Target,
    /// Its resolved address, or the shaper's in front of it (see [`crate::network`]).
    pub addr: SocketAddr,
    /// How long a dial waits after `connect()` when shaped: the TCP handshake's round trip that
    /// the shaper's loopback listener skipped. Zero when not shaping.
    pub handshake: Duration,
    /// The server's HTTP side (its address, or its shaper's), for publishing, if any.
    pub control: Option<(Target, SocketAddr)>,
    /// Time line.
    pub clock: RunClock,
    /// Short-poll interval.
    pub poll_interval: Duration,
    /// Each short-polling subscriber's phase on the interval grid (empty for other transports).
    pub poll_phases: PollPhases,
    /// Long-poll `timeout_ms`.
    pub long_poll_timeout: Duration,
    /// Publishes per second per subscriber.
    pub publish_rate: Option<f64>,
    /// Connect + set-up time limit.
    pub connect_timeout: Duration,
    /// Run identifier inside publish texts.
    pub run_id: u64,
    /// Subscribers in the run.
    pub clients: u64,
    /// Connections opened so far (numbers them for source-address spreading).
    pub conn_counter: AtomicU64,
    /// The server's head seq at the window's start and end, once read.
    pub window_seqs: Arc<WindowSeqs>,
}

impl Ctx {
    /// Connections the run may open: one per subscriber, two when publishing over POST.
    pub(crate) fn conn_total(&self) -> u64 {
        if self.publish_rate.is_some() && self.transport != Transport::Ws {
            self.clients * 2
        } else {
            self.clients
        }
    }

    /// Opens a counted TCP connection to the server.
    pub async fn connect(&self, tally: Arc<ByteTally>) -> Result<WireCounter<TcpStream>, SubError> {
        let index = self.conn_counter.fetch_add(1, Ordering::Relaxed);
        let stream = crate::source_addr::dial(self.addr, index, self.conn_total(), self.handshake)
            .await
            .map_err(SubError::Connect)?;
        Ok(WireCounter::new(stream, tally))
    }

    /// The publish schedule of subscriber `id`, if publishing.
    pub fn publish_schedule(&self, id: u64) -> Option<OpenSchedule> {
        let rate = self.publish_rate?;
        // Spread subscribers' send times evenly over one period (golden-ratio sequence).
        let offset = (id as f64 * 0.618_033_988_75).fract();
        Some(OpenSchedule::new(self.clock.start, rate, offset))
    }
}

/// Why one subscriber stopped early (data for the report, not a run failure).
#[derive(Debug, thiserror::Error)]
pub enum SubError {
    /// TCP connect failed.
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// Set-up took longer than the connect timeout.
    #[error("connect timed out")]
    ConnectTimeout,
    /// The server answered with an HTTP status other than the contract's.
    #[error("HTTP {0}")]
    Status(u16),
    /// What the server sent is not the contract.
    #[error("{0}")]
    Protocol(String),
    /// The server closed the subscriber as lagging.
    #[error("disconnected as lagging")]
    Lagging,
    /// The connection ended or broke.
    #[error("{0}")]
    Closed(String),
}

impl SubError {
    /// The key this error is counted under in the report's `errors`.
    pub fn kind(&self) -> String {
        match self {
            SubError::Connect(e) => match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connect refused".into(),
                std::io::ErrorKind::TimedOut => "connect timeout".into(),
                std::io::ErrorKind::AddrNotAvailable | std::io::ErrorKind::AddrInUse => {
                    "connect no source port".into()
                }
                _ => "connect failed".into(),
            },
            SubError::ConnectTimeout => "connect timeout".into(),
            SubError::Status(code) => format!("http {code}"),
            SubError::Protocol(_) => "protocol".into(),
            SubError::Lagging => "lagging".into(),
            SubError::Closed(_) => "disconnected".into(),
        }
    }
}

/// A way of receiving the feed.
pub trait Subscriber: Sized + Send {
    /// Whether publishes travel over the subscriber's own connection (WebSocket), rather than
    /// by `POST /publish` on a second one.
    const PUBLISHES_ITSELF: bool = false;

    /// Connects and completes set-up, ending with [`Meter::set_up`].
    fn connect(ctx: &Ctx, meter: &mut Meter)
    -> impl Future<Output = Result<Self, SubError>> + Send;

    /// Receives until the meter's phase is [`Phase::Done`] (`Ok`; that is after the drain) or
    /// the connection fails.
    /// Must call [`Meter::finish`] before returning either way.
    fn receive(
        self,
        ctx: &Ctx,
        meter: &mut Meter,
    ) -> impl Future<Output = Result<(), SubError>> + Send;
}

/// How one subscriber ended.
#[derive(Debug)]
pub enum End {
    /// Stayed to the end of the window.
    Completed,
    /// Never finished set-up.
    ConnectFailed(SubError),
    /// Lost after set-up.
    Lost(SubError),
}

/// One subscriber's result.
#[derive(Debug)]
pub struct Outcome {
    /// Counters.
    pub tally: Tally,
    /// How it ended.
    pub end: End,
}

/// Runs subscriber `meter.id` of type `S` from connect to the end of the window.
pub async fn drive<S: Subscriber>(ctx: Arc<Ctx>, mut meter: Meter) -> Outcome {
    let deadline = (Instant::now() + ctx.connect_timeout).min(ctx.clock.window_end);
    let connected = tokio::time::timeout_at(deadline.into(), S::connect(&ctx, &mut meter)).await;
    let sub = match connected {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return failed(meter, e),
        Err(_) => return failed(meter, SubError::ConnectTimeout),
    };
    let live = meter.live().clone();
    live.connected.fetch_add(1, Ordering::Relaxed);
    live.ever_connected.fetch_add(1, Ordering::Relaxed);

    let publisher = match (&ctx.control, ctx.publish_schedule(meter.id)) {
        (Some((target, addr)), Some(schedule)) if !S::PUBLISHES_ITSELF => {
            let p = publish::PostPublisher {
                target: target.clone(),
                addr: *addr,
                conn_index: ctx.conn_counter.fetch_add(1, Ordering::Relaxed),
                conn_total: ctx.conn_total(),
                handshake: ctx.handshake,
                prefix: meter.own_prefix().unwrap_or_default().to_owned(),
                schedule,
                window: (ctx.clock.window_start, ctx.clock.window_end),
                clock: ctx.clock,
            };
            Some(tokio::spawn(p.run()))
        }
        _ => None,
    };

    let result = sub.receive(&ctx, &mut meter).await;
    live.connected.fetch_sub(1, Ordering::Relaxed);
    if let Some(mut p) = publisher {
        if result.is_err() {
            p.abort();
        }
        let deadline = ctx.clock.window_end + meter::DRAIN_MAX + crate::engine::STOP_GRACE / 2;
        let joined = match tokio::time::timeout_at(deadline.into(), &mut p).await {
            Ok(joined) => joined.ok(),
            Err(_) => {
                p.abort();
                None
            }
        };
        if let Some(t) = joined {
            meter.tally.publish.sent += t.sent;
            meter.tally.publish.bytes_up += t.bytes_up;
            for (k, v) in t.errors {
                *meter.tally.errors.entry(k).or_default() += v;
            }
        }
    }
    let end = match result {
        Ok(()) => End::Completed,
        Err(e) => {
            meter.tally.error(e.kind());
            End::Lost(e)
        }
    };
    Outcome {
        tally: std::mem::take(&mut meter.tally),
        end,
    }
}

fn failed(mut meter: Meter, e: SubError) -> Outcome {
    meter.finish(0);
    meter.tally.error(e.kind());
    Outcome {
        tally: std::mem::take(&mut meter.tally),
        end: End::ConnectFailed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(json: &str) -> String {
        match parse_event(json.as_bytes(), "a TCP line") {
            Err(SubError::Protocol(why)) => why,
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn events_parse_and_what_is_not_one_is_quoted_on_one_line() {
        let ev = parse_event(br#"{"seq":1,"ts":1763769600123456789,"data":"x"}"#, "a").unwrap();
        assert_eq!((ev.seq, ev.ts), (1, 1_763_769_600_123_456_789));
        // Another server's key order and extra keys are fine (the README promises it).
        let ev = parse_event(
            br#"{"data":"x","type":"tick","ts":1763769600123456789,"seq":7}"#,
            "a",
        )
        .unwrap();
        assert_eq!(ev.seq, 7);
        let not_json = reason("hello\nworld");
        assert!(
            not_json.starts_with(r#"a TCP line is not the event JSON {"seq":N,"ts":NANOS,"#),
            "{not_json}"
        );
        assert!(not_json.ends_with(r#": "hello\nworld""#), "{not_json}");
        assert!(!not_json.contains('\n'));
        assert!(reason(r#"{"type":"tick","n":1}"#).contains("missing field `seq`"));
        let long = reason(&"x".repeat(500));
        assert!(long.ends_with("\"…") && long.len() < 250, "{long}");
    }

    #[test]
    fn a_ts_in_milliseconds_is_refused() {
        let why = reason(r#"{"seq":1,"ts":1763769600123,"data":"x"}"#);
        assert!(
            why.contains("ts 1763769600123 is not nanoseconds since the Unix epoch"),
            "{why}"
        );
    }
}
