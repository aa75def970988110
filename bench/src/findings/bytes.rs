//! Bytes-per-event findings: what one delivered event costs on the wire at the smallest and the
//! largest payload, and why framing's share shrinks as the payload grows.

use crate::case_result::CaseResult;
use crate::format::{self, num};

/// The sentences about the payload scenario's successful cases.
pub(super) fn sentences(cs: &[&CaseResult]) -> Vec<String> {
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
