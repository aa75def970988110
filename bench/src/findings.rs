//! Findings: the numbers of each scenario turned into sentences a newcomer can read.
//!
//! Each function looks at the cases of one scenario kind and states what they show, always with
//! the numbers: which transport is fastest at the tail and by how much, what an event costs in
//! bytes at the smallest and largest payload, how far each transport fans out and at what server
//! cost, up to which rate each keeps up, what a poll interval buys, what publishing costs.
//!
//! **Two different numbers about delivery, never mixed.** *Delivered share* is counted by seq:
//! of the events the server published in the window, the share that reached every subscriber
//! ([`CaseResult::delivered_share`]); it cannot exceed 100 %, and "kept up" is judged on it.
//! *Events/s* is a rate: events that arrived in the window, per second. Arrivals include events
//! published before the window that arrive late in it, so under a backlog the rate can exceed
//! `clients × rate` while delivery falls behind; it is reported as a rate, never as a share.

use rtlab_wire::Transport;

use crate::case_result::{CaseResult, CaseStatus};
use crate::format::{self, num};
use crate::repeat::{self, Figure, headline};
use crate::scenario::Kind;
use crate::spread::{Comparison, Spread, compare};
use crate::table::{figure_text, headline_cell, md_table};

pub use crate::keep_up::{
    KEEP_UP_DELIVERY, KEEP_UP_P99_US, keep_up_delivery, kept_up, published_share,
};

fn ok_of(cases: &[CaseResult], kind: Kind) -> Vec<&CaseResult> {
    cases
        .iter()
        .filter(|c| c.kind == kind && c.ok().is_some())
        .collect()
}

/// The "at a glance" table: one row per transport, from the latency scenario (or the first kind
/// that has the transport).
pub fn glance_table(cases: &[CaseResult]) -> String {
    let rows: Vec<Vec<String>> = Transport::ALL
        .into_iter()
        .filter_map(|t| {
            let c = cases
                .iter()
                .filter(|c| c.transport == t && c.ok().is_some())
                .min_by_key(|c| (c.kind != Kind::Latency) as u8)?;
            let r = c.ok()?;
            Some(vec![
                format!("**{t}**"),
                format!("`{}`", c.id),
                repeat::count(c).to_string(),
                headline_cell(c, Figure::P50),
                headline_cell(c, Figure::P99),
                headline_cell(c, Figure::EventsPerS),
                headline_cell(c, Figure::BytesPerEvent),
                headline_cell(c, Figure::CpuPer1000),
                r.lost.to_string(),
            ])
        })
        .collect();
    md_table(
        &[
            "transport",
            "case",
            "runs",
            "p50",
            "p99",
            "events/s received",
            "bytes/event",
            "server CPU ms / 1 000 events",
            "lost",
        ],
        &rows,
    )
}

/// Findings for one scenario kind (empty if there are no successful cases of it).
pub fn for_kind(kind: Kind, cases: &[CaseResult]) -> Vec<String> {
    let cs = ok_of(cases, kind);
    // Rate and saturation findings read failed cases too (cut-off subscribers are an answer),
    // and a memory case has no client report.
    let reads_all = matches!(kind, Kind::Rate | Kind::Saturation | Kind::Memory);
    if cs.is_empty() && !(reads_all && cases.iter().any(|c| c.kind == kind)) {
        return Vec::new();
    }
    match kind {
        Kind::Latency => latency(&cs),
        Kind::Payload => payload(&cs),
        Kind::Fanout => fanout(&cs),
        Kind::Rate => rate(&cs, cases),
        Kind::PollInterval => poll_interval(&cs),
        Kind::RoundTrip => round_trip(&cs),
        Kind::Saturation => crate::capacity::saturation_findings(cases),
        Kind::Memory => crate::capacity::memory_findings(cases),
    }
}

fn latency(cs: &[&CaseResult]) -> Vec<String> {
    let mut out: Vec<String> = cs
        .iter()
        .filter_map(|c| {
            let r = c.ok()?;
            Some(format!(
                "**{}**: p50 {}, p99 {}, p99.9 {}, max {}{}; {} of the window's events delivered (by seq), {} events/s received, {} lost.",
                c.transport,
                headline_cell(c, Figure::P50),
                headline_cell(c, Figure::P99),
                format::micros(r.latency_us.p999),
                format::micros(r.latency_us.max),
                // p99.9, max, delivery and loss are the stored run's (the first that succeeded):
                // only the headline figures are kept per repetition.
                if repeat::count(c) > 1 {
                    " (these two, the share and the loss: first run)"
                } else {
                    ""
                },
                format::share(c.delivered_share()),
                headline_cell(c, Figure::EventsPerS),
                r.lost
            ))
        })
        .collect();
    let by_p99: Vec<(Transport, Spread)> = ranked(cs, Figure::P99);
    if let (Some(best), Some(worst)) = (by_p99.first(), by_p99.last())
        && best.1.median > 0.0
        && by_p99.len() > 1
    {
        let verdict = match compare(&best.1, &worst.1) {
            Comparison::Lower => format!(
                "The slowest tail ({}, {}) is {:.1}× the fastest ({}, {}).",
                worst.0,
                format::micros(worst.1.median),
                worst.1.median / best.1.median,
                best.0,
                format::micros(best.1.median)
            ),
            _ => format!(
                "The fastest ({}) and slowest ({}) p99s overlap over their repetitions: the differences in tail latency between these transports are within noise.",
                best.0, worst.0
            ),
        };
        out.push(format!(
            "Ranked by p99{}: {}. {verdict}",
            if by_p99.iter().any(|(_, s)| s.has_spread()) {
                " (median; `≈` where the ranges overlap, within noise)"
            } else {
                ""
            },
            ranking(&by_p99, Figure::P99),
        ));
    }
    if let Some(sp) = cs.iter().find(|c| c.transport == Transport::ShortPoll) {
        out.push(format!(
            "Short polling's median, {}, is set by its {} ms poll interval, not by the network: an event waits for the next poll.",
            headline_cell(sp, Figure::P50),
            sp.params.poll_interval_ms
        ));
    }
    out
}

fn payload(cs: &[&CaseResult]) -> Vec<String> {
    let mut sizes: Vec<u64> = cs.iter().map(|c| c.params.payload_bytes).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut out = Vec::new();
    for size in [sizes.first(), sizes.last()]
        .into_iter()
        .flatten()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let parts: Vec<String> = cs
            .iter()
            .filter(|c| c.params.payload_bytes == size)
            .filter_map(|c| {
                Some(format!(
                    "{} {} B ({} event JSON)",
                    c.transport,
                    num(c.total_bytes_per_event()?),
                    format::percent(c.payload_efficiency()?)
                ))
            })
            .collect();
        if !parts.is_empty() {
            out.push(format!(
                "At {} of payload, one delivered event costs on the wire: {}.",
                format::bytes(size as f64),
                parts.join(", ")
            ));
        }
    }
    out.push(
        "Framing is a fixed cost per event (a 2–10 byte WebSocket header, ~20 bytes of SSE lines and chunk size, \
         a whole HTTP response head per poll), so its share shrinks as the payload grows; polling also pays a \
         request upstream for every answer."
            .into(),
    );
    out
}

fn fanout(cs: &[&CaseResult]) -> Vec<String> {
    let Some(max_clients) = cs.iter().map(|c| c.params.clients).max() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in cs.iter().filter(|c| c.params.clients == max_clients) {
        if c.ok().is_none() {
            continue;
        }
        let nominal = c.params.clients as f64 * c.params.rate as f64;
        let s = c.server.as_ref();
        out.push(format!(
            "At {} clients, **{}** delivered {} of the events published in the window to its subscribers (counted by seq); {} events/s arrived in the window (clients × rate: {}), p99 {}; the server spent {} ms of CPU per 1 000 events and {} per connection.",
            num(max_clients as f64),
            c.transport,
            format::share(c.delivered_share()),
            headline_cell(c, Figure::EventsPerS),
            num(nominal),
            headline_cell(c, Figure::P99),
            headline(c, Figure::CpuPer1000).map_or("n/a".into(), |s| s.cell(|v| format!("{v:.2}"))),
            s.and_then(|s| s.memory_per_connection_bytes).map_or("n/a".into(), format::bytes),
        ));
    }
    let at_max: Vec<&CaseResult> = cs
        .iter()
        .copied()
        .filter(|c| c.params.clients == max_clients)
        .collect();
    let by_cpu = ranked(&at_max, Figure::CpuPer1000);
    if let Some((t, best)) = by_cpu.first() {
        let ties: Vec<String> = by_cpu[1..]
            .iter()
            .filter(|(_, s)| compare(best, s) != Comparison::Lower)
            .map(|(t, _)| t.to_string())
            .collect();
        if ties.is_empty() {
            out.push(format!(
                "The cheapest transport for the server at {} clients is {t} ({} ms CPU per 1 000 events).",
                num(max_clients as f64),
                best.cell(|v| figure_text(Figure::CpuPer1000, v))
            ));
        } else {
            out.push(format!(
                "No transport is clearly the cheapest for the server at {} clients: {t} has the lowest median ({} ms CPU per 1 000 events), but its range overlaps {}'s: within noise.",
                num(max_clients as f64),
                best.cell(|v| figure_text(Figure::CpuPer1000, v)),
                ties.join(", ")
            ));
        }
    }
    out
}

/// The cases' transports ordered by the median of `figure`, lowest first (unmeasured left out).
fn ranked(cs: &[&CaseResult], figure: Figure) -> Vec<(Transport, Spread)> {
    let mut v: Vec<(Transport, Spread)> = cs
        .iter()
        .filter_map(|c| Some((c.transport, headline(c, figure)?)))
        .collect();
    v.sort_by(|a, b| a.1.median.total_cmp(&b.1.median));
    v
}

/// A ranking as text: `tcp 1.00 ms < ws 2.00 ms ≈ sse 2.10 ms`, each sign from [`compare`] of
/// neighbours, so `<` is written only where the ranges do not overlap.
fn ranking(v: &[(Transport, Spread)], figure: Figure) -> String {
    let mut text = String::new();
    for (i, (t, s)) in v.iter().enumerate() {
        if i > 0 {
            text += &format!(" {} ", compare(&v[i - 1].1, s).symbol());
        }
        text += &format!("{t} {}", figure_text(figure, s.median));
    }
    text
}

/// Rate findings look at failed cases too: at saturation a transport may lose every subscriber
/// (cut off as lagging), and that is the answer to "where does it stop keeping up".
fn rate(_ok: &[&CaseResult], all: &[CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    for t in Transport::ALL {
        let mut runs: Vec<&CaseResult> = all
            .iter()
            .filter(|c| {
                c.kind == Kind::Rate && c.transport == t && c.status != CaseStatus::Interrupted
            })
            .collect();
        if runs.is_empty() {
            continue;
        }
        runs.sort_by_key(|c| c.params.rate);
        let best = runs.iter().take_while(|c| kept_up(c)).last();
        let first_fail = runs.iter().find(|c| !kept_up(c));
        let sentence = match (best, first_fail) {
            (Some(b), None) => format!(
                "**{t}** kept up at every rate tried, up to {} events/s (p99 {}).",
                num(b.params.rate as f64),
                format::micros(b.ok().map_or(0.0, |r| r.latency_us.p99))
            ),
            (b, Some(f)) => {
                let upto = match b {
                    Some(b) => format!("kept up to {} events/s", num(b.params.rate as f64)),
                    None => "did not keep up even at the lowest rate tried".into(),
                };
                let what = match f.ok() {
                    Some(r) => format!(
                        "it delivered {} of the window's events to its subscribers (by seq) with p99 {}{}{}",
                        format::share(f.delivered_share()),
                        format::micros(r.latency_us.p99),
                        if r.lost > 0 {
                            format!(" and lost {}", num(r.lost as f64))
                        } else {
                            String::new()
                        },
                        match published_share(f) {
                            Some(p) if p < keep_up_delivery(f.params.rate, f.params.duration_s) => {
                                format!(
                                    "; the server published only {} of the rate asked",
                                    format::share(Some(p))
                                )
                            }
                            _ => String::new(),
                        }
                    ),
                    None => format!(
                        "the case failed: {}",
                        f.error
                            .as_deref()
                            .unwrap_or("no reason recorded")
                            .lines()
                            .next()
                            .unwrap_or("")
                    ),
                };
                let cap = short_poll_cap(f).map_or(String::new(), |cap| {
                    format!(
                        " A short poll every {} ms answers at most {} events (the server's `--batch-max`), so one client can receive at most {} events/s: the cap is the server setting, not the network.",
                        num(f.params.poll_interval_ms),
                        num(crate::model::SERVER_BATCH_MAX),
                        num(cap)
                    )
                });
                format!(
                    "**{t}** {upto}; at {} events/s {what}.{cap}",
                    num(f.params.rate as f64)
                )
            }
            (None, None) => continue,
        };
        out.push(sentence);
    }
    out.push(format!(
        "\"Kept up\" means the server published at least {0} of the rate asked and at least {0} of those events reached every subscriber (both counted by seq, less two events of allowance), nothing lost, and p99 under {1} (plus the poll interval for short polling).",
        format::percent(KEEP_UP_DELIVERY),
        format::micros(KEEP_UP_P99_US)
    ));
    out
}

/// For a short-poll case whose rate is above what full answers can carry, that ceiling in
/// events/s per client: `batch_max / interval`.
fn short_poll_cap(c: &CaseResult) -> Option<f64> {
    let cap = crate::model::SERVER_BATCH_MAX / (c.params.poll_interval_ms / 1e3);
    (c.transport == Transport::ShortPoll
        && c.params.poll_interval_ms > 0.0
        && c.params.rate as f64 > cap)
        .then_some(cap)
}

fn poll_interval(cs: &[&CaseResult]) -> Vec<String> {
    let mut runs: Vec<&&CaseResult> = cs
        .iter()
        .filter(|c| c.transport == Transport::ShortPoll)
        .collect();
    runs.sort_by(|a, b| {
        a.params
            .poll_interval_ms
            .total_cmp(&b.params.poll_interval_ms)
    });
    let delivered = |c: &CaseResult| c.ok().is_some_and(|r| r.events_received > 0);
    let mut out: Vec<String> = runs
        .iter()
        .filter_map(|c| {
            let r = c.ok()?;
            if !delivered(c) {
                return Some(format!(
                    "Polling every {} ms: no event arrived within the {} s window (the window is shorter than the interval).",
                    c.params.poll_interval_ms, c.params.duration_s
                ));
            }
            Some(format!(
                "Polling every {} ms: mean latency {} (p99 {}), {} of polls empty, {:.2} requests per delivered event.",
                c.params.poll_interval_ms,
                format::micros(r.latency_us.mean),
                format::micros(r.latency_us.p99),
                format::percent(r.empty_poll_share.unwrap_or(0.0)),
                r.requests_per_event.unwrap_or(f64::NAN)
            ))
        })
        .collect();
    let measured: Vec<&&&CaseResult> = runs.iter().filter(|c| delivered(c)).collect();
    if let (Some(a), Some(b)) = (measured.first(), measured.last())
        && let (Some(ra), Some(rb)) = (a.ok(), b.ok())
        && let (Some(qa), Some(qb)) = (ra.requests_per_event, rb.requests_per_event)
        && measured.len() > 1
        && qb > 0.0
        && ra.latency_us.mean > 0.0
    {
        out.push(format!(
            "Going from {} ms to {} ms cuts requests per event {:.0}× but raises mean latency {:.0}×: no interval is both prompt and cheap.",
            a.params.poll_interval_ms,
            b.params.poll_interval_ms,
            qa / qb,
            rb.latency_us.mean / ra.latency_us.mean
        ));
    }
    out
}

fn round_trip(cs: &[&CaseResult]) -> Vec<String> {
    let mut out: Vec<String> = cs
        .iter()
        .filter_map(|c| {
            let p = c.ok()?.publish.as_ref()?;
            Some(format!(
                "**{}** publishing via {}: round trip p50 {}, p99 {}, {} B sent up per publish, {} of {} publishes came back.",
                c.transport,
                p.via,
                format::micros(p.round_trip_us.p50),
                format::micros(p.round_trip_us.p99),
                num(p.bytes_up_per_publish),
                num(p.echoed as f64),
                num(p.sent as f64)
            ))
        })
        .collect();
    let ws = cs
        .iter()
        .find(|c| c.transport == Transport::Ws)
        .and_then(|c| c.ok()?.publish.as_ref());
    let post = cs
        .iter()
        .filter(|c| c.transport != Transport::Ws)
        .filter_map(|c| c.ok()?.publish.as_ref())
        .map(|p| p.bytes_up_per_publish)
        .fold(f64::NAN, f64::min);
    if let Some(ws) = ws
        && post.is_finite()
        && ws.bytes_up_per_publish > 0.0
    {
        out.push(format!(
            "A WebSocket publish costs {} B upstream against at least {} B for an HTTP POST ({:.1}× less): full duplex pays the handshake once.",
            num(ws.bytes_up_per_publish),
            num(post),
            post / ws.bytes_up_per_publish
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunReport;
    use crate::plot::testdata;

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
        let text = fanout(&refs).join("\n");
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
        let runs = p99_cpu
            .iter()
            .map(|&(p99, cpu)| {
                let mut r = c.clone();
                if let Some(rep) = r.client.as_mut() {
                    rep.latency_us.p99 = p99;
                }
                if let Some(s) = r.server.as_mut() {
                    s.cpu_ms_per_1000_events = Some(cpu);
                }
                r
            })
            .collect();
        crate::repeat::fold(runs).expect("repetitions")
    }

    /// The synthetic cases of `kind` (at the largest client count), ws and sse repeated three
    /// times with these p99s and CPU costs, the other transports left out.
    fn ws_and_sse(kind: Kind, ws: [(f64, f64); 3], sse: [(f64, f64); 3]) -> Vec<CaseResult> {
        let cases = testdata::cases();
        let max = cases
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.params.clients)
            .max()
            .expect("cases");
        cases
            .iter()
            .filter(|c| c.kind == kind && c.params.clients == max)
            .filter_map(|c| match c.transport {
                Transport::Ws => Some(repeated(c, &ws)),
                Transport::Sse => Some(repeated(c, &sse)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn latency_ranks_only_where_the_spreads_do_not_overlap() {
        let apart = ws_and_sse(
            Kind::Latency,
            [(1_000.0, 1.0), (1_200.0, 1.0), (1_100.0, 1.0)],
            [(3_000.0, 1.0), (3_300.0, 1.0), (2_900.0, 1.0)],
        );
        let text = for_kind(Kind::Latency, &apart).join("\n");
        assert!(text.contains("ws 1.10 ms < sse 3.00 ms"), "{text}");
        assert!(text.contains("is 2.7× the fastest (ws, 1.10 ms)"), "{text}");
        assert!(
            text.contains("p99 1.10 ms (1.00 ms–1.20 ms)"),
            "the median and range: {text}"
        );
        // sse's best window is faster than ws's worst: the ranking says ≈, no "×" claim.
        let overlap = ws_and_sse(
            Kind::Latency,
            [(1_000.0, 1.0), (1_200.0, 1.0), (1_100.0, 1.0)],
            [(3_000.0, 1.0), (3_300.0, 1.0), (1_150.0, 1.0)],
        );
        let text = for_kind(Kind::Latency, &overlap).join("\n");
        assert!(text.contains("ws 1.10 ms ≈ sse 3.00 ms"), "{text}");
        assert!(text.contains("within noise"), "{text}");
        assert!(!text.contains("× the fastest"), "{text}");
    }

    #[test]
    fn the_cheapest_fanout_transport_is_named_only_when_clearly_cheapest() {
        let apart = ws_and_sse(
            Kind::Fanout,
            [(1e3, 1.0), (1e3, 1.2), (1e3, 1.1)],
            [(1e3, 2.0), (1e3, 2.2), (1e3, 2.1)],
        );
        let text = for_kind(Kind::Fanout, &apart).join("\n");
        assert!(
            text.contains("cheapest transport for the server at 10\u{202f}000 clients is ws (1.10 (1.00–1.20) ms CPU"),
            "{text}"
        );
        let overlap = ws_and_sse(
            Kind::Fanout,
            [(1e3, 1.0), (1e3, 1.2), (1e3, 1.1)],
            [(1e3, 2.0), (1e3, 1.15), (1e3, 2.1)],
        );
        let text = for_kind(Kind::Fanout, &overlap).join("\n");
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
        let text = latency(&refs).join("\n");
        assert!(
            text.contains("**ws**: p50 ")
                && text.contains("; 50 % of the window's events delivered (by seq)"),
            "{text}"
        );
        assert!(text.contains("**sse**: p50 ") && text.contains("; 100 % of the window's events"));
    }
}
