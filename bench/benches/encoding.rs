//! Encoding one event for each transport: the JSON the hub serializes once, and the framing each
//! transport wraps around it (SSE block, TCP line, the all-in-one `EncodedEvent` the server shares
//! between subscribers, and the JSON array a poll answers with).
//!
//! Run with `cargo bench -p rtlab-bench --bench encoding`.

#![allow(missing_docs)] // criterion's macros generate undocumented public functions

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rtlab_server::hub::EncodedEvent;
use rtlab_wire::Event;
use rtlab_wire::framing::{json_array, sse_frame, tcp_line, ws_header_len};

const PAYLOADS: [usize; 3] = [16, 1024, 65_536];

fn event(payload: usize) -> Event {
    Event {
        seq: 123_456,
        ts: 1_763_769_600_123_456_789,
        data: "x".repeat(payload),
    }
}

fn encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for payload in PAYLOADS {
        let e = event(payload);
        let json = e.to_json();
        g.throughput(Throughput::Bytes(json.len() as u64));
        g.bench_with_input(BenchmarkId::new("event_json", payload), &e, |b, e| {
            b.iter(|| black_box(e.to_json()))
        });
        g.bench_with_input(BenchmarkId::new("sse_frame", payload), &json, |b, j| {
            b.iter(|| black_box(sse_frame(123_456, j)))
        });
        g.bench_with_input(BenchmarkId::new("tcp_line", payload), &json, |b, j| {
            b.iter(|| black_box(tcp_line(j)))
        });
        g.bench_with_input(BenchmarkId::new("ws_header_len", payload), &json, |b, j| {
            b.iter(|| black_box(ws_header_len(black_box(j.len()), false)))
        });
        g.bench_with_input(
            BenchmarkId::new("encoded_event_all_framings", payload),
            &e,
            |b, e| b.iter(|| black_box(EncodedEvent::new(e))),
        );
        let batch: Vec<_> = (0..10).map(|_| json.clone()).collect();
        g.bench_with_input(
            BenchmarkId::new("poll_json_array_of_10", payload),
            &batch,
            |b, batch| b.iter(|| black_box(json_array(batch.iter().map(|j| &j[..])))),
        );
    }
    g.finish();
}

criterion_group!(benches, encoding);
criterion_main!(benches);
