//! Churn: subscribers that connect, wait for their first event and disconnect, over and over
//! (`--churn CYCLES`).
//!
//! A real feed's audience is not a fixed set of connections: pages are opened and closed, phones
//! switch networks, proxies recycle connections. Each arrival costs the server an accept, a
//! handshake, a subscription and its teardown, and a server that leaks any of them (a file
//! descriptor, a queue, a task) is fine for ten minutes of steady load and dead after a day of
//! churn. A churn run exercises exactly that: `clients` workers each loop *connect → first
//! event → disconnect* until `CYCLES` cycles have been run in all (or `--duration` has passed),
//! and the report says how many were done, how fast, how long each took from connect to first
//! event (the report's `first_event_us`), and what failed, by kind (`errors`). The server's side
//! (its open files and memory before and after) is for the lab to read (`rtlab run --suite
//! reliability`).
//!
//! Each cycle is a subscriber of its own, with its own id and connection number: beyond 20 000
//! connections the client spreads its source addresses over 127.0.0.0/8 (`source_addr.rs`), so
//! closed connections waiting in TIME_WAIT do not run the run out of ephemeral ports. A cycle
//! is driven by the same loop as any subscriber (`subscriber/drive.rs`), with a meter told to
//! stop at its first event.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtlab_wire::now_unix_nanos;
use tokio::task::JoinSet;

use crate::clock::RunClock;
use crate::collector::Collector;
use crate::config::RunConfig;
use crate::dispatch::{FAIL_FAST_AFTER, subscriber};
use crate::histograms::HistogramShard;
use crate::recorder::{LiveCounters, Recorder};
use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::Meter;

/// A churn's time line: it starts now, without ramp or warm-up (the cycles are what is
/// measured), and `--duration` bounds it.
pub fn plan_clock(config: &RunConfig) -> RunClock {
    let (start, start_unix_ns) = (Instant::now(), now_unix_nanos());
    RunClock {
        start,
        start_unix_ns,
        window_start: start,
        window_end: start + config.duration,
    }
}

/// Runs `cycles` connect → first event → disconnect cycles over `config.clients` workers, and
/// returns their outcomes summed.
pub async fn run_cycles(
    config: &RunConfig,
    cycles: u64,
    ctx: &Arc<Ctx>,
    shards: &[Arc<HistogramShard>],
    live: &Arc<LiveCounters>,
) -> Collector {
    let next = Arc::new(AtomicU64::new(0));
    let failed_fast = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for w in 0..config.clients.min(cycles) {
        let (ctx, next, live, failed_fast) =
            (ctx.clone(), next.clone(), live.clone(), failed_fast.clone());
        let shard = shards[(w as usize) % shards.len()].clone();
        // Workers start on the connect-rate grid, as a steady run's subscribers do.
        let start = ctx.clock.start + Duration::from_secs_f64(w as f64 / config.connect_rate);
        workers.spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            let mut collector = Collector::default();
            collector.mark_clock(&ctx.clock);
            loop {
                let id = next.fetch_add(1, Ordering::Relaxed);
                if id >= cycles || Instant::now() >= ctx.clock.window_end {
                    break;
                }
                // Nobody connects at all: the server is not there; stop rather than churn on.
                if failed_fast.load(Ordering::Relaxed) >= FAIL_FAST_AFTER
                    && live.ever_connected.load(Ordering::Relaxed) == 0
                {
                    break;
                }
                let mut meter = Meter::new(id, &ctx, Recorder::new(shard.clone(), live.clone()));
                meter.stop_at_first_event();
                let mut outcome = subscriber(ctx.clone(), meter).await;
                // A cycle's last seq says nothing about a tail: it left at its first event.
                outcome.tally.last_seqs.clear();
                if matches!(outcome.end, crate::subscriber::End::ConnectFailed(_)) {
                    failed_fast.fetch_add(1, Ordering::Relaxed);
                }
                collector.push(outcome);
            }
            collector
        });
    }
    let mut total = Collector::default();
    total.mark_clock(&ctx.clock);
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(c) => total.merge(c),
            Err(e) => tracing::error!(error = %e, "a churn worker failed"),
        }
    }
    total
}
