//! The engine: ramp up, warm up, measure, stop, merge.
//!
//! ```text
//!  start        ramp (clients / connect-rate)     warm-up         measured window      drain  stop
//!    |-- subscriber 0, 1, 2, … connect ------|--------------|======================|~~~~~~|
//!                                                           ^ /stats: S0           ^ /stats: S1
//! ```
//!
//! **Connections are opened at `--connect-rate`**, on a fixed grid, because a server that
//! accepts 10 000 connections in one burst is being measured on its accept queue, not on its
//! transport; and a SYN flood that overflows the backlog looks like a server failure when it is
//! the client's. **The warm-up** starts after the last connection is due, so the window sees
//! every subscriber in steady state. Each subscriber is one tokio task (see `transport/`) that
//! stops by itself after the window and its drain (until it has the window's last event, seq
//! `S1`; see [`crate::window_seq`]); the engine reads `S0` and `S1` from `/stats`, spawns,
//! collects the [`Outcome`]s, and gives up on stragglers [`STOP_GRACE`] after the longest drain.
//!
//! **A shaped network** (`--network`, `--rtt`): before the clock starts, the engine puts a
//! shaper (`network::Shaper`) in front of the server's address and another in front of its HTTP
//! side, times a few round trips through them (calibration, in the report's `network`), and
//! hands the subscribers and publishers the shapers' addresses. `/stats` keeps the straight
//! road: its reads mark the window, which must not move with the link.
//!
//! Then the pipeline closes as in oha: the per-subscriber [`Tally`]s are summed, the per-shard
//! histograms merged, and [`RunReport`] built. A run fails only when nothing could be measured
//! (no subscriber connected, or every one was lost before the end); anything less is data.
//! When the first [`FAIL_FAST_AFTER`] connects all fail, the run stops at once instead of
//! ramping thousands of doomed connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtlab_wire::framing::streaming_overhead;
use rtlab_wire::{StatsSnapshot, Transport, now_unix_nanos};
use tokio::task::JoinSet;

use crate::RunError;
use crate::config::{RunConfig, Target};
use crate::control::ControlClient;
use crate::network::Shaper;
use crate::network::calibrate::calibrate;
use crate::poll_phase::{PollPhases, fresh_seed};
use crate::progress::Progress;
use crate::report::{PublishReport, RunReport, SCHEMA_VERSION, WindowMode, WireReport};
use crate::sample::{LiveCounters, Recorder};
use crate::stats::{Stats, StatsShard, summarize, to_base64};
use crate::transport::long_poll::LongPollSubscriber;
use crate::transport::meter::DRAIN_MAX;
use crate::transport::short_poll::ShortPollSubscriber;
use crate::transport::sse::SseSubscriber;
use crate::transport::tcp::TcpSubscriber;
use crate::transport::ws::WsSubscriber;
use crate::transport::{Ctx, End, Meter, Outcome, RunClock, SubError, Tally, drive};
use crate::window_seq::WindowSeqs;

/// How long after the longest drain the engine waits for subscribers to finish before aborting
/// them.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// Failed connects, with none succeeding, after which the run stops early with an error.
pub const FAIL_FAST_AFTER: u64 = 50;

/// Runs one load test and returns its report. Call it inside a tokio runtime (a multi-threaded
/// one, so that subscribers spread over the cores).
pub async fn run(config: RunConfig) -> Result<RunReport, RunError> {
    config.validate()?;
    let target = Target::parse(&config.url, config.transport)?;
    let control_target = config.control_target()?;
    // One socket per subscriber, two when publishing over POST; through a shaper (in this
    // process) each connection is three: the client's, and the shaper's two ends.
    let posting = config.publish_rate.is_some() && config.transport != Transport::Ws;
    let shaped = config.network.is_some_and(|n| n.link.is_some());
    raise_open_file_limit(
        config.clients * if posting { 2 } else { 1 } * if shaped { 3 } else { 1 },
    );
    let addr = target.resolve().await?;
    let control = match &control_target {
        Some(t) => Some((t.clone(), t.resolve().await?)),
        None => None,
    };
    let stats_client = control_target.as_ref().and_then(ControlClient::new);

    // Short polls start at random phases (not right after connecting), so that they are not
    // locked in phase with the server's ticker; the shaper's jitter is drawn from the same
    // seed. The seed goes into the report.
    let seed = config.seed.unwrap_or_else(fresh_seed);

    // A shaped network: the subscribers (and their publishers) dial a shaper in front of the
    // server, which `/stats` bypasses (its timing decides the window). The shapers live until
    // the run returns.
    let conn_total = config.clients * if posting { 2 } else { 1 };
    let shaping = ShapedRoute::start(&config, addr, control, seed, conn_total)?;
    let network = match config.network {
        Some(n) => Some(
            calibrate(
                n,
                shaping.straight_control.as_ref(),
                shaping.control_shaper.as_ref(),
            )
            .await,
        ),
        None => None,
    };
    let (addr, control) = (shaping.addr, shaping.control.clone());
    let poll_phases = if config.transport == Transport::ShortPoll {
        PollPhases::new(seed, config.poll_interval, config.clients)
    } else {
        PollPhases::default()
    };
    let start = Instant::now();
    let ramp = Duration::from_secs_f64((config.clients - 1) as f64 / config.connect_rate);
    let window_start = start + ramp + config.warmup;
    let clock = RunClock {
        start,
        start_unix_ns: now_unix_nanos(),
        window_start,
        window_end: window_start + config.duration,
    };
    let ctx = Arc::new(Ctx {
        transport: config.transport,
        target,
        addr,
        handshake: shaping.handshake,
        control,
        clock,
        poll_interval: config.poll_interval,
        poll_phases,
        long_poll_timeout: config.long_poll_timeout,
        publish_rate: config.publish_rate,
        connect_timeout: config.connect_timeout,
        run_id: clock.start_unix_ns ^ u64::from(std::process::id()),
        clients: config.clients,
        conn_counter: AtomicU64::new(0),
        window_seqs: Arc::new(WindowSeqs::default()),
    });

    let shard_count = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let shards: Vec<Arc<StatsShard>> = (0..shard_count).map(|_| Arc::default()).collect();
    let live = Arc::new(LiveCounters::default());
    let progress = Progress::start(config.progress, config.clients, clock, live.clone());

    let window_seqs = ctx.window_seqs.clone();
    if stats_client.is_none() {
        window_seqs.set_start(None);
        window_seqs.set_end(None);
    }
    let server_stats = stats_client.map(|c| {
        tokio::spawn(async move {
            tokio::time::sleep_until(clock.window_start.into()).await;
            let first = c.stats().await;
            window_seqs.set_start(first.as_ref().ok().map(|s| s.head_seq));
            tokio::time::sleep_until(clock.window_end.into()).await;
            let last = c.stats().await;
            window_seqs.set_end(last.as_ref().ok().map(|s| s.head_seq));
            (first, last)
        })
    });

    let outcome = collect(&config, &ctx, &shards, &live).await;
    drop(progress);
    let complete = outcome.as_ref().is_ok_and(|c| c.all_lost.is_none());
    // The server's counters at both ends of the window, and why there are none if so: a
    // server without `/stats` is measured too, by the seq range seen (the report's
    // `window_mode` and `window_fallback_reason`).
    let (server, no_stats) = match server_stats {
        Some(task) if complete => match task.await {
            Ok((Ok(first), Ok(last))) => ((Some(first), Some(last)), None),
            Ok((Err(e), _)) => ((None, None), Some(format!("no /stats: {e}"))),
            Ok((Ok(first), Err(e))) => (
                (Some(first), None),
                Some(format!("/stats failed at the window's end: {e}")),
            ),
            Err(e) => ((None, None), Some(format!("reading /stats failed: {e}"))),
        },
        Some(task) => {
            task.abort();
            ((None, None), Some("the run ended before its window".into()))
        }
        None if control_target.is_none() => (
            (None, None),
            Some("no /stats: tcp without --control-url".into()),
        ),
        None => (
            (None, None),
            Some("no /stats: its HTTP client could not be built".into()),
        ),
    };
    let collected = outcome?;

    let mut stats = Stats::new();
    for s in &shards {
        s.merge_into(&mut stats);
    }
    let all_lost = collected.all_lost.clone();
    let report = RunReport {
        network,
        ..build_report(
            &config,
            collected,
            &stats,
            server,
            no_stats,
            ctx.window_seqs.range(),
            seed,
        )
    };
    match all_lost {
        None => Ok(report),
        Some(reason) => Err(RunError::AllDisconnected {
            reason,
            partial: Some(Box::new(report)),
        }),
    }
}

/// What the subscribers left behind.
struct Collected {
    total: Tally,
    connected: u64,
    completed: u64,
    lagging: u64,
    disconnects: u64,
    /// Every subscriber was lost before the end: the first one's reason.
    all_lost: Option<String>,
}

async fn collect(
    config: &RunConfig,
    ctx: &Arc<Ctx>,
    shards: &[Arc<StatsShard>],
    live: &Arc<LiveCounters>,
) -> Result<Collected, RunError> {
    let clock = ctx.clock;
    let mut set = JoinSet::new();
    let mut next: u64 = 0;
    let mut c = Collected {
        total: Tally::default(),
        connected: 0,
        completed: 0,
        lagging: 0,
        disconnects: 0,
        all_lost: None,
    };
    let mut first_connect_error: Option<SubError> = None;
    let mut first_loss: Option<SubError> = None;
    let mut connect_failures: u64 = 0;
    let due = |i: u64| clock.start + Duration::from_secs_f64(i as f64 / config.connect_rate);
    let hard_stop = clock.window_end + DRAIN_MAX + STOP_GRACE;

    loop {
        tokio::select! {
            () = tokio::time::sleep_until(due(next).into()), if next < config.clients => {
                let now = Instant::now();
                while next < config.clients && due(next) <= now {
                    let shard = shards[(next as usize) % shards.len()].clone();
                    let meter = Meter::new(next, ctx, Recorder::new(shard, live.clone()));
                    set.spawn(subscriber(ctx.clone(), meter));
                    next += 1;
                }
            }
            Some(joined) = set.join_next(), if !set.is_empty() => {
                let Outcome { tally, end } = match joined {
                    Ok(o) => o,
                    Err(e) => return Err(RunError::Internal(format!("a subscriber task failed: {e}"))),
                };
                c.total.merge(&tally);
                match end {
                    End::Completed => {
                        c.connected += 1;
                        c.completed += 1;
                    }
                    End::Lost(e) => {
                        c.connected += 1;
                        if matches!(e, SubError::Lagging) {
                            c.lagging += 1;
                        } else {
                            c.disconnects += 1;
                        }
                        first_loss.get_or_insert(e);
                    }
                    End::ConnectFailed(e) => {
                        first_connect_error.get_or_insert(e);
                        connect_failures += 1;
                    }
                }
                // Nobody has managed to connect after this many tries: the server is not
                // there (or not this one). Say so now rather than after the whole ramp.
                if connect_failures >= FAIL_FAST_AFTER.min(config.clients)
                    && live.ever_connected.load(Ordering::Relaxed) == 0
                {
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    break;
                }
            }
            () = tokio::time::sleep_until(hard_stop.into()) => {
                let stuck = set.len() as u64;
                set.abort_all();
                *c.total.errors.entry("stuck at end".into()).or_default() += stuck;
                break;
            }
        }
        if next == config.clients && set.is_empty() {
            break;
        }
    }

    if c.completed == 0 {
        let url = config.url.clone();
        if c.connected == 0 {
            return Err(match first_connect_error {
                Some(SubError::Protocol(reason)) => RunError::Protocol { url, reason },
                Some(SubError::Status(code)) if code != 503 && code != 429 => RunError::Protocol {
                    url,
                    reason: format!("the {} endpoint answered HTTP {code}", config.transport),
                },
                Some(e) => RunError::Connect {
                    url,
                    reason: e.to_string(),
                },
                None => RunError::Internal("no subscriber ran".into()),
            });
        }
        match first_loss {
            Some(SubError::Protocol(reason)) => return Err(RunError::Protocol { url, reason }),
            // Built into an error with the partial report by `run`.
            Some(e) => c.all_lost = Some(e.to_string()),
            None => return Err(RunError::Internal("no subscriber completed".into())),
        }
    }
    Ok(c)
}

/// One subscriber task: the transport's [`Subscriber`](crate::transport::Subscriber) driven
/// by the shared measurement code.
async fn subscriber(ctx: Arc<Ctx>, meter: Meter) -> Outcome {
    match ctx.transport {
        Transport::Ws => drive::<WsSubscriber>(ctx, meter).await,
        Transport::Sse => drive::<SseSubscriber>(ctx, meter).await,
        Transport::LongPoll => drive::<LongPollSubscriber>(ctx, meter).await,
        Transport::ShortPoll => drive::<ShortPollSubscriber>(ctx, meter).await,
        Transport::Tcp => drive::<TcpSubscriber>(ctx, meter).await,
    }
}

/// Each subscriber holds one or two sockets; the default soft limit (often 1024) would stop a
/// run at a few hundred subscribers with "too many open files". Raises the soft limit to the
/// hard one.
fn raise_open_file_limit(sockets: u64) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < sockets + 64 => tracing::warn!(
            limit,
            sockets,
            "the open-file limit is too low for this many connections"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn build_report(
    config: &RunConfig,
    c: Collected,
    stats: &Stats,
    server: (Option<StatsSnapshot>, Option<StatsSnapshot>),
    no_stats: Option<String>,
    window_seqs: Option<(u64, u64)>,
    seed: u64,
) -> RunReport {
    let t = &c.total;
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
    let analytic = streaming_overhead(config.transport, 1, 1).map(|_| t.analytic_overhead_bytes);
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
        round_trip_us: summarize(&stats.round_trip),
        bytes_up_per_publish: ratio(t.publish.bytes_up, t.publish.sent),
        round_trip_histogram_b64: to_base64(&stats.round_trip),
    });
    let post_publishes = if config.transport == Transport::Ws {
        0
    } else {
        t.publish.sent
    };
    // Exact by seq when S0 and S1 are known: every connected subscriber should have received
    // each of the S1 − S0 events published in the window, by the end of its drain.
    let expected = window_seqs.map(|(s0, s1)| (s1 - s0) * c.connected);
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
        latency_us: summarize(&stats.latency),
        connect_us: summarize(&stats.connect),
        first_event_us: summarize(&stats.first_event),
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
        },
        requests: t.requests + post_publishes,
        requests_per_event: is_poll.then(|| ratio(t.requests, t.events)),
        empty_polls: t.empty_polls,
        empty_poll_share: is_poll.then(|| ratio(t.empty_polls, t.requests)),
        reconnects: t.reconnects,
        publish,
        latency_histogram_b64: to_base64(&stats.latency),
        seed: Some(seed),
        network: None,
    }
}

/// Where the subscribers and publishers connect: straight to the server, or to shapers in
/// front of it (one for the subscribers' address, one for the HTTP side's).
struct ShapedRoute {
    addr: std::net::SocketAddr,
    control: Option<(Target, std::net::SocketAddr)>,
    handshake: Duration,
    /// The HTTP side's real address, for calibration.
    straight_control: Option<(Target, std::net::SocketAddr)>,
    control_shaper: Option<Shaper>,
    _data_shaper: Option<Shaper>,
}

impl ShapedRoute {
    fn start(
        config: &RunConfig,
        addr: std::net::SocketAddr,
        control: Option<(Target, std::net::SocketAddr)>,
        seed: u64,
        conn_total: u64,
    ) -> Result<Self, RunError> {
        let Some(link) = config.network.and_then(|n| n.link) else {
            return Ok(Self {
                addr,
                control: control.clone(),
                handshake: Duration::ZERO,
                straight_control: control,
                control_shaper: None,
                _data_shaper: None,
            });
        };
        let shape = |upstream, seed| {
            Shaper::start(upstream, link, seed, conn_total)
                .map_err(|e| RunError::Internal(format!("cannot start the network shaper: {e}")))
        };
        let data = shape(addr, seed)?;
        let control_shaper = match &control {
            Some((_, a)) => Some(shape(*a, seed ^ 0x5A5A_5A5A_5A5A_5A5A)?),
            None => None,
        };
        Ok(Self {
            addr: data.addr(),
            control: control
                .as_ref()
                .zip(control_shaper.as_ref())
                .map(|((t, _), s)| (t.clone(), s.addr())),
            handshake: data.handshake(),
            straight_control: control,
            control_shaper,
            _data_shaper: Some(data),
        })
    }
}
