//! Findings checked against synthetic cases: sentences change with the data, shares are by seq,
//! and rankings call a difference only where the ranges do not overlap.

use super::*;
use crate::RunReport;
use crate::keep_up::{KEEP_UP_P99_US, kept_up, published_share};
use crate::testdata;
use rtlab_wire::Transport;

/// The synthetic rate-sweep case of `t` at `rate` (1 000, 10 000 or 50 000 events/s; 10
/// clients, 2 s), every event delivered, then changed by `change`.
fn rate_case(t: Transport, rate: u64, change: impl FnOnce(&mut RunReport)) -> CaseResult {
    let mut c = testdata::cases()
        .into_iter()
        .find(|c| c.kind == Kind::Rate && c.transport == t && c.params.rate == rate)
        .expect("a synthetic rate case");
    let r = c.client.as_mut().expect("a report");
    r.delivery_ratio = 1.0;
    r.lost = 0;
    r.latency_us.p99 = 2_000.0;
    r.events_in_range = (r.window_seq_end.unwrap() - r.window_seq_start.unwrap()) * r.clients;
    change(r);
    c
}

/// The events each subscriber should have received: `(S1 − S0) × clients`.
fn expected(r: &RunReport) -> u64 {
    (r.window_seq_end.unwrap() - r.window_seq_start.unwrap()) * r.clients
}

/// Every "N %" in a text.
fn percents(text: &str) -> Vec<f64> {
    text.split(" %")
        .filter_map(|before| before.rsplit(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn kept_up_is_judged_by_seq_not_by_arrivals() {
    // More arrivals per second than clients × rate (a backlog arriving late in the window),
    // while a tenth of the window's events never arrived: not kept up, and not "104 %".
    let behind = rate_case(Transport::Ws, 10_000, |r| {
        r.events_per_s = 1.04 * 10.0 * 10_000.0;
        r.events_in_range = expected(r) * 9 / 10;
    });
    assert_eq!(behind.delivered_share(), Some(0.9));
    assert!(!kept_up(&behind));
    // Fewer arrivals per second than clients × rate (the last events arrived just after the
    // window), every event delivered by seq: kept up.
    let edge = rate_case(Transport::Ws, 10_000, |r| {
        r.events_per_s = 0.97 * 10.0 * 10_000.0;
    });
    assert_eq!(edge.delivered_share(), Some(1.0));
    assert!(kept_up(&edge));
    // Loss or a long tail still fail it.
    assert!(!kept_up(&rate_case(Transport::Ws, 10_000, |r| r.lost = 1)));
    assert!(!kept_up(&rate_case(Transport::Ws, 10_000, |r| {
        r.latency_us.p99 = 2.0 * KEEP_UP_P99_US;
    })));
}

#[test]
fn the_delivered_share_never_exceeds_one() {
    let over = rate_case(Transport::Sse, 1_000, |r| {
        r.events_in_range = expected(r) + 50
    });
    assert_eq!(over.delivered_share(), Some(1.0));
    // Without the seq bounds: the client's own ratio, capped.
    let no_seq = rate_case(Transport::Sse, 1_000, |r| {
        (r.window_seq_start, r.window_seq_end) = (None, None);
        r.delivery_ratio = 1.04;
    });
    assert_eq!(no_seq.delivered_share(), Some(1.0));
    // A subscriber that never connected received nothing: one in ten missing.
    let one_missing = rate_case(Transport::Sse, 1_000, |r| {
        r.connected = r.clients - 1;
        r.events_in_range = expected(r) / r.clients * r.connected;
    });
    assert_eq!(one_missing.delivered_share(), Some(0.9));
    assert!(!kept_up(&one_missing));
    // A window that published nothing has no share at all.
    let empty = rate_case(Transport::Sse, 1_000, |r| {
        r.window_seq_end = r.window_seq_start
    });
    assert_eq!(empty.delivered_share(), None);
    assert!(!kept_up(&empty));
}

#[test]
fn a_server_behind_its_rate_did_not_keep_up() {
    // Every subscriber got every event the server published, but it published 80 % of the
    // rate asked.
    let slow = rate_case(Transport::Tcp, 50_000, |r| {
        let s0 = r.window_seq_start.unwrap();
        r.window_seq_end = Some(s0 + 80_000);
        r.events_in_range = 80_000 * r.clients;
    });
    assert_eq!(slow.delivered_share(), Some(1.0));
    assert_eq!(published_share(&slow), Some(0.8));
    assert!(!kept_up(&slow));
    let cases = [
        rate_case(Transport::Tcp, 1_000, |_| {}),
        rate_case(Transport::Tcp, 10_000, |_| {}),
        slow,
    ];
    let text = for_kind(Kind::Rate, &cases).join("\n");
    assert!(
        text.contains("**tcp** kept up to 10\u{202f}000 events/s; at 50\u{202f}000 events/s it delivered 100 % of the window's events"),
        "{text}"
    );
    assert!(
        text.contains("the server published only 80 % of the rate asked"),
        "{text}"
    );
}

#[test]
fn rate_sentences_change_with_the_data() {
    let ok = |rate| rate_case(Transport::Ws, rate, |_| {});
    let all = for_kind(Kind::Rate, &[ok(1_000), ok(10_000), ok(50_000)]).join("\n");
    assert!(
        all.contains("**ws** kept up at every rate tried, up to 50\u{202f}000 events/s"),
        "{all}"
    );
    let behind = rate_case(Transport::Ws, 50_000, |r| {
        r.events_per_s = 1.04 * 10.0 * 50_000.0;
        r.events_in_range = expected(r) * 3 / 4;
    });
    let text = for_kind(Kind::Rate, &[ok(1_000), ok(10_000), behind]).join("\n");
    assert!(
        text.contains("**ws** kept up to 10\u{202f}000 events/s; at 50\u{202f}000 events/s it delivered 75 % of the window's events"),
        "{text}"
    );
    assert!(!text.contains("published only"), "{text}");
    assert!(percents(&text).iter().all(|p| *p <= 100.0), "{text}");
    assert!(!text.contains("load generator"), "{text}");

    // The same failure with the client's core 97 % busy: the sentence says whose limit it may be.
    let mut bound = rate_case(Transport::Ws, 50_000, |r| {
        r.events_in_range = expected(r) * 3 / 4;
    });
    bound.client_cpu_utilisation = Some(0.97);
    let text = for_kind(Kind::Rate, &[ok(1_000), ok(10_000), bound]).join("\n");
    assert!(
        text.contains("The client's core was 97 % busy at that step, so the limit there may be the load generator's"),
        "{text}"
    );
}

#[test]
fn fanout_states_the_rate_apart_from_the_seq_share() {
    let mut cases: Vec<CaseResult> = testdata::cases()
        .into_iter()
        .filter(|c| c.kind == Kind::Fanout && c.params.clients == 10_000)
        .collect();
    for c in &mut cases {
        let r = c.client.as_mut().expect("a report");
        // 103 306 arrivals/s against clients × rate = 100 000: a rate, not 103 %.
        r.events_per_s = 103_306.0;
        r.events_in_range = expected(r) - 1;
    }
    let refs: Vec<&CaseResult> = cases.iter().collect();
    let text = fanout::sentences(&refs).join("\n");
    assert!(
        text.contains(
            "**long-poll** delivered 99 % of the events published in the window to its subscribers (counted by seq); 103\u{202f}306 events/s arrived in the window (clients × rate: 100\u{202f}000)"
        ),
        "{text}"
    );
    assert!(percents(&text).iter().all(|p| *p <= 100.0), "{text}");
}

/// `c` run once per value, each repetition with that p99 (µs) and server CPU per 1 000 events.
fn repeated(c: &CaseResult, p99_cpu: &[(f64, f64)]) -> CaseResult {
    testdata::repeated(c, p99_cpu, |r, (p99, cpu)| {
        if let Some(rep) = r.client.as_mut() {
            rep.latency_us.p99 = p99;
        }
        if let Some(s) = r.server.as_mut() {
            s.cpu_ms_per_1000_events = Some(cpu);
        }
    })
}

/// The findings for the synthetic cases of `kind` (at the largest client count), ws and sse
/// repeated three times with these p99s and CPU costs, the other transports left out.
fn ws_and_sse_findings(kind: Kind, ws: [(f64, f64); 3], sse: [(f64, f64); 3]) -> String {
    let cases = testdata::cases();
    let max = cases
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.params.clients)
        .max()
        .expect("cases");
    let cases: Vec<CaseResult> = cases
        .iter()
        .filter(|c| c.kind == kind && c.params.clients == max)
        .filter_map(|c| match c.transport {
            Transport::Ws => Some(repeated(c, &ws)),
            Transport::Sse => Some(repeated(c, &sse)),
            _ => None,
        })
        .collect();
    for_kind(kind, &cases).join("\n")
}

#[test]
fn latency_ranks_only_where_the_spreads_do_not_overlap() {
    // ws's p99s, the same in both runs.
    let ws = [(1_000.0, 1.0), (1_200.0, 1.0), (1_100.0, 1.0)];
    let text = ws_and_sse_findings(
        Kind::Latency,
        ws,
        [(3_000.0, 1.0), (3_300.0, 1.0), (2_900.0, 1.0)],
    );
    assert!(text.contains("ws 1.10 ms < sse 3.00 ms"), "{text}");
    assert!(text.contains("is 2.7× the fastest (ws, 1.10 ms)"), "{text}");
    assert!(
        text.contains("p99 1.10 ms (1.00 ms–1.20 ms)"),
        "the median and range: {text}"
    );
    // sse's best window is faster than ws's worst: the ranking says ≈, no "×" claim.
    let text = ws_and_sse_findings(
        Kind::Latency,
        ws,
        [(3_000.0, 1.0), (3_300.0, 1.0), (1_150.0, 1.0)],
    );
    assert!(text.contains("ws 1.10 ms ≈ sse 3.00 ms"), "{text}");
    assert!(text.contains("within noise"), "{text}");
    assert!(!text.contains("× the fastest"), "{text}");
}

#[test]
fn the_cheapest_fanout_transport_is_named_only_when_clearly_cheapest() {
    // ws's CPU costs, the same in both runs.
    let ws = [(1e3, 1.0), (1e3, 1.2), (1e3, 1.1)];
    let text = ws_and_sse_findings(Kind::Fanout, ws, [(1e3, 2.0), (1e3, 2.2), (1e3, 2.1)]);
    assert!(
        text.contains("cheapest transport for the server at 10\u{202f}000 clients is ws (1.10 (1.00–1.20) ms CPU"),
        "{text}"
    );
    let text = ws_and_sse_findings(Kind::Fanout, ws, [(1e3, 2.0), (1e3, 1.15), (1e3, 2.1)]);
    assert!(
        text.contains("No transport is clearly the cheapest")
            && text.contains("overlaps sse's: within noise"),
        "{text}"
    );
}

#[test]
fn latency_sentences_say_delivered_by_seq() {
    let mut cases: Vec<CaseResult> = testdata::cases()
        .into_iter()
        .filter(|c| c.kind == Kind::Latency)
        .collect();
    let r = cases[0].client.as_mut().expect("a report");
    r.events_in_range = expected(r) / 2;
    let refs: Vec<&CaseResult> = cases.iter().collect();
    let text = latency::sentences(&refs).join("\n");
    assert!(
        text.contains("**ws**: p50 ")
            && text.contains("; 50 % of the window's events delivered (by seq)"),
        "{text}"
    );
    assert!(text.contains("**sse**: p50 ") && text.contains("; 100 % of the window's events"));
}
