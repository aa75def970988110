//! The engine: plan the run, ramp up, warm up, measure, stop, hand over to the collector.
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
//! every subscriber in steady state. Each subscriber is one tokio task (`subscriber/drive.rs`)
//! that stops by itself after the window and its drain (until it has the window's last event,
//! seq `S1`; see `window_seq.rs`); the engine fixes the run's clock (`clock.rs`), has `S0` and
//! `S1` read from `/stats` (`control.rs`), spawns, passes each [`Outcome`](crate::subscriber::Outcome) to the collector,
//! and gives up on stragglers at the clock's stop.
//!
//! **A shaped network** (`--network`, `--rtt`): before the clock starts, the engine puts
//! shapers in front of the server (`network/route.rs`), times a few round trips through them
//! (calibration, in the report's `network`), and hands the subscribers and publishers the
//! shapers' addresses. `/stats` keeps the straight road: its reads mark the window, which must
//! not move with the link.
//!
//! Then the pipeline closes as in oha: the collector (`collector.rs`) sums the tallies, the
//! histogram shards are added into one set, and the collector builds the [`RunReport`]. When the first [`FAIL_FAST_AFTER`]
//! connects all fail, the run stops at once instead of ramping thousands of doomed connections.
//!
//! **One process or several.** [`run`] is [`measure`] of the whole run followed by the report.
//! A shard of a sharded run (`--shards`, [`crate::shards`]) calls [`measure`] with a [`Part`]:
//! only subscribers `first .. first + count` (their ids, connect times, poll phases and publish
//! schedules are those of the whole run), on a clock whose start is a wall-clock instant fixed
//! by the parent, so that every shard ramps, warms up and opens and closes the window together.
//! It hands back the [`Measured`] raw material, and the parent gives the verdict and builds the
//! one report. A shard does not fail fast, and keeps the window's reads of `/stats` when its own
//! subscribers are gone: the run's fate is the sum of the shards'.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use rtlab_wire::{Transport, now_unix_nanos};
use tokio::task::JoinSet;

use crate::churn;
use crate::clock::RunClock;
use crate::collector::{Collector, RunFacts, expected_in_range};
use crate::config::{RunConfig, Target};
use crate::control::{ControlClient, WindowReads};
use crate::dispatch::{FAIL_FAST_AFTER, stalled_subscriber, subscriber};
use crate::error::RunError;
use crate::histograms::{HistogramShard, LatencyHistograms};
use crate::network::calibrate::calibrate;
use crate::network::route::ShapedRoute;
use crate::poll_phase::{PollPhases, fresh_seed};
use crate::progress::Progress;
use crate::recorder::{LiveCounters, Recorder};
use crate::report::RunReport;
use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::Meter;
use crate::transport::h2_pool::H2Pool;
use crate::window_seq::WindowSeqs;

/// Which of the run's subscribers this process opens, and when the run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The first subscriber's id (ids are the whole run's, so each keeps its connect time, poll
    /// phase and publish schedule).
    pub first: u64,
    /// How many subscribers, from `first` on.
    pub count: u64,
    /// The run's start (its first connection is due then), ns since the Unix epoch; `None`:
    /// now. Shards share one, so that their windows coincide.
    pub start_unix_ns: Option<u64>,
}

impl Part {
    /// Whether this is a shard of a larger run (its start fixed by a parent): its subscribers'
    /// fate is not the run's, so it neither fails fast nor gives up the window's reads.
    pub fn is_shard(&self) -> bool {
        self.start_unix_ns.is_some()
    }

    /// The whole run, starting now.
    pub fn whole(config: &RunConfig) -> Self {
        Self {
            first: 0,
            count: config.clients,
            start_unix_ns: None,
        }
    }
}

/// What one process measured, before any verdict or report: the collector's sums, the
/// histograms and the facts around them. [`Collector::finish`] and [`Collected::report`](crate::collector::Collected::report) turn it
/// (or several merged) into the report.
#[derive(Debug)]
pub struct Measured {
    /// The subscribers' outcomes, summed.
    pub collector: Collector,
    /// Their distributions.
    pub histograms: LatencyHistograms,
    /// The window, the server's counters, the seed, the network.
    pub facts: RunFacts,
}

/// Runs one load test and returns its report. Call it inside a tokio runtime (a multi-threaded
/// one, so that subscribers spread over the cores).
pub async fn run(config: RunConfig) -> Result<RunReport, RunError> {
    let m = measure(&config, Part::whole(&config)).await?;
    m.collector
        .finish(&config)?
        .report(&config, &m.histograms, m.facts)
}

/// Runs the subscribers of `part` of the run `config` describes and returns what they measured,
/// before the verdict ([`Collector::finish`]: did anything connect, complete?). [`run`] is this
/// for the whole run, plus the verdict and the report.
pub async fn measure(config: &RunConfig, part: Part) -> Result<Measured, RunError> {
    config.validate()?;
    if part.count == 0 || part.first.saturating_add(part.count) > config.clients {
        return Err(RunError::Config(format!(
            "subscribers {} .. {} are not within the run's {}",
            part.first,
            part.first.saturating_add(part.count),
            config.clients
        )));
    }
    let target = Target::parse(&config.url, config.transport)?;
    let control_target = config.control_target()?;
    // One socket per subscriber, two when publishing over POST; through a shaper (in this
    // process) each connection is three: the client's, and the shaper's two ends.
    let posting = config.publish_rate.is_some() && config.transport != Transport::Ws;
    let per_subscriber = if posting { 2 } else { 1 };
    let shaped = config.network.is_some_and(|n| n.link.is_some());
    raise_open_file_limit(part.count * per_subscriber * if shaped { 3 } else { 1 });
    let addr = target.resolve().await?;
    let control = match &control_target {
        Some(t) => Some((t.clone(), t.resolve().await?)),
        None => None,
    };
    let (tls, control_tls) = config.tls_connectors(&target, control_target.as_ref())?;
    let stats_tls = match control_target.as_ref().is_some_and(|t| t.tls) {
        true => Some(crate::tls::client_config(
            &config.tls,
            &[crate::tls::ALPN_HTTP1],
        )?),
        false => None,
    };
    let stats_client = control_target
        .as_ref()
        .and_then(|t| ControlClient::new(t, stats_tls));

    // Short polls start at random phases (not right after connecting), so that they are not
    // locked in phase with the server's ticker; the shaper's jitter is drawn from the same
    // seed. The seed goes into the report.
    let seed = config.seed.unwrap_or_else(fresh_seed);

    // A shaped network: the subscribers (and their publishers) dial a shaper in front of the
    // server, which `/stats` bypasses (its timing decides the window). The shapers live until
    // the run returns.
    let conn_total = part.count * per_subscriber;
    let route = ShapedRoute::start(config, addr, control, seed, conn_total)?;
    let network = match config.network {
        Some(n) => Some(
            calibrate(
                n,
                route.straight_control.as_ref(),
                route.control_shaper.as_ref(),
                control_tls.as_ref(),
            )
            .await,
        ),
        None => None,
    };
    let poll_phases = if config.transport == Transport::ShortPoll {
        PollPhases::new(seed, config.poll_interval, config.clients)
    } else {
        PollPhases::default()
    };
    if config.churn.is_some() && part.is_shard() {
        return Err(RunError::Config(
            "--churn runs in one process (without --shards)".into(),
        ));
    }
    let clock = match config.churn {
        Some(_) => churn::plan_clock(config),
        None => plan_clock(config, part.start_unix_ns),
    };
    let ctx = Arc::new(Ctx {
        transport: config.transport,
        target,
        addr: route.addr,
        handshake: route.handshake,
        control: route.control.clone(),
        clock,
        poll_interval: config.poll_interval,
        poll_phases,
        long_poll_timeout: config.long_poll_timeout,
        publish_rate: config.publish_rate,
        connect_timeout: config.connect_timeout,
        run_id: clock.start_unix_ns ^ u64::from(std::process::id()),
        // A churn cycle is a subscriber of its own (its id, its connection).
        clients: config.churn.unwrap_or(config.clients),
        // Connection numbers pick source addresses: a shard's continue the shards' before it.
        conn_counter: AtomicU64::new(part.first * per_subscriber),
        window_seqs: Arc::new(WindowSeqs::default()),
        tls,
        control_tls,
        http: config.http,
        h2_pool: H2Pool::new(config.streams_per_connection),
        // A churn cycle that drops has failed: that is what a churn counts.
        reconnect_give_up: config.reconnect_give_up.filter(|_| config.churn.is_none()),
    });

    let shard_count = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let shards: Vec<Arc<HistogramShard>> = (0..shard_count).map(|_| Arc::default()).collect();
    let live = Arc::new(LiveCounters::default());
    let progress = Progress::start(config.progress, part.count, clock, live.clone());
    let window_reads = WindowReads::start(
        stats_client,
        control_target.is_some(),
        clock,
        ctx.window_seqs.clone(),
    );

    let collector = match config.churn {
        Some(cycles) => Ok(churn::run_cycles(config, cycles, &ctx, &shards, &live).await),
        None => spawn_subscribers(config, part, &ctx, &shards, &live).await,
    };
    drop(progress);
    // A run whose subscribers all ended before the window abandons its reads of /stats; a shard
    // keeps them, because the run goes on in the other shards.
    let complete = collector
        .as_ref()
        .is_ok_and(|c| c.completed() > 0 || part.is_shard());
    // A churn has no steady window: its /stats reads are abandoned when the cycles are done.
    let mut server = window_reads
        .finish(complete && config.churn.is_none())
        .await;
    if config.churn.is_some() {
        server.fallback_reason = Some("a churn has no steady window: /stats is not read".into());
    }
    let collector = collector?;
    let window_seqs = ctx.window_seqs.range();
    let mut histograms = LatencyHistograms::new();
    for s in &shards {
        s.merge_into(&mut histograms);
    }
    Ok(Measured {
        facts: RunFacts {
            server,
            window_seqs,
            expected_in_range: expected_in_range(window_seqs, collector.connected()),
            seed,
            network,
        },
        collector,
        histograms,
    })
}

/// The run's time line: the ramp at the connect rate, then the warm-up, then the window. The
/// ramp is the whole run's (a shard's subscribers keep their places on the grid). With a start
/// instant given (a shard's), the clock runs from it, whether it is still ahead or just past.
fn plan_clock(config: &RunConfig, start_unix_ns: Option<u64>) -> RunClock {
    let (now, now_ns) = (Instant::now(), now_unix_nanos());
    let (start, start_unix_ns) = match start_unix_ns {
        Some(at) if at >= now_ns => (now + Duration::from_nanos(at - now_ns), at),
        Some(at) => {
            let late = Duration::from_nanos(now_ns - at);
            tracing::warn!(?late, "this shard is ready after the run's start");
            (now.checked_sub(late).unwrap_or(now), at)
        }
        None => (now, now_ns),
    };
    let ramp = Duration::from_secs_f64((config.clients - 1) as f64 / config.connect_rate);
    let window_start = start + ramp + config.warmup;
    RunClock {
        start,
        start_unix_ns,
        window_start,
        window_end: window_start + config.duration,
    }
}

/// Opens the subscribers on the connect-rate grid and hands each outcome to the collector,
/// until all have ended, the first connects all failed, or the clock's stop.
async fn spawn_subscribers(
    config: &RunConfig,
    part: Part,
    ctx: &Arc<Ctx>,
    shards: &[Arc<HistogramShard>],
    live: &Arc<LiveCounters>,
) -> Result<Collector, RunError> {
    let clock = ctx.clock;
    let mut set = JoinSet::new();
    let mut next: u64 = part.first;
    let end = part.first + part.count;
    let mut collector = Collector::default();
    collector.mark_clock(&clock);
    let due = |i: u64| clock.start + Duration::from_secs_f64(i as f64 / config.connect_rate);
    let hard_stop = clock.stop();

    loop {
        tokio::select! {
            () = tokio::time::sleep_until(due(next).into()), if next < end => {
                let now = Instant::now();
                while next < end && due(next) <= now {
                    if next < config.stalled {
                        // A stalled subscriber's samples go to a shard of its own, never
                        // merged: the run's histograms are the healthy subscribers'.
                        let own = Arc::new(HistogramShard::default());
                        let meter = Meter::new(next, ctx, Recorder::new(own, live.clone()));
                        set.spawn(stalled_subscriber(ctx.clone(), meter));
                    } else {
                        let shard = shards[(next as usize) % shards.len()].clone();
                        let meter = Meter::new(next, ctx, Recorder::new(shard, live.clone()));
                        set.spawn(subscriber(ctx.clone(), meter));
                    }
                    next += 1;
                }
            }
            Some(joined) = set.join_next(), if !set.is_empty() => {
                let outcome = joined.map_err(|e| {
                    RunError::Internal(format!("a subscriber task failed: {e}"))
                })?;
                collector.push(outcome);
                // Nobody has managed to connect after this many tries: the server is not
                // there (or not this one). Say so now rather than after the whole ramp. (Not in
                // a shard: other shards' subscribers may have connected, and then these
                // failures are data, counted in full.)
                if !part.is_shard()
                    && collector.connect_failures() >= FAIL_FAST_AFTER.min(part.count)
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
                collector.stuck(stuck);
                break;
            }
        }
        if next == end && set.is_empty() {
            break;
        }
    }
    Ok(collector)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_start_fixes_the_clock_whether_ahead_or_past() {
        let config = RunConfig {
            clients: 11,
            connect_rate: 10.0,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(3),
            ..RunConfig::new(Transport::Ws, "http://127.0.0.1:1")
        };
        let second = 1_000_000_000;
        let now_ns = now_unix_nanos();
        let ahead = plan_clock(&config, Some(now_ns + 10 * second));
        assert_eq!(ahead.start_unix_ns, now_ns + 10 * second);
        assert!(ahead.start > Instant::now() + Duration::from_secs(5));
        // The whole run's ramp (10 connections after the first at 10/s), then the warm-up.
        assert_eq!(ahead.window_start - ahead.start, Duration::from_secs(1 + 2));
        assert_eq!(
            ahead.window_end - ahead.window_start,
            Duration::from_secs(3)
        );
        let past = plan_clock(&config, Some(now_ns - 10 * second));
        assert_eq!(past.start_unix_ns, now_ns - 10 * second);
        assert!(past.start + Duration::from_secs(5) < Instant::now());
        let now = plan_clock(&config, None);
        assert!(now.start_unix_ns >= now_ns);
    }

    #[test]
    fn a_part_outside_the_run_is_a_config_error() {
        let config = RunConfig {
            clients: 4,
            ..RunConfig::new(Transport::Ws, "http://127.0.0.1:1")
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for (first, count) in [(0, 0), (3, 2), (u64::MAX, 2)] {
            let part = Part {
                first,
                count,
                start_unix_ns: None,
            };
            let e = rt.block_on(measure(&config, part)).unwrap_err();
            assert!(e.is_usage(), "{e}");
        }
    }
}
