//! Round-trip findings: what publishing costs per transport (round trip, bytes sent up), and what
//! full duplex saves over an HTTP POST.

use rtlab_wire::Transport;

use crate::case_result::CaseResult;
use crate::format::{self, num};

/// The sentences about the round-trip scenario's successful cases.
pub(super) fn sentences(cs: &[&CaseResult]) -> Vec<String> {
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
