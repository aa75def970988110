//! Findings: the numbers of each scenario turned into sentences a newcomer can read.
//!
//! Each function looks at the cases of one scenario kind and states what they show, always with
//! the numbers: which transport is fastest at the tail and by how much, what an event costs in
//! bytes at the smallest and largest payload, how far each transport fans out and at what server
//! cost, up to which rate each keeps up, what a poll interval buys, what publishing costs.

use rtlab_wire::Transport;

use crate::plot::fmt_bytes;
use crate::report::{fmt_us, md_table};
use crate::results::{CaseResult, CaseStatus};
use crate::suite::Kind;
use crate::table::{bytes_per_event_cell, server_cpu_cell};

/// A rate counts as "kept up" when at least this share of events was delivered (less a
/// window-edge allowance of two events, which matters only for very short runs; see
/// [`keep_up_delivery`])…
pub const KEEP_UP_DELIVERY: f64 = 0.99;
/// …with no loss and a p99 under this many µs.
pub const KEEP_UP_P99_US: f64 = 100_000.0;

/// The delivery ratio a case must reach to count as keeping up: [`KEEP_UP_DELIVERY`], or lower
/// for windows so short that events in flight at the window's edges weigh more than 1 %.
pub fn keep_up_delivery(rate: u64, duration_s: f64) -> f64 {
    let events = rate as f64 * duration_s;
    if events <= 0.0 {
        return KEEP_UP_DELIVERY;
    }
    KEEP_UP_DELIVERY.min(1.0 - 2.0 / events)
}

fn ok_of(cases: &[CaseResult], kind: Kind) -> Vec<&CaseResult> {
    cases
        .iter()
        .filter(|c| c.kind == kind && c.ok().is_some())
        .collect()
}

fn pct(v: f64) -> String {
    format!("{:.0} %", v * 100.0)
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        let s = format!("{v:.0}");
        // Thin thousands separators for readability: 12 345.
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push('\u{202f}');
            }
            out.push(ch);
        }
        out
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
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
                fmt_us(r.latency_us.p50),
                fmt_us(r.latency_us.p99),
                num(r.events_per_s),
                bytes_per_event_cell(c),
                server_cpu_cell(c),
                r.lost.to_string(),
            ])
        })
        .collect();
    md_table(
        &[
            "transport",
            "case",
            "p50",
            "p99",
            "events/s delivered",
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
    if cs.is_empty() && !(kind == Kind::Rate && cases.iter().any(|c| c.kind == Kind::Rate)) {
        return Vec::new();
    }
    match kind {
        Kind::Latency => latency(&cs),
        Kind::Payload => payload(&cs),
        Kind::Fanout => fanout(&cs),
        Kind::Rate => rate(&cs, cases),
        Kind::PollInterval => poll_interval(&cs),
        Kind::RoundTrip => round_trip(&cs),
    }
}

fn latency(cs: &[&CaseResult]) -> Vec<String> {
    let mut out: Vec<String> = cs
        .iter()
        .filter_map(|c| {
            let r = c.ok()?;
            Some(format!(
                "**{}**: p50 {}, p99 {}, p99.9 {}, max {}; {} events/s delivered ({} of published), {} lost.",
                c.transport,
                fmt_us(r.latency_us.p50),
                fmt_us(r.latency_us.p99),
                fmt_us(r.latency_us.p999),
                fmt_us(r.latency_us.max),
                num(r.events_per_s),
                pct(r.delivery_ratio),
                r.lost
            ))
        })
        .collect();
    let mut by_p99: Vec<(&CaseResult, f64)> = cs
        .iter()
        .filter_map(|c| Some((*c, c.ok()?.latency_us.p99)))
        .collect();
    by_p99.sort_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some(best), Some(worst)) = (by_p99.first(), by_p99.last())
        && best.1 > 0.0
    {
        out.push(format!(
            "Ranked by p99: {}. The slowest tail ({}, {}) is {:.1}× the fastest ({}, {}).",
            by_p99
                .iter()
                .map(|(c, v)| format!("{} {}", c.transport, fmt_us(*v)))
                .collect::<Vec<_>>()
                .join(" < "),
            worst.0.transport,
            fmt_us(worst.1),
            worst.1 / best.1,
            best.0.transport,
            fmt_us(best.1)
        ));
    }
    if let Some(sp) = cs.iter().find(|c| c.transport == Transport::ShortPoll) {
        out.push(format!(
            "Short polling's median ({}) is set by its {} ms poll interval, not by the network: an event waits for the next poll.",
            fmt_us(sp.ok().map_or(0.0, |r| r.latency_us.p50)),
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
                    pct(c.payload_efficiency()?)
                ))
            })
            .collect();
        if !parts.is_empty() {
            out.push(format!(
                "At {} of payload, one delivered event costs on the wire: {}.",
                fmt_bytes(size as f64),
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
        let Some(r) = c.ok() else { continue };
        let ideal = c.params.clients as f64 * c.params.rate as f64;
        let s = c.server.as_ref();
        out.push(format!(
            "At {} clients, **{}** delivered {} events/s (ideal {}; {} of the events published in the window reached every subscriber, counted by seq), p99 {}; the server spent {} ms of CPU per 1 000 events and {} per connection.",
            num(max_clients as f64),
            c.transport,
            num(r.events_per_s),
            num(ideal),
            pct(r.delivery_ratio),
            fmt_us(r.latency_us.p99),
            s.and_then(|s| s.cpu_ms_per_1000_events).map_or("n/a".into(), |v| format!("{v:.2}")),
            s.and_then(|s| s.memory_per_connection_bytes).map_or("n/a".into(), fmt_bytes),
        ));
    }
    let cheapest = cs
        .iter()
        .filter(|c| c.params.clients == max_clients)
        .filter_map(|c| Some((c.transport, c.server.as_ref()?.cpu_ms_per_1000_events?)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((t, v)) = cheapest {
        out.push(format!(
            "The cheapest transport for the server at {} clients is {t} ({v:.2} ms CPU per 1 000 events).",
            num(max_clients as f64)
        ));
    }
    out
}

/// Whether a case kept up: enough delivered, nothing lost, and a p99 under the limit (for a short
/// poll, under the limit plus its interval, which it waits by design).
pub fn kept_up(c: &CaseResult) -> bool {
    let limit = KEEP_UP_P99_US
        + if c.transport == Transport::ShortPoll {
            c.params.poll_interval_ms * 1e3
        } else {
            0.0
        };
    c.ok().is_some_and(|r| {
        c.delivered_share().unwrap_or(0.0) >= keep_up_delivery(c.params.rate, c.params.duration_s)
            && r.lost == 0
            && r.latency_us.p99 <= limit
    })
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
                fmt_us(b.ok().map_or(0.0, |r| r.latency_us.p99))
            ),
            (b, Some(f)) => {
                let upto = match b {
                    Some(b) => format!("kept up to {} events/s", num(b.params.rate as f64)),
                    None => "did not keep up even at the lowest rate tried".into(),
                };
                let what = match f.ok() {
                    Some(r) => format!(
                        "it delivered {} of clients × rate with p99 {}{}",
                        pct(f.delivered_share().unwrap_or(0.0)),
                        fmt_us(r.latency_us.p99),
                        if r.lost > 0 {
                            format!(" and lost {}", num(r.lost as f64))
                        } else {
                            String::new()
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
        "\"Kept up\" means at least {} of clients × rate events delivered (less two events of window-edge allowance), nothing lost, and p99 under {} (plus the poll interval for short polling).",
        pct(KEEP_UP_DELIVERY),
        fmt_us(KEEP_UP_P99_US)
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
                fmt_us(r.latency_us.mean),
                fmt_us(r.latency_us.p99),
                pct(r.empty_poll_share.unwrap_or(0.0)),
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
                fmt_us(p.round_trip_us.p50),
                fmt_us(p.round_trip_us.p99),
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
