//! Synthetic results with the shape of a real run, to draw every chart in unit tests.
//!
//! `mod.rs` makes one case of any kind ([`case`]) and the run of the default suite's kinds;
//! `links.rs` adds the network and bandwidth scenarios' cases, `security.rs` the security
//! scenario's.

mod links;
mod security;

pub use links::MOBILE_RTT_US;

use hdrhistogram::Histogram;
use rtlab_client::histograms::to_base64;
use rtlab_wire::Transport;

use crate::calibration::Calibration;
use crate::case::{CaseParams, Point};
use crate::case_result::{CaseResult, CaseStatus, SCHEMA_VERSION, ServerCost};
use crate::connection_memory::{ConnectionMemory, RssPoint, fit};
use crate::scenario::Kind;
use crate::{LatencySummary, PublishReport, RunReport, WireReport};

fn histogram(base_us: u64) -> String {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for i in 1..=2000u64 {
        h.record(base_us + base_us * i / 400 + if i % 500 == 0 { base_us * 20 } else { 0 })
            .unwrap();
    }
    to_base64(&h)
}

pub(crate) fn case(
    kind: Kind,
    scenario: &str,
    point: Option<Point>,
    t: Transport,
    params: CaseParams,
) -> CaseResult {
    let f = Transport::ALL.iter().position(|x| *x == t).unwrap() as f64 + 1.0;
    let poll = !t.is_streaming();
    let events = params.clients as f64 * params.rate as f64 * params.duration_s;
    let base_us = (100.0 * f) as u64
        + if t == Transport::ShortPoll {
            (params.poll_interval_ms * 500.0) as u64
        } else {
            0
        };
    let rho = if t == Transport::ShortPoll {
        1.0 / (params.rate as f64 * params.poll_interval_ms / 1e3)
    } else {
        1.0
    };
    let lat = LatencySummary {
        count: events as u64,
        p50: base_us as f64 * 1.5,
        p90: base_us as f64 * 3.0,
        p99: base_us as f64 * 6.0 * (1.0 + params.clients as f64 / 2000.0),
        p999: base_us as f64 * 20.0,
        max: base_us as f64 * 30.0,
        mean: base_us as f64 * 2.0,
    };
    let delivery_ratio = if params.rate > 20_000 && poll {
        0.6
    } else {
        1.0
    };
    // The window published (S0, S1], S0 = 1000; each subscriber received that share of it.
    let published = (params.rate as f64 * params.duration_s) as u64;
    let report = RunReport {
        schema_version: 1,
        transport: Some(t),
        clients: params.clients,
        connected: params.clients,
        completed: params.clients,
        duration_s: params.duration_s,
        events_received: events as u64,
        events_per_s: events / params.duration_s * if params.rate > 20_000 { 0.7 } else { 1.0 },
        server_events_published: published,
        server_events_per_s: params.rate as f64,
        delivery_ratio,
        window_seq_start: Some(1_000),
        window_seq_end: Some(1_000 + published),
        events_in_range: (delivery_ratio * (published * params.clients) as f64) as u64,
        undelivered: Some(
            ((1.0 - delivery_ratio) * (published * params.clients) as f64).round() as u64,
        ),
        latency_us: lat.clone(),
        connect_us: LatencySummary {
            p50: 300.0,
            ..Default::default()
        },
        wire: WireReport {
            setup_bytes_down: params.clients * if poll { 150 } else { 130 },
            setup_bytes_up: params.clients * if poll { 90 } else { 200 },
            bytes_down: 0,
            bytes_up: (events * rho * 90.0 * poll as u8 as f64) as u64,
            payload_bytes_per_event: 46.0 + params.payload_bytes as f64,
            overhead_bytes_per_event: match t {
                Transport::Ws => 2.0,
                Transport::Sse => 20.0,
                Transport::Tcp => 1.0,
                _ => 152.0 * rho,
            },
            analytic_overhead_bytes_per_event: None,
            keepalive_bytes: (events * 0.5) as u64,
            ..Default::default()
        },
        requests: (events * rho) as u64,
        requests_per_event: poll.then_some(rho),
        empty_poll_share: poll.then(|| (1.0 - 1.0 / rho).max(0.0)),
        publish: params.publish_rate.map(|r| PublishReport {
            rate_per_client: r,
            via: if t == Transport::Ws {
                "ws-frame"
            } else {
                "http-post"
            }
            .into(),
            sent: 100,
            echoed: 100,
            round_trip_us: lat.clone(),
            bytes_up_per_publish: if t == Transport::Ws { 60.0 } else { 180.0 },
            ..Default::default()
        }),
        latency_histogram_b64: histogram(base_us),
        ..Default::default()
    };
    let id = match &point {
        Some(p) => format!("{scenario}-{}-{t}", p.label()),
        None => format!("{scenario}-{t}"),
    };
    CaseResult {
        schema_version: SCHEMA_VERSION,
        id,
        scenario: scenario.into(),
        kind,
        transport: t,
        point,
        server: Some(ServerCost {
            pinned: true,
            cpu_seconds: 0.1 * f,
            cpu_ms_per_1000_events: Some(0.1 * f / events * 1e6),
            memory_per_connection_bytes: Some(8_000.0 * f + 1e6 / params.clients as f64),
            rss_peak_bytes: 10_000_000,
            ..Default::default()
        }),
        params,
        status: CaseStatus::Ok,
        error: None,
        server_stderr_tail: None,
        wall_s: 3.0,
        client: Some(report),
        client_cpu_utilisation: Some(0.3),
        connection_memory: None,
        repeats: Vec::new(),
        calibration: Some(calibration()),
    }
}

/// The synthetic run's calibration: poll sizes as the synthetic poll cases saw them.
pub fn calibration() -> Calibration {
    Calibration {
        rtt_us: 200.0,
        one_way_delay_us: 150.0,
        request_bytes: 90.0,
        response_head_bytes: 150.0,
        shaper_ceiling_bps: Some(4e9),
    }
}

/// A complete synthetic run: every scenario kind, every transport.
pub fn cases() -> Vec<CaseResult> {
    let base = CaseParams {
        keepalive_interval_ms: None,
        network: None,
        clients: 10,
        rate: 100,
        payload_bytes: 64,
        poll_interval_ms: 100.0,
        publish_rate: None,
        duration_s: 2.0,
        warmup_s: 1.0,
        subscriber_queue: None,
        security: None,
        streams_per_connection: None,
    };
    let mut out = Vec::new();
    for t in Transport::ALL {
        out.push(case(
            Kind::Latency,
            "latency",
            None,
            t,
            CaseParams {
                clients: 100,
                ..base.clone()
            },
        ));
        for p in [16, 256, 4096, 65_536] {
            out.push(case(
                Kind::Payload,
                "payload",
                Some(Point::PayloadBytes(p)),
                t,
                CaseParams {
                    payload_bytes: p,
                    ..base.clone()
                },
            ));
        }
        for n in [1, 10, 100, 1000, 10_000] {
            out.push(case(
                Kind::Fanout,
                "fanout",
                Some(Point::Clients(n)),
                t,
                CaseParams {
                    clients: n,
                    rate: 10,
                    ..base.clone()
                },
            ));
        }
        for r in [1000, 10_000, 50_000] {
            out.push(case(
                Kind::Rate,
                "rate",
                Some(Point::Rate(r)),
                t,
                CaseParams {
                    rate: r,
                    ..base.clone()
                },
            ));
        }
        out.push(case(
            Kind::RoundTrip,
            "round-trip",
            None,
            t,
            CaseParams {
                publish_rate: Some(10.0),
                ..base.clone()
            },
        ));
    }
    for i in [10.0, 100.0, 1000.0] {
        out.push(case(
            Kind::PollInterval,
            "poll-interval",
            Some(Point::PollIntervalMs(i)),
            Transport::ShortPoll,
            CaseParams {
                poll_interval_ms: i,
                rate: 20,
                ..base.clone()
            },
        ));
    }
    // Saturation: 1 000 subscribers, the rate stepped up; ws stops keeping up at the top step
    // (its p99 blows up), the others keep up throughout.
    for t in [
        Transport::Ws,
        Transport::Sse,
        Transport::LongPoll,
        Transport::Tcp,
    ] {
        for r in [200, 800, 1600] {
            let mut c = case(
                Kind::Saturation,
                "saturation",
                Some(Point::Rate(r)),
                t,
                CaseParams {
                    clients: 1000,
                    rate: r,
                    ..base.clone()
                },
            );
            c.client_cpu_utilisation = Some(0.2 + r as f64 / 4000.0);
            if t == Transport::Ws
                && r == 1600
                && let Some(report) = c.client.as_mut()
            {
                report.latency_us.p99 = 500_000.0;
                report.events_per_s = 1_200_000.0;
            }
            out.push(c);
        }
    }
    // Memory: RSS against idle connections, 1 000 … 5 000; tcp cheapest, ws dearest.
    for (t, per_connection) in [
        (Transport::Ws, 6_000u64),
        (Transport::Sse, 5_000),
        (Transport::Tcp, 2_000),
    ] {
        let mut c = case(
            Kind::Memory,
            "memory",
            None,
            t,
            CaseParams {
                clients: 5000,
                rate: 0,
                ..base.clone()
            },
        );
        c.client = None;
        let points: Vec<RssPoint> = (1..=5u64)
            .map(|i| RssPoint {
                connections: i * 1000,
                rss_bytes: 12_000_000 + i * 1000 * per_connection + (i % 2) * 40_000,
            })
            .collect();
        let (bytes_per_connection, r_squared) = fit(&points);
        c.connection_memory = Some(ConnectionMemory {
            points,
            bytes_per_connection,
            r_squared,
        });
        out.push(c);
    }
    out.extend(links::network_cases(&base));
    out.extend(links::bandwidth_cases(&base));
    out.extend(security::security_cases(&base));
    out.extend(security::multiplex_cases(&base));
    out
}

/// The synthetic cases of one scenario kind.
pub fn of_kind(kind: Kind) -> Vec<CaseResult> {
    cases().into_iter().filter(|c| c.kind == kind).collect()
}

/// `c` run once per value, each repetition changed by `set` with its value, then folded into
/// one repeated case ([`crate::repeat::fold`]): what a case with `repeat = N` stores.
pub fn repeated<V: Copy>(
    c: &CaseResult,
    values: &[V],
    set: impl Fn(&mut CaseResult, V),
) -> CaseResult {
    let runs = values
        .iter()
        .map(|&v| {
            let mut r = c.clone();
            set(&mut r, v);
            r
        })
        .collect();
    crate::repeat::fold(runs).expect("repetitions")
}

/// What a findings family says of `cases` (its functions take the cases by reference).
pub fn sentences_of(
    sentences: fn(&[&CaseResult]) -> Vec<String>,
    cases: &[CaseResult],
) -> Vec<String> {
    let refs: Vec<&CaseResult> = cases.iter().collect();
    sentences(&refs)
}
