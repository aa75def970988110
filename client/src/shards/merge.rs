//! The exact merge: several shards' measurements become one, as if one process had run them all.
//!
//! Everything a shard hands back either *adds* or has an obvious *extreme*:
//!
//! - counts (events, bytes, requests, connected, lost, errors by kind…) are summed
//!   ([`Collector::merge`](crate::collector::Collector::merge), the collector's own
//!   `push`/`merge`), before the verdict, so that a shard whose subscribers could not connect
//!   is counted as one process would count it (the run fails only if nobody anywhere could);
//! - HdrHistograms are added bucket by bucket (`LatencyHistograms::merge`), so the merged p99 is
//!   the p99 of every sample of every shard. Averaging the shards' p99s would not be: two shards
//!   with p99s of 1 ms and 100 ms do not have a run p99 of 50.5 ms;
//! - the window: each shard read `/stats` itself, so the shards' `S0`s (and `S1`s) may differ by
//!   the few events published between their reads. The merged report spans them all (the
//!   earliest `S0`, the latest `S1`, and the server's counters read at those two), while the
//!   events the subscribers should have received in range are the sum of each shard's own
//!   `(S1 − S0) × connected`: each shard's accounting is exact for its own window, so the sum is
//!   exact, and `undelivered` and `delivery_ratio` keep their meaning. If any shard has no exact
//!   window, the merged run has none either (it falls back as a whole, as one process would).

use crate::collector::RunFacts;
use crate::control::ServerWindow;
use crate::engine::Measured;

/// Merges the shards' measurements, in shard order; `None` for no shards.
pub fn merge(shards: Vec<Measured>) -> Option<Measured> {
    let mut shards = shards.into_iter();
    let mut total = shards.next()?;
    for m in shards {
        total.collector.merge(m.collector);
        total.histograms.merge(&m.histograms);
        total.facts = merge_facts(total.facts, m.facts);
    }
    Some(total)
}

/// The run's facts from two shards': the widest window, the summed expectation, the first
/// shard's seed (they all have the parent's) and network calibration.
fn merge_facts(a: RunFacts, b: RunFacts) -> RunFacts {
    let window_seqs = match (a.window_seqs, b.window_seqs) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
        _ => None,
    };
    let expected_in_range = match (a.expected_in_range, b.expected_in_range) {
        (Some(x), Some(y)) if window_seqs.is_some() => Some(x + y),
        _ => None,
    };
    RunFacts {
        server: merge_server(a.server, b.server),
        window_seqs,
        expected_in_range,
        seed: a.seed,
        network: a.network.or(b.network),
    }
}

/// The server's counters at the earliest start read and the latest end read.
fn merge_server(a: ServerWindow, b: ServerWindow) -> ServerWindow {
    let first = match (a.first, b.first) {
        (Some(x), Some(y)) => Some(if y.head_seq < x.head_seq { y } else { x }),
        _ => None,
    };
    let last = match (a.last, b.last) {
        (Some(x), Some(y)) => Some(if y.head_seq > x.head_seq { y } else { x }),
        _ => None,
    };
    ServerWindow {
        first,
        last,
        fallback_reason: a.fallback_reason.or(b.fallback_reason),
    }
}

#[cfg(test)]
mod tests {
    use rtlab_wire::{StatsSnapshot, Transport};

    use super::*;
    use crate::collector::{Collector, expected_in_range};
    use crate::config::RunConfig;
    use crate::histograms::{LatencyHistograms, summarize};
    use crate::sample::Sample;
    use crate::shards::protocol::ShardOutcome;
    use crate::subscriber::{End, Outcome};
    use crate::tally::{ResumeTally, Tally};
    use crate::transport::SubError;

    fn config() -> RunConfig {
        RunConfig::new(Transport::Sse, "http://127.0.0.1:1")
    }

    fn collector(ends: Vec<End>, events: u64, in_range: u64) -> Collector {
        let mut c = Collector::default();
        for end in ends {
            let mut tally = Tally {
                events,
                in_range,
                ..Tally::default()
            };
            if let End::ConnectFailed(e) = &end {
                tally = Tally::default();
                tally.error(e.kind());
            }
            c.push(Outcome {
                tally,
                end,
                lost_at_unix_ns: None,
            });
        }
        c
    }

    fn stats(head_seq: u64, events_published: u64) -> StatsSnapshot {
        StatsSnapshot {
            head_seq,
            events_published,
            ..StatsSnapshot::default()
        }
    }

    /// One shard with `ends`, latencies `values`, window `(s0, s1)`; it crosses the process
    /// boundary's encoding and back, as in a real run.
    fn shard(ends: Vec<End>, values: &[u64], (s0, s1): (u64, u64)) -> Measured {
        let mut histograms = LatencyHistograms::new();
        for &v in values {
            histograms.push(Sample::Latency(v));
        }
        let collector = collector(ends, 10, s1 - s0);
        let window_seqs = Some((s0, s1));
        let facts = RunFacts {
            server: ServerWindow {
                first: Some(stats(s0, s0)),
                last: Some(stats(s1, s1)),
                fallback_reason: None,
            },
            window_seqs,
            expected_in_range: expected_in_range(window_seqs, collector.connected()),
            seed: 7,
            network: None,
        };
        let outcome = ShardOutcome::from(Measured {
            collector,
            histograms,
            facts,
        });
        let json = serde_json::to_string(&outcome).unwrap();
        serde_json::from_str::<ShardOutcome>(&json)
            .unwrap()
            .decode()
            .unwrap()
    }

    #[test]
    fn histograms_add_exactly_and_counts_sum() {
        let a: Vec<u64> = (1..=100).collect();
        let b: Vec<u64> = (1..=900).map(|v| v * 37).collect();
        let merged = merge(vec![
            shard(vec![End::Completed, End::Completed], &a, (10, 60)),
            shard(
                vec![End::Completed, End::Lost(SubError::Lagging)],
                &b,
                (12, 63),
            ),
        ])
        .unwrap();
        let mut all = LatencyHistograms::new();
        for &v in a.iter().chain(&b) {
            all.push(Sample::Latency(v));
        }
        let (m, h) = (&merged.histograms.latency, &all.latency);
        // Max is HdrHistogram's (the top of its bucket, within 0.1 %), the same either way.
        assert_eq!((m.len(), m.min(), m.max()), (1000, 1, h.max()));
        assert!(m.max() >= 900 * 37);
        assert_eq!(m.value_at_quantile(0.99), h.value_at_quantile(0.99));
        assert_eq!(summarize(m), summarize(h));

        // The widest window; the expectation is each shard's own, summed.
        let f = &merged.facts;
        assert_eq!(f.window_seqs, Some((10, 63)));
        assert_eq!(f.expected_in_range, Some(50 * 2 + 51 * 2));
        assert_eq!(f.server.first.as_ref().map(|s| s.head_seq), Some(10));
        assert_eq!(f.server.last.as_ref().map(|s| s.head_seq), Some(63));

        let collected = merged.collector.finish(&config()).unwrap();
        let report = collected
            .report(&config(), &merged.histograms, merged.facts)
            .unwrap();
        assert_eq!((report.connected, report.completed), (4, 3));
        assert_eq!(report.lagging_disconnects, 1);
        assert_eq!(report.events_received, 40);
        assert_eq!(report.events_in_range, 50 * 2 + 51 * 2);
        assert_eq!(report.undelivered, Some(0));
        assert_eq!(report.delivery_ratio, 1.0);
        assert_eq!(
            (report.window_seq_start, report.window_seq_end),
            (Some(10), Some(63))
        );
        assert_eq!(report.server_events_published, 53);
        assert_eq!(report.latency_us.count, 1000);
    }

    /// A shard of one completed subscriber that reconnected `times` (µs each) with `resume`,
    /// through the process boundary's encoding and back.
    fn reconnecting_shard(times: &[u64], resume: ResumeTally) -> Measured {
        let mut histograms = LatencyHistograms::new();
        for &t in times {
            histograms.push(Sample::Reconnect(t));
        }
        let mut collector = Collector::default();
        collector.push(Outcome {
            tally: Tally {
                resume,
                ..Tally::default()
            },
            end: End::Completed,
            lost_at_unix_ns: None,
        });
        let facts = RunFacts {
            server: ServerWindow::default(),
            window_seqs: None,
            expected_in_range: None,
            seed: 7,
            network: None,
        };
        let json = serde_json::to_string(&ShardOutcome::from(Measured {
            collector,
            histograms,
            facts,
        }))
        .unwrap();
        serde_json::from_str::<ShardOutcome>(&json)
            .unwrap()
            .decode()
            .unwrap()
    }

    #[test]
    fn reconnects_merge_exactly_across_shards() {
        let a: Vec<u64> = (1..=30).map(|v| v * 1_000).collect();
        let b: Vec<u64> = (1..=70).map(|v| v * 53_000).collect();
        let resume = |n: u64| ResumeTally {
            drops: n + 1,
            reconnects: n,
            gave_up: 1,
            lost_across: 2 * n,
            duplicates_across: 3 * n,
            feed_restarts: n / 10,
            connections: n,
        };
        let merged = merge(vec![
            reconnecting_shard(&a, resume(30)),
            reconnecting_shard(&b, resume(70)),
        ])
        .unwrap();
        let mut all = LatencyHistograms::new();
        for &v in a.iter().chain(&b) {
            all.push(Sample::Reconnect(v));
        }
        let report = merged
            .collector
            .finish(&config())
            .unwrap()
            .report(&config(), &merged.histograms, merged.facts)
            .unwrap();
        let r = report.resume.unwrap();
        assert_eq!(r.time_to_reconnect_us, summarize(&all.reconnect));
        assert_eq!(r.time_to_reconnect_us.count, 100);
        assert_eq!(
            (r.drops, r.count, r.gave_up, r.feed_restarts),
            (102, 100, 2, 10)
        );
        assert_eq!(
            (r.lost_across_reconnects, r.duplicates_across_reconnects),
            (200, 300)
        );
    }

    #[test]
    fn a_shard_without_an_exact_window_makes_the_run_fall_back() {
        let mut b = shard(vec![End::Completed], &[5], (3, 9));
        b.facts.window_seqs = None;
        b.facts.expected_in_range = None;
        let merged = merge(vec![shard(vec![End::Completed], &[5], (3, 9)), b]).unwrap();
        assert_eq!(merged.facts.window_seqs, None);
        assert_eq!(merged.facts.expected_in_range, None);
        assert!(merge(Vec::new()).is_none());
    }

    #[test]
    fn the_run_is_lost_only_when_every_shard_lost_everyone() {
        let lost = || shard(vec![End::Lost(SubError::Lagging)], &[], (1, 2));
        let some = merge(vec![lost(), shard(vec![End::Completed], &[], (1, 2))]).unwrap();
        assert!(some.collector.finish(&config()).unwrap().complete());
        let none = merge(vec![lost(), lost()]).unwrap();
        let collected = none.collector.finish(&config()).unwrap();
        assert!(!collected.complete());
        let e = collected
            .report(&config(), &none.histograms, none.facts)
            .unwrap_err();
        assert!(e.to_string().contains("lagging"), "{e}");
    }

    #[test]
    fn a_shard_that_could_not_connect_is_data_unless_nobody_could() {
        let refused = || {
            let e = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
            End::ConnectFailed(SubError::Connect(e))
        };
        // One process would count the refused subscribers and report the others: so does the
        // merge, whichever shard they were in.
        let merged = merge(vec![
            shard(vec![End::Completed, End::Completed], &[7], (1, 5)),
            shard(vec![refused(), refused()], &[], (1, 5)),
        ])
        .unwrap();
        let report = merged
            .collector
            .finish(&config())
            .unwrap()
            .report(&config(), &merged.histograms, merged.facts)
            .unwrap();
        assert_eq!((report.connected, report.completed), (2, 2));
        assert_eq!(report.errors.get("connect refused"), Some(&2));
        // Nobody anywhere: the run's error, as one process would give it.
        let nobody = merge(vec![
            shard(vec![refused()], &[], (1, 5)),
            shard(vec![refused()], &[], (1, 5)),
        ])
        .unwrap();
        let e = nobody.collector.finish(&config()).unwrap_err();
        assert!(
            e.to_string().starts_with("no subscriber could connect"),
            "{e}"
        );
    }
}
