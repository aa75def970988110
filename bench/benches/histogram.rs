//! Recording latencies: the client records every delivered event into an HdrHistogram (1 µs to
//! 60 s, 3 significant digits), so a record must cost nanoseconds. Also the end-of-run work the
//! lab does per case: reading percentiles and the V2 + base64 serialization stored in results.
//!
//! Run with `cargo bench -p rtlab-bench --bench histogram`.

#![allow(missing_docs)] // criterion's macros generate undocumented public functions

use std::hint::black_box;

use base64::Engine;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2Serializer};

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// Latencies with a realistic spread: mostly hundreds of µs, a tail into tens of ms.
fn samples(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = 100 + x % 900;
            if x.is_multiple_of(100) { v * 50 } else { v }
        })
        .collect()
}

fn record(c: &mut Criterion) {
    let values = samples(10_000);
    let mut g = c.benchmark_group("histogram");
    g.throughput(Throughput::Elements(values.len() as u64));
    g.bench_function("record_10k", |b| {
        let mut h = histogram();
        b.iter(|| {
            for &v in &values {
                h.saturating_record(black_box(v));
            }
        })
    });
    let mut full = histogram();
    for &v in &values {
        full.saturating_record(v);
    }
    g.throughput(Throughput::Elements(1));
    g.bench_function("p50_p99_p999", |b| {
        b.iter(|| {
            black_box((
                full.value_at_quantile(0.5),
                full.value_at_quantile(0.99),
                full.value_at_quantile(0.999),
            ))
        })
    });
    g.bench_function("merge", |b| {
        b.iter(|| {
            let mut h = histogram();
            h.add(&full).expect("same bounds");
            black_box(h)
        })
    });
    g.bench_function("serialize_v2_base64", |b| {
        b.iter(|| {
            let mut buf = Vec::new();
            V2Serializer::new()
                .serialize(&full, &mut buf)
                .expect("serializes");
            black_box(base64::engine::general_purpose::STANDARD.encode(&buf))
        })
    });
    g.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
