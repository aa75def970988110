//! Synthetic cases of the security scenario: every transport in the clear and over TLS, SSE and
//! the polls over HTTP/2 too. TLS adds a 1 800-byte handshake per connection, one 22-byte record
//! per event (streams) or per answer and per request (polls), 1.3× the server's CPU; HTTP/2 shrinks
//! a poll request from 90 to 30 bytes. And the multiplex scenario's: SSE and the polls over
//! HTTP/2 with 1, 10 and 100 subscribers per connection, the handshake paid per connection.

use rtlab_wire::Transport;

use super::case;
use crate::case::{CaseParams, Point};
use crate::case_result::CaseResult;
use crate::scenario::Kind;
use crate::security::{Security, TLS13_RECORD_OVERHEAD};
use crate::{LatencySummary, RunReport};

/// Bytes of the synthetic TLS handshake, both directions, per connection.
pub const HANDSHAKE_BYTES: u64 = 1_800;

/// The security scenario's cases over `base` (100 clients).
pub(super) fn security_cases(base: &CaseParams) -> Vec<CaseResult> {
    let mut out = Vec::new();
    for t in Transport::ALL {
        for how in Security::ALL.into_iter().filter(|s| s.carries(t)) {
            let mut c = case(
                Kind::Security,
                "security",
                Some(Point::Security(how)),
                t,
                CaseParams {
                    clients: 100,
                    security: Some(how),
                    ..base.clone()
                },
            );
            let r = c.client.as_mut().expect("a report");
            carry(r, how, !t.is_streaming());
            if let Some(cost) = c.server.as_mut()
                && how.is_tls()
            {
                cost.cpu_ms_per_1000_events = cost.cpu_ms_per_1000_events.map(|v| v * 1.3);
            }
            out.push(c);
        }
    }
    out
}

/// The multiplex scenario's cases over `base`: 100 subscribers, 1, 10 or 100 per connection.
pub(super) fn multiplex_cases(base: &CaseParams) -> Vec<CaseResult> {
    let mut out = Vec::new();
    for t in [Transport::Sse, Transport::LongPoll, Transport::ShortPoll] {
        for n in [1u32, 10, 100] {
            let mut c = case(
                Kind::Multiplex,
                "multiplex",
                Some(Point::StreamsPerConnection(n)),
                t,
                CaseParams {
                    clients: 100,
                    security: Some(Security::TlsH2),
                    streams_per_connection: Some(n),
                    ..base.clone()
                },
            );
            let r = c.client.as_mut().expect("a report");
            r.streams_per_connection = u64::from(n);
            r.connections = r.clients.div_ceil(u64::from(n));
            carry(r, Security::TlsH2, !t.is_streaming());
            out.push(c);
        }
    }
    out
}

/// Fills the report's bytes above and below TLS as `how` would make them (a handshake per
/// connection: `connections` if set, else one per subscriber, which it sets).
fn carry(r: &mut RunReport, how: Security, poll: bool) {
    let events = r.events_received;
    let per_event = r.wire.payload_bytes_per_event + r.wire.overhead_bytes_per_event;
    r.wire.bytes_down = (events as f64 * per_event) as u64;
    if !poll {
        r.requests = 0;
        r.wire.bytes_up = 0;
    }
    if how == Security::TlsH2 && poll {
        r.wire.bytes_up = r.requests * 30;
    }
    let setup = r.wire.setup_bytes_down + r.wire.setup_bytes_up;
    if r.connections == 0 {
        r.connections = r.clients;
    }
    let connections = r.connections.max(1);
    let (handshake, records) = if how.is_tls() {
        // A stream writes one record per event; a poll one per answer and one per request.
        let records = if poll { 2 * r.requests } else { events };
        (HANDSHAKE_BYTES * connections, records)
    } else {
        (0, 0)
    };
    let tls_bytes = (records as f64 * TLS13_RECORD_OVERHEAD) as u64;
    r.wire.setup_wire_bytes_down = r.wire.setup_bytes_down + handshake / 2;
    r.wire.setup_wire_bytes_up = r.wire.setup_bytes_up + handshake / 2;
    r.wire.setup_wire_bytes_per_connection = Some((setup + handshake) as f64 / connections as f64);
    // A stream's records all go down; a poll's half down (answers), half up (requests).
    let tls_up = if poll { tls_bytes / 2 } else { 0 };
    r.wire.wire_bytes_down = r.wire.bytes_down + tls_bytes - tls_up;
    r.wire.wire_bytes_up = r.wire.bytes_up + tls_up;
    r.first_event_us = LatencySummary {
        count: r.clients,
        p50: if how.is_tls() { 2_300.0 } else { 1_200.0 },
        ..Default::default()
    };
    if how.is_tls() {
        r.tls = true;
        r.tls_handshake_us = LatencySummary {
            count: r.clients,
            p50: 900.0,
            ..Default::default()
        };
    }
}
