//! Security findings: what TLS costs each transport, and what HTTP/2 gives back.
//!
//! The `security` scenario runs the same load per transport in the clear, over TLS, and (for SSE
//! and the polls) over TLS as HTTP/2 (see [`crate::security`]). The client counts bytes on both
//! sides of TLS, so each sentence can split a cost into what the protocol spent (above TLS, the
//! same as in the clear) and what TLS added (below minus above):
//!
//! - **set-up**: bytes per connection before the first event, handshake included; the TLS
//!   handshake's time beside the TCP connect's;
//! - **per event**: TLS's addition per delivered event, and how many 22-byte TLS 1.3 records that
//!   is ([`TLS13_RECORD_OVERHEAD`]): one per event for a stream that writes each event alone,
//!   more where an answer goes out in several writes, fewer where writes batch;
//! - **HTTP/2**: bytes per event and per poll against HTTP/1.1 over TLS (HPACK's saving);
//! - **CPU**: server CPU per 1 000 events against the clear, where both were measured, as
//!   `median (min–max)` over the repetitions, called a change only where the ranges do not
//!   overlap (`crate::spread`).
//!
//! Every comparison is within one transport and one run; a missing figure (a case that failed, a
//! window too short for CPU) leaves its sentence out rather than guessing.

use rtlab_wire::Transport;

use crate::case_result::CaseResult;
use crate::format::{self, num};
use crate::repeat::{Figure, headline};
use crate::security::{Security, TLS13_RECORD_OVERHEAD};
use crate::spread::{Comparison, Spread, compare};
use crate::table::md_table;

/// How a case was carried (the clear if its scenario did not say).
pub fn security_of(c: &CaseResult) -> Security {
    c.params.security.unwrap_or(Security::Plain)
}

/// The case of `transport` carried `how`, if it ran and succeeded.
fn find<'a>(cs: &[&'a CaseResult], transport: Transport, how: Security) -> Option<&'a CaseResult> {
    cs.iter()
        .copied()
        .find(|c| c.transport == transport && security_of(c) == how)
}

/// Bytes per delivered event above TLS (what the protocol spent, both directions).
pub fn protocol_bytes_per_event(c: &CaseResult) -> Option<f64> {
    let r = c.ok()?;
    (r.events_received > 0)
        .then(|| (r.wire.bytes_down + r.wire.bytes_up) as f64 / r.events_received as f64)
}

/// Bytes per delivered event on the wire (below TLS; the same as above in the clear).
pub fn wire_bytes_per_event(c: &CaseResult) -> Option<f64> {
    let r = c.ok()?;
    (r.events_received > 0)
        .then(|| (r.wire.wire_bytes_down + r.wire.wire_bytes_up) as f64 / r.events_received as f64)
}

/// Set-up bytes per connection on the wire, both directions.
fn setup_wire_bytes(c: &CaseResult) -> Option<f64> {
    c.ok()?.wire.setup_wire_bytes_per_connection
}

/// Median TLS handshake, µs (none without TLS).
fn handshake_p50(c: &CaseResult) -> Option<f64> {
    let r = c.ok()?;
    (r.tls_handshake_us.count > 0).then_some(r.tls_handshake_us.p50)
}

/// Median time to the first event, µs.
fn first_event_p50(c: &CaseResult) -> Option<f64> {
    let r = c.ok()?;
    (r.first_event_us.count > 0).then_some(r.first_event_us.p50)
}

/// Server CPU per 1 000 events from `a` to `b`, over their repetitions: `median (min–max)` each,
/// the change of the medians, and whether the ranges say it is a change at all.
pub(super) fn cpu_change(a: &CaseResult, b: &CaseResult) -> Option<String> {
    let (sa, sb) = (
        headline(a, Figure::CpuPer1000)?,
        headline(b, Figure::CpuPer1000)?,
    );
    let text = |s: &Spread| s.cell(|v| format!("{v:.2} ms"));
    let verdict = match (sa.has_spread() && sb.has_spread(), compare(&sb, &sa)) {
        (false, _) => "one run each: no spread to judge noise by",
        (true, Comparison::WithinNoise) => "the ranges overlap: within noise",
        (true, _) => "beyond noise: the ranges do not overlap",
    };
    Some(format!(
        "server CPU per 1 000 events {} instead of {} ({}; {verdict})",
        text(&sb),
        text(&sa),
        format::change(sa.median, sb.median)
    ))
}

/// Poll requests per delivered event (polls only).
fn requests_per_event(c: &CaseResult) -> Option<f64> {
    let r = c.ok()?;
    (r.events_received > 0 && r.requests > 0).then(|| r.requests as f64 / r.events_received as f64)
}

/// The sentences about the security scenario's successful cases.
pub(super) fn sentences(cs: &[&CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    for transport in Transport::ALL {
        let (Some(plain), Some(tls)) = (
            find(cs, transport, Security::Plain),
            find(cs, transport, Security::Tls),
        ) else {
            continue;
        };
        out.extend(tls_sentence(transport, plain, tls));
        if let Some(h2) = find(cs, transport, Security::TlsH2) {
            out.extend(h2_sentence(transport, tls, h2));
        }
    }
    out
}

/// What TLS cost one transport: set-up, per event, time, CPU.
fn tls_sentence(transport: Transport, plain: &CaseResult, tls: &CaseResult) -> Option<String> {
    let mut parts = Vec::new();
    if let (Some(a), Some(b)) = (setup_wire_bytes(plain), setup_wire_bytes(tls)) {
        let mut s = format!(
            "set-up grows from {} to {} per connection",
            format::bytes(a),
            format::bytes(b)
        );
        if let Some(h) = handshake_p50(tls) {
            s.push_str(&format!(
                " (the TLS handshake's median time: {})",
                format::micros(h)
            ));
        }
        parts.push(s);
    }
    if let (Some(above), Some(below)) = (protocol_bytes_per_event(tls), wire_bytes_per_event(tls)) {
        let added = below - above;
        parts.push(format!(
            "each event costs {} B on the wire against {} B of protocol, {} B of TLS records \
             ({:.1} × the {} B a TLS 1.3 record adds to each write)",
            num(below),
            num(above),
            num(added),
            added / TLS13_RECORD_OVERHEAD,
            TLS13_RECORD_OVERHEAD
        ));
    }
    if let (Some(a), Some(b)) = (first_event_p50(plain), first_event_p50(tls)) {
        parts.push(format!(
            "the first event arrives after {} instead of {}",
            format::micros(b),
            format::micros(a)
        ));
    }
    parts.extend(cpu_change(plain, tls));
    (!parts.is_empty()).then(|| format!("**{transport}** over TLS: {}.", parts.join("; ")))
}

/// What HTTP/2 changed against HTTP/1.1, both over TLS.
fn h2_sentence(transport: Transport, h1: &CaseResult, h2: &CaseResult) -> Option<String> {
    let mut parts = Vec::new();
    if let (Some(a), Some(b)) = (wire_bytes_per_event(h1), wire_bytes_per_event(h2)) {
        parts.push(format!(
            "{} B per event on the wire instead of {} B ({})",
            num(b),
            num(a),
            format::change(a, b)
        ));
    }
    let per_request = |c: &CaseResult| {
        let r = c.ok()?;
        (r.requests > 0).then(|| (r.wire.bytes_up) as f64 / r.requests as f64)
    };
    if transport.is_streaming() {
        // One request per connection: HPACK has nothing to repeat.
    } else if let (Some(a), Some(b)) = (per_request(h1), per_request(h2)) {
        parts.push(format!(
            "a poll request is {} B instead of {} B above TLS (HPACK sends repeated headers as \
             table references)",
            num(b),
            num(a)
        ));
    }
    parts.extend(cpu_change(h1, h2));
    (!parts.is_empty()).then(|| {
        format!(
            "**{transport}** over HTTP/2 (against HTTP/1.1, both over TLS): {}.",
            parts.join("; ")
        )
    })
}

/// The scenario's table: one row per transport and way of carrying it.
pub(super) fn table(cs: &[&CaseResult]) -> String {
    let cell = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);
    let mut rows = Vec::new();
    for transport in Transport::ALL {
        for how in Security::ALL {
            let Some(c) = find(cs, transport, how) else {
                continue;
            };
            rows.push(vec![
                transport.to_string(),
                how.as_str().to_owned(),
                cell(setup_wire_bytes(c), &|b| format!("{b:.0}")),
                cell(handshake_p50(c), &format::micros),
                cell(first_event_p50(c), &format::micros),
                cell(protocol_bytes_per_event(c), &|b| format!("{b:.1}")),
                cell(wire_bytes_per_event(c), &|b| format!("{b:.1}")),
                cell(requests_per_event(c), &|r| format!("{r:.2}")),
                crate::table::headline_cell(c, Figure::CpuPer1000),
            ]);
        }
    }
    md_table(
        &[
            "transport",
            "carried",
            "set-up B/conn (wire)",
            "TLS handshake p50",
            "first event p50",
            "B/event (protocol)",
            "B/event (wire)",
            "requests/event",
            "server CPU ms/1k events",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Kind;
    use crate::testdata;

    fn cases() -> Vec<CaseResult> {
        testdata::of_kind(Kind::Security)
    }

    fn text(cases: &[CaseResult]) -> String {
        testdata::sentences_of(sentences, cases).join("\n")
    }

    #[test]
    fn tls_costs_are_stated_from_both_sides_of_tls() {
        let all = cases();
        let text = text(&all);
        // ws: 130 + 200 B of set-up in the clear, 1 800 B more with the handshake; one 22-byte
        // record per event.
        assert!(
            text.contains("**ws** over TLS: set-up grows from 330 B to 2.08 KiB per connection")
                && text.contains("(the TLS handshake's median time: 900 µs)"),
            "{text}"
        );
        assert!(
            text.contains("22 B of TLS records (1.0 × the 22 B"),
            "{text}"
        );
        assert!(
            text.contains("the first event arrives after 2.30 ms instead of 1.20 ms"),
            "{text}"
        );
        assert!(
            text.contains(
                "server CPU per 1 000 events 6.50 ms instead of 5.00 ms (+30.0%; one run each"
            ),
            "{text}"
        );
        // Every transport has its TLS sentence; only SSE and the polls an HTTP/2 one.
        for t in Transport::ALL {
            assert!(text.contains(&format!("**{t}** over TLS:")), "{t}: {text}");
            assert_eq!(
                text.contains(&format!("**{t}** over HTTP/2")),
                Security::TlsH2.carries(t),
                "{t}: {text}"
            );
        }
    }

    #[test]
    fn the_sentences_follow_the_data() {
        let mut all = cases();
        // Twice the records on the ws TLS case: the sentence says 2.0 ×.
        let c = all
            .iter_mut()
            .find(|c| c.transport == Transport::Ws && security_of(c) == Security::Tls)
            .unwrap();
        let r = c.client.as_mut().unwrap();
        r.wire.wire_bytes_down += (r.events_received as f64 * TLS13_RECORD_OVERHEAD) as u64;
        let text = text(&all);
        assert!(
            text.contains("44 B of TLS records (2.0 × the 22 B"),
            "{text}"
        );
        // Without the plain ws case there is nothing to compare against: no ws sentence.
        all.retain(|c| !(c.transport == Transport::Ws && security_of(c) == Security::Plain));
        assert!(!self::text(&all).contains("**ws** over TLS"));
    }

    #[test]
    fn a_cpu_change_is_called_only_beyond_noise() {
        let all = cases();
        let of = |how: Security, cpu: [f64; 3]| {
            let c = all
                .iter()
                .find(|c| c.transport == Transport::Ws && security_of(c) == how)
                .unwrap();
            testdata::repeated(c, &cpu, |c, v| {
                c.server.as_mut().unwrap().cpu_ms_per_1000_events = Some(v);
            })
        };
        let plain = of(Security::Plain, [4.8, 5.0, 5.2]);
        let clear = cpu_change(&plain, &of(Security::Tls, [6.3, 6.5, 6.7])).unwrap();
        assert_eq!(
            clear,
            "server CPU per 1 000 events 6.50 ms (6.30 ms–6.70 ms) instead of 5.00 ms \
             (4.80 ms–5.20 ms) (+30.0%; beyond noise: the ranges do not overlap)"
        );
        let noisy = cpu_change(&plain, &of(Security::Tls, [5.1, 6.5, 6.7])).unwrap();
        assert!(
            noisy.ends_with("(+30.0%; the ranges overlap: within noise)"),
            "{noisy}"
        );
    }

    #[test]
    fn hpack_shows_in_the_poll_request_bytes() {
        let text = text(&cases());
        assert!(
            text.contains("**long-poll** over HTTP/2 (against HTTP/1.1, both over TLS):")
                && text.contains("a poll request is 30 B instead of 90 B above TLS"),
            "{text}"
        );
        // A stream has one request per connection: no per-request sentence.
        let sse = text
            .lines()
            .find(|l| l.starts_with("**sse** over HTTP/2"))
            .unwrap();
        assert!(!sse.contains("poll request"), "{sse}");
    }

    #[test]
    fn the_table_has_a_row_per_transport_and_way_of_carrying() {
        let all = cases();
        let refs: Vec<&CaseResult> = all.iter().collect();
        let table = table(&refs);
        // A header, its rule, then 5 × plain + 5 × tls + 3 × tls-h2.
        assert_eq!(table.lines().count(), 2 + 13, "{table}");
        assert!(table.contains("| ws | tls | 2130 | 900 µs |"), "{table}");
        assert!(table.contains("| tcp | plain | 330 | - |"), "{table}");
    }
}
