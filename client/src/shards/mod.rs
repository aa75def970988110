//! Client shards: one run's subscribers split over several client processes, merged exactly.
//!
//! (Not to be confused with the *histogram* shards inside one process, `HistogramShard`: those
//! split the recording over locks; these split the subscribers over processes. Both merge the
//! same exact way.)
//!
//! **Why.** One process may hold at most 20 000 open files (a hard limit that an unprivileged
//! process cannot raise), and a single client process on one core can itself be the bottleneck
//! at 10 000 subscribers. `--shards N` splits the subscribers over N child processes, each with
//! its own file table and its own threads.
//!
//! **How, so that the result is the same run.**
//!
//! ```text
//!  parent: fix seed + start instant T ─┬─ shard 0: subscribers 0 .. k     ─┐
//!                                      ├─ shard 1: subscribers k .. 2k    ─┼─ merge ─► one RunReport
//!                                      └─ shard N-1: …                    ─┘
//! ```
//!
//! - Each shard runs a contiguous range of the run's subscriber ids (`engine::Part`), so each
//!   subscriber keeps the connect time, poll phase, source-address range and publish schedule
//!   it would have had in one process; the parent fixes the seed, so all shards draw the same
//!   phases. (So the shards ramp up one after the other, on the run's one connect grid: what is
//!   split is the file table and the work of the window, not the ramp.)
//! - All shards run on one clock: the parent fixes the run's start as a wall-clock instant a
//!   moment ahead ([`start_lead`]), and every shard's `RunClock` starts then, so they ramp, warm
//!   up, and open and close the window together. Each shard reads `/stats` at the window's
//!   edges itself.
//! - A shard answers with raw material, not a report ([`protocol`]), and the parent merges it
//!   exactly ([`merge`]): counts sum, HdrHistograms add, the expected in-range events are each
//!   shard's own summed. The report is then built by the collector's one builder, so a sharded
//!   report has exactly the form and meaning of an unsharded one. Percentiles are never averaged.
//! - A shard process that fails (cannot start, crashes, answers late) fails the run with its
//!   one-line reason ([`spawn`]); the others are killed, as is every shard when the parent goes
//!   away. A shard whose subscribers could not connect has not failed: that is data, and the
//!   parent's verdict on the merged counts decides, as in one process.
//!
//! What differs from one process: a run whose server is not there fails only after every shard
//! has tried all its subscribers (a shard cannot fail fast: others may connect), the first
//! failure named is the first shard's rather than the earliest, and a shaped network
//! (`--network`) has a shaper and a calibration per shard (the report shows shard 0's).
//!
//! Run with `rtlab-client -t ws --clients 10000 --shards 2`; the lab runner's
//! `rtlab run --client-shards 2` does the same for each case.

pub mod merge;
pub mod protocol;
pub mod spawn;
pub mod worker;

use std::time::Duration;

use futures_util::future::try_join_all;
use rtlab_wire::now_unix_nanos;

use crate::clock::{DRAIN_MAX, STOP_GRACE};
use crate::config::RunConfig;
use crate::engine::Part;
use crate::error::RunError;
use crate::network::calibrate::ROUND_TRIPS;
use crate::poll_phase::fresh_seed;
use crate::report::RunReport;
use protocol::ShardSpec;
pub use spawn::ShardProgram;

/// Most shards one run may have: far more than the cores of a lab machine.
pub const MAX_SHARDS: u32 = 64;
/// Time from the parent's decision to the run's start: enough for a child process to start,
/// read its spec and resolve the server, even on a loaded machine. A shard that is late anyway
/// still runs on the same clock (its first connections open at once, in a burst).
pub const START_LEAD: Duration = Duration::from_secs(1);
/// How long after its window and drain a shard may take to answer before it is killed.
pub const FINISH_SLACK: Duration = Duration::from_secs(30);

/// Runs `config` split over `shards` processes started by `program`, and builds the one report
/// from their merged measurements. Each shard's process id goes to `program.pids` (if set).
pub async fn run_sharded(
    mut config: RunConfig,
    shards: u32,
    program: ShardProgram,
) -> Result<RunReport, RunError> {
    config.validate()?;
    check_shards(shards, config.clients)?;
    // Every shard must draw the same poll phases and jitter: one seed for all.
    config.seed = Some(config.seed.unwrap_or_else(fresh_seed));
    config.progress = false;
    let lead = start_lead(&config);
    let start_unix_ns = now_unix_nanos().saturating_add(nanos(lead));
    let limit = lead + run_length(&config) + FINISH_SLACK;
    let specs = split(&config, shards, start_unix_ns);
    let answers = try_join_all(specs.iter().map(|spec| async {
        spawn::run_shard(&program, spec, limit)
            .await
            .map_err(|reason| RunError::Shard {
                index: spec.index,
                shards,
                reason,
            })
    }))
    .await?;
    let mut measured = Vec::with_capacity(answers.len());
    for (index, answer) in (0..).zip(answers) {
        measured.push(answer.decode().map_err(|e| RunError::Shard {
            index,
            shards,
            reason: e.to_string(),
        })?);
    }
    let m = merge::merge(measured).ok_or_else(|| RunError::Internal("no shard ran".into()))?;
    m.collector
        .finish(&config)?
        .report(&config, &m.histograms, m.facts)
}

/// Checks a shard count against the run: 1 ≤ `shards` ≤ `clients` and ≤ [`MAX_SHARDS`].
pub fn check_shards(shards: u32, clients: u64) -> Result<(), RunError> {
    if shards == 0 || shards > MAX_SHARDS || u64::from(shards) > clients {
        return Err(RunError::Config(format!(
            "--shards must be between 1 and {} (at most one per client), not {shards}",
            clients.min(u64::from(MAX_SHARDS))
        )));
    }
    Ok(())
}

/// The shards' specs: `clients` split into `shards` contiguous ranges whose sizes differ by at
/// most one, all starting at `start_unix_ns`; shard *k* dials the *k*-th of `url` and
/// `spread_urls`, round robin.
pub fn split(config: &RunConfig, shards: u32, start_unix_ns: u64) -> Vec<ShardSpec> {
    let n = u64::from(shards);
    let (base, extra) = (config.clients / n, config.clients % n);
    let urls: Vec<&String> = std::iter::once(&config.url)
        .chain(&config.spread_urls)
        .collect();
    let mut first = 0;
    (0..shards)
        .map(|index| {
            let count = base + u64::from(u64::from(index) < extra);
            let part = Part {
                first,
                count,
                start_unix_ns: Some(start_unix_ns),
            };
            first += count;
            let config = RunConfig {
                url: urls[index as usize % urls.len()].clone(),
                spread_urls: Vec::new(),
                ..config.clone()
            };
            ShardSpec {
                config,
                part,
                index,
                shards,
            }
        })
        .collect()
}

/// How far ahead the run's start is fixed: [`START_LEAD`], plus the calibration of a shaped
/// network, which each shard does before its clock starts.
pub fn start_lead(config: &RunConfig) -> Duration {
    let calibration = config
        .network
        .and_then(|n| n.link)
        .map_or(Duration::ZERO, |l| {
            // Each calibration round trip crosses the link once each way, jitter included; twice
            // that leaves room for the rate limit and a slow start.
            (l.rtt + l.jitter) * 2 * u32::try_from(ROUND_TRIPS).unwrap_or(u32::MAX)
        });
    START_LEAD + calibration
}

/// The run's length from its start to the engine's hard stop: the ramp, the warm-up, the window,
/// the longest drain and the grace.
fn run_length(config: &RunConfig) -> Duration {
    let ramp = Duration::from_secs_f64((config.clients - 1) as f64 / config.connect_rate);
    ramp + config.warmup + config.duration + DRAIN_MAX + STOP_GRACE
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use rtlab_wire::Transport;

    use super::*;

    #[test]
    fn subscribers_split_into_contiguous_ranges_that_cover_the_run() {
        let config = RunConfig {
            clients: 10,
            ..RunConfig::new(Transport::Ws, "http://127.0.0.1:1")
        };
        let specs = split(&config, 3, 42);
        let parts: Vec<(u64, u64)> = specs.iter().map(|s| (s.part.first, s.part.count)).collect();
        assert_eq!(parts, [(0, 4), (4, 3), (7, 3)]);
        assert!(specs.iter().all(|s| s.part.start_unix_ns == Some(42)));
        assert_eq!(specs[2].index, 2);
        assert!(specs.iter().all(|s| s.config.url == "http://127.0.0.1:1"));
    }

    #[test]
    fn shards_dial_the_spread_urls_round_robin() {
        let config = RunConfig {
            clients: 10,
            spread_urls: vec!["http://127.0.0.1:2".into()],
            ..RunConfig::new(Transport::Sse, "http://127.0.0.1:1")
        };
        let urls: Vec<String> = split(&config, 3, 0)
            .into_iter()
            .map(|s| {
                assert!(s.config.spread_urls.is_empty());
                s.config.url
            })
            .collect();
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:1",
                "http://127.0.0.1:2",
                "http://127.0.0.1:1"
            ]
        );
    }

    #[test]
    fn shard_counts_are_checked_against_the_run() {
        assert!(check_shards(1, 1).is_ok());
        assert!(check_shards(64, 1000).is_ok());
        for (shards, clients) in [(0, 10), (65, 1000), (3, 2)] {
            let e = check_shards(shards, clients).unwrap_err();
            assert!(e.is_usage(), "{e}");
        }
    }
}
