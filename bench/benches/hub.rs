//! Fan-out, the server's hot path: publishing one event to N in-process subscribers
//! (N = 1, 100, 10 000) through `rtlab_server::hub`, for each streaming transport's framing, and
//! each subscriber taking its copy off its queue. The event is encoded once; each subscriber gets
//! a reference-counted pointer to the shared bytes, so the cost should grow with N by a queue push
//! and pop, not by an encoding. Polls are measured too: a poll is a read of the event log.
//!
//! Throughput is in deliveries (events × subscribers) per second.
//!
//! Run with `cargo bench -p rtlab-bench --bench hub`.

#![allow(missing_docs)] // criterion's macros generate undocumented public functions

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rtlab_server::hub::{Hub, HubConfig, Origin};
use rtlab_wire::Transport;
use rtlab_wire::framing::json_array;

const SUBSCRIBERS: [usize; 3] = [1, 100, 10_000];
const PAYLOAD: usize = 64;

fn publish_fan_out(c: &mut Criterion) {
    let data = "x".repeat(PAYLOAD);
    let mut g = c.benchmark_group("hub_publish");
    for n in SUBSCRIBERS {
        g.throughput(Throughput::Elements(n as u64));
        if n >= 10_000 {
            g.sample_size(20);
        }
        for t in [Transport::Ws, Transport::Sse, Transport::Tcp] {
            let hub = Hub::new(HubConfig {
                history: 1024,
                subscriber_queue: 64,
            });
            let mut subs: Vec<_> = (0..n).map(|_| hub.subscribe(t)).collect();
            g.bench_function(BenchmarkId::new(t.as_str(), n), |b| {
                b.iter(|| {
                    hub.publish(data.clone(), Origin::Ticker);
                    let mut bytes = 0;
                    for s in &mut subs {
                        if let Ok(Some(ev)) = s.try_recv() {
                            bytes += ev.payload_for(t).len();
                        }
                    }
                    black_box(bytes)
                })
            });
        }
        // Polls: N clients each read the newest event from the log and answer a JSON array.
        let hub = Hub::new(HubConfig {
            history: 1024,
            subscriber_queue: 64,
        });
        g.bench_function(BenchmarkId::new("poll", n), |b| {
            b.iter(|| {
                let ev = hub.publish(data.clone(), Origin::Ticker);
                let after = ev.seq() - 1;
                let mut bytes = 0;
                for _ in 0..n {
                    let batch = hub.events_after(after, 100);
                    bytes += json_array(batch.iter().map(|e| &e.json()[..])).len();
                }
                black_box(bytes)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, publish_fan_out);
criterion_main!(benches);
