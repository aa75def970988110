//! Keep-alive findings: what each transport spends to stay connected while nothing happens, and
//! what it spends to get connected at all.
//!
//! On an idle feed every byte in the window is the price of the connection itself: WebSocket
//! pings and their pongs, SSE comment heartbeats, long polls that time out empty and are asked
//! again, short polls that keep asking, and nothing at all on a raw TCP stream (TCP's own
//! keep-alive probes live below the socket, off by default, and never counted here). All of it
//! is counted at the client's sockets; the sentences give it per connection per minute, split
//! into what the protocol marks as keep-alive (ping, pong and heartbeat frames) and the rest.
//!
//! Set-up is the other fixed cost: the bytes of the handshake or first request and response, the
//! time to connect, and the time to the first event. Those come from the latency scenario, whose
//! feed is live.

use crate::case_result::CaseResult;
use crate::format::{self, num};

/// Bytes per connection per minute in the window, down and up.
fn per_connection_minute(c: &CaseResult) -> Option<(f64, f64, f64)> {
    let r = c.ok()?;
    let per =
        |bytes: u64| bytes as f64 / r.clients.max(1) as f64 / r.duration_s.max(f64::EPSILON) * 60.0;
    Some((
        per(r.wire.bytes_down),
        per(r.wire.bytes_up),
        per(r.wire.keepalive_bytes),
    ))
}

/// The sentences about the keep-alive scenario's successful cases (an idle feed).
pub(super) fn idle_sentences(cs: &[&CaseResult]) -> Vec<String> {
    let mut rows: Vec<(&CaseResult, f64)> = Vec::new();
    let mut out = Vec::new();
    for c in cs {
        let (Some(r), Some((down, up, keepalive))) = (c.ok(), per_connection_minute(c)) else {
            continue;
        };
        let total = down + up;
        let requests = r.requests as f64 / r.clients.max(1) as f64 / r.duration_s * 60.0;
        let what = if total == 0.0 {
            "nothing at all".to_owned()
        } else {
            format!(
                "{} B per minute ({} B down, {} B up), {} of it ping, pong or heartbeat frames{}",
                num(total),
                num(down),
                num(up),
                format::percent(keepalive / total),
                if requests > 0.0 {
                    format!(", in {requests:.1} requests")
                } else {
                    String::new()
                }
            )
        };
        out.push(format!(
            "**{}** idle ({} connections, {} s, no events): each connection spent {what}.",
            c.transport, r.clients, r.duration_s
        ));
        rows.push((c, total));
    }
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some(cheapest), Some(dearest)) = (rows.first(), rows.last())
        && rows.len() > 1
        && dearest.1 > 0.0
    {
        out.push(format!(
            "Staying connected costs **{}** the most: {} B per connection per minute, against {} B for **{}**.",
            dearest.0.transport,
            num(dearest.1),
            num(cheapest.1),
            cheapest.0.transport,
        ));
    }
    out
}

/// Set-up per transport: handshake bytes per connection, time to connect, time to first event.
pub(super) fn setup_sentences(cs: &[&CaseResult]) -> Vec<String> {
    cs.iter()
        .filter_map(|c| {
            let r = c.ok()?;
            let n = r.clients.max(1) as f64;
            let (down, up) = (r.wire.setup_bytes_down, r.wire.setup_bytes_up);
            // A raw TCP stream has no handshake above TCP's, and a long poll counts its first
            // request as steady traffic (it may wait for the first event).
            let bytes = if down == 0 && up == 0 {
                "no bytes above TCP's own handshake".to_owned()
            } else {
                format!(
                    "{} B down and {} B up per connection",
                    num(down as f64 / n),
                    num(up as f64 / n)
                )
            };
            Some(format!(
                "**{}** set-up: {bytes}; connected in p50 {}, first event after p50 {}.",
                c.transport,
                format::micros(r.connect_us.p50),
                format::micros(r.first_event_us.p50),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rtlab_wire::Transport;

    use super::*;
    use crate::scenario::Kind;
    use crate::testdata::{of_kind, sentences_of};

    #[test]
    fn idle_costs_follow_the_bytes_counted() {
        let mut cases = of_kind(Kind::Latency);
        for c in &mut cases {
            let r = c.client.as_mut().unwrap();
            r.duration_s = 60.0;
            r.clients = 10;
            r.requests = 0;
            let (down, up, keepalive) = match c.transport {
                Transport::Ws => (700, 1_100, 1_800),
                Transport::Sse => (800, 0, 800),
                Transport::Tcp => (0, 0, 0),
                _ => (20_000, 9_000, 0),
            };
            r.wire.bytes_down = down;
            r.wire.bytes_up = up;
            r.wire.keepalive_bytes = keepalive;
        }
        let text = sentences_of(idle_sentences, &cases).join("\n");
        assert!(text.contains("**ws** idle (10 connections, 60 s, no events): each connection spent 180 B per minute (70 B down, 110 B up), 100 % of it ping, pong or heartbeat frames."), "{text}");
        assert!(text.contains("**tcp** idle (10 connections, 60 s, no events): each connection spent nothing at all."), "{text}");
        assert!(text.contains("against 0 B for **tcp**"), "{text}");

        // Another run where polls are cheap and sse dear: the ranking follows.
        for c in &mut cases {
            let r = c.client.as_mut().unwrap();
            if c.transport == Transport::Sse {
                r.wire.bytes_down = 90_000;
            } else if !c.transport.is_streaming() {
                r.wire.bytes_down = 100;
                r.wire.bytes_up = 0;
            }
        }
        let text = sentences_of(idle_sentences, &cases).join("\n");
        assert!(
            text.contains("costs **sse** the most: 9\u{202f}000 B"),
            "{text}"
        );
    }

    #[test]
    fn setup_is_per_connection() {
        let cases = of_kind(Kind::Latency);
        let text = sentences_of(setup_sentences, &cases).join("\n");
        // The synthetic ws case: 130 B down, 200 B up per connection.
        assert!(
            text.contains("**ws** set-up: 130 B down and 200 B up per connection"),
            "{text}"
        );
        // A run where no connection spent set-up bytes says so, not "0 B".
        let mut cases = cases;
        for c in &mut cases {
            let wire = &mut c.client.as_mut().unwrap().wire;
            (wire.setup_bytes_down, wire.setup_bytes_up) = (0, 0);
        }
        let text = sentences_of(setup_sentences, &cases).join("\n");
        assert!(
            text.contains("**tcp** set-up: no bytes above TCP's own handshake"),
            "{text}"
        );
        assert!(!text.contains("0 B down"), "{text}");
    }
}
