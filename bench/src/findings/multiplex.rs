//! Multiplexing findings: what HTTP/2 changes when subscribers share connections.
//!
//! Over HTTP/1.1 a connection carries one request at a time, so every SSE stream and every
//! waiting long poll holds a connection of its own (and a browser stops at six per origin). HTTP/2
//! carries many requests at once as *streams* on one connection. The `multiplex` scenario runs
//! SSE and the polls over TLS as HTTP/2 with N subscribers per connection (the client's
//! `--streams-per-connection`), and these findings put its most shared case beside the
//! *unshared* one, per transport: the same load over HTTP/2 with one stream per connection, from
//! the scenario itself if it sweeps down to 1, else from any scenario of the run that ran it (the
//! default suite's `security` scenario runs exactly that load as its `tls-h2` cases, so the
//! suite does not pay for it twice):
//!
//! - **connections** the subscribers opened, and the **set-up bytes per subscriber** on the
//!   wire: the TCP and TLS handshakes are paid per connection, so sharing divides them;
//! - **bytes per event on the wire**: streams of one connection share its TLS records and its
//!   TCP segments, so the server's writes for several subscribers can leave together;
//! - **latency**: the streams of one connection share one TCP byte stream and one writer on the
//!   server, so one subscriber's event waits behind the others' (HTTP/2's head-of-line
//!   blocking at the TCP layer); p50 and p99 show what that cost at this load;
//! - **server CPU per 1 000 events**, `median (min–max)` over repetitions where there are
//!   several (`crate::spread`), and the server's **peak RSS**.
//!
//! A figure a case lacks leaves its clause out.

use rtlab_wire::Transport;

use super::security::{cpu_change, wire_bytes_per_event};
use crate::case::CaseParams;
use crate::case_result::CaseResult;
use crate::format::{self, num};
use crate::repeat::Figure;
use crate::security::Security;
use crate::table::{headline_cell, md_table};

/// Subscribers per connection a case asked for (one if it did not say).
fn streams_of(c: &CaseResult) -> u32 {
    c.params.streams_per_connection.unwrap_or(1)
}

/// Set-up bytes on the wire per subscriber, both directions (handshakes included).
fn setup_bytes_per_subscriber(c: &CaseResult) -> Option<f64> {
    let r = c.ok()?;
    let setup = r.wire.setup_wire_bytes_down + r.wire.setup_wire_bytes_up;
    (r.connected > 0 && setup > 0).then(|| setup as f64 / r.connected as f64)
}

/// Whether `a` and `b` ran the same load the same way but for the streams per connection.
fn same_load(a: &CaseParams, b: &CaseParams) -> bool {
    let bare = |p: &CaseParams| CaseParams {
        streams_per_connection: None,
        ..p.clone()
    };
    bare(a) == bare(b)
}

/// The transport's multiplex cases, fewest streams per connection first, led by the unshared
/// case of the same load (from `all`, any scenario) when the scenario has none of its own.
fn of_transport<'a>(
    cs: &[&'a CaseResult],
    all: &'a [CaseResult],
    transport: Transport,
) -> Vec<&'a CaseResult> {
    let mut v: Vec<&CaseResult> = cs
        .iter()
        .copied()
        .filter(|c| c.transport == transport)
        .collect();
    v.sort_by_key(|c| streams_of(c));
    if let Some(&first) = v.first()
        && streams_of(first) > 1
        && let Some(one) = all.iter().find(|c| {
            c.transport == transport
                && c.ok().is_some()
                && c.params.security == Some(Security::TlsH2)
                && streams_of(c) == 1
                && same_load(&c.params, &first.params)
        })
    {
        v.insert(0, one);
    }
    v
}

/// One sentence per transport: the most shared case against the unshared one (no sentence
/// without an unshared case of the same load).
pub(super) fn sentences(cs: &[&CaseResult], all: &[CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    for transport in Transport::ALL {
        let v = of_transport(cs, all, transport);
        let (Some(&one), Some(&most)) = (v.first(), v.last()) else {
            continue;
        };
        if streams_of(one) != 1 || streams_of(most) <= 1 {
            continue;
        }
        out.extend(sentence(transport, one, most));
    }
    out
}

/// What sharing did to one transport.
fn sentence(transport: Transport, one: &CaseResult, most: &CaseResult) -> Option<String> {
    let (r1, rn) = (one.ok()?, most.ok()?);
    let conns = |n: u64| format!("{n} connection{}", if n == 1 { "" } else { "s" });
    let mut parts = vec![format!(
        "{} for {} subscribers instead of {}",
        conns(rn.connections),
        rn.connected,
        r1.connections
    )];
    if let (Some(a), Some(b)) = (
        setup_bytes_per_subscriber(one),
        setup_bytes_per_subscriber(most),
    ) {
        parts.push(format!(
            "set-up {} per subscriber on the wire instead of {}",
            format::bytes(b),
            format::bytes(a)
        ));
    }
    if let (Some(a), Some(b)) = (wire_bytes_per_event(one), wire_bytes_per_event(most)) {
        parts.push(format!(
            "{} B per event on the wire instead of {} B ({})",
            num(b),
            num(a),
            format::change(a, b)
        ));
    }
    if r1.latency_us.count > 0 && rn.latency_us.count > 0 {
        parts.push(format!(
            "p50 {} and p99 {} instead of {} and {}",
            format::micros(rn.latency_us.p50),
            format::micros(rn.latency_us.p99),
            format::micros(r1.latency_us.p50),
            format::micros(r1.latency_us.p99)
        ));
    }
    parts.extend(cpu_change(one, most));
    Some(format!(
        "**{transport}** with {} streams per HTTP/2 connection (against one each): {}.",
        streams_of(most),
        parts.join("; ")
    ))
}

/// The scenario's table: one row per transport and streams per connection (the unshared row
/// named by its case when it comes from another scenario).
pub(super) fn table(cs: &[&CaseResult], all: &[CaseResult]) -> String {
    let cell = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);
    let mut rows = Vec::new();
    for transport in Transport::ALL {
        for c in of_transport(cs, all, transport) {
            let Some(r) = c.ok() else { continue };
            rows.push(vec![
                transport.to_string(),
                c.id.clone(),
                streams_of(c).to_string(),
                r.connections.to_string(),
                cell(setup_bytes_per_subscriber(c), &|b| format!("{b:.0}")),
                cell(wire_bytes_per_event(c), &|b| format!("{b:.1}")),
                format::micros(r.latency_us.p50),
                format::micros(r.latency_us.p99),
                headline_cell(c, Figure::CpuPer1000),
                c.server.as_ref().map_or("-".into(), |s| {
                    format!("{:.1} MiB", s.rss_peak_bytes as f64 / (1024.0 * 1024.0))
                }),
            ]);
        }
    }
    md_table(
        &[
            "transport",
            "case",
            "streams/conn",
            "connections",
            "set-up B/subscriber (wire)",
            "B/event (wire)",
            "p50",
            "p99",
            "server CPU ms/1k events",
            "server peak RSS",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Kind;
    use crate::testdata;

    /// The multiplex scenario's synthetic cases and the security scenario's.
    fn cases() -> Vec<CaseResult> {
        testdata::cases()
            .into_iter()
            .filter(|c| matches!(c.kind, Kind::Multiplex | Kind::Security))
            .collect()
    }

    fn text(all: &[CaseResult]) -> String {
        let cs: Vec<&CaseResult> = all.iter().filter(|c| c.kind == Kind::Multiplex).collect();
        sentences(&cs, all).join("\n")
    }

    fn table_of(all: &[CaseResult]) -> String {
        let cs: Vec<&CaseResult> = all.iter().filter(|c| c.kind == Kind::Multiplex).collect();
        table(&cs, all)
    }

    fn unshared(c: &CaseResult, t: Transport) -> bool {
        c.transport == t && streams_of(c) == 1 && c.params.security == Some(Security::TlsH2)
    }

    #[test]
    fn sharing_is_stated_against_one_stream_each_from_the_data() {
        let text = text(&cases());
        // 100 subscribers: 100 connections unshared, 1 with 100 streams each; the synthetic
        // handshake (1 800 B) is paid once instead of 100 times.
        assert!(
            text.contains(
                "**sse** with 100 streams per HTTP/2 connection (against one each): 1 \
                 connection for 100 subscribers instead of 100"
            ),
            "{text}"
        );
        assert!(
            text.contains("set-up 348 B per subscriber on the wire instead of 2.08 KiB"),
            "{text}"
        );
        for t in [Transport::Sse, Transport::LongPoll, Transport::ShortPoll] {
            assert!(
                text.contains(&format!("**{t}** with 100 streams")),
                "{text}"
            );
        }
        assert!(!text.contains("**ws**"), "{text}");
    }

    #[test]
    fn latency_and_bytes_follow_the_data() {
        let mut all = cases();
        let shared = all
            .iter_mut()
            .find(|c| c.transport == Transport::Sse && streams_of(c) == 100)
            .unwrap();
        let r = shared.client.as_mut().unwrap();
        r.latency_us.p99 = 5_000.0;
        r.wire.wire_bytes_down /= 2;
        let text = text(&all);
        let sse = text.lines().find(|l| l.starts_with("**sse**")).unwrap();
        assert!(sse.contains("and p99 5.00 ms instead of"), "{sse}");
        assert!(
            sse.contains("B per event on the wire instead of 152 B (-"),
            "{sse}"
        );
    }

    #[test]
    fn the_unshared_case_may_come_from_another_scenario_of_the_same_load() {
        let mut all = cases();
        all.retain(|c| !(c.kind == Kind::Multiplex && streams_of(c) == 1));
        let text = text(&all);
        assert!(
            text.contains(
                "**sse** with 100 streams per HTTP/2 connection (against one each): 1 \
                 connection for 100 subscribers instead of 100"
            ),
            "{text}"
        );
        let table = table_of(&all);
        assert!(
            table.contains("| sse | security-tls-h2-sse | 1 | 100 |"),
            "{table}"
        );
        // Not from a case of another load.
        for c in all.iter_mut().filter(|c| c.kind == Kind::Security) {
            c.params.rate += 1;
        }
        assert!(!self::text(&all).contains("**sse**"));
    }

    #[test]
    fn without_the_unshared_case_there_is_no_sentence() {
        let mut all = cases();
        all.retain(|c| !unshared(c, Transport::Sse));
        let text = text(&all);
        assert!(!text.contains("**sse**"), "{text}");
        assert!(text.contains("**long-poll**"), "{text}");
    }

    #[test]
    fn the_table_has_a_row_per_transport_and_sharing() {
        let table = table_of(&cases());
        // A header, its rule, then 3 transports × 3 points.
        assert_eq!(table.lines().count(), 2 + 9, "{table}");
        assert!(
            table.contains("| sse | multiplex-s100-sse | 100 | 1 | 348 |"),
            "{table}"
        );
    }
}
