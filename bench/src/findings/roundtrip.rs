//! Round-trip findings: what publishing costs per transport (round trip, bytes sent up), and what
//! a WebSocket frame saves over an HTTP POST. Both publishers reuse one connection for the whole
//! window (the POST publisher keeps its connection alive), so neither pays a handshake per publish:
//! the difference per publish is what each protocol wraps around the same event text, an HTTP
//! request line and headers against a 6–8 byte masked frame header.

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
        let (w, p) = (ws.bytes_up_per_publish, post);
        let comparison = if w < p {
            format!(
                "{:.1}× less; over one kept-alive connection each, the {} B difference per publish is the HTTP request line and headers every POST repeats around the event",
                p / w,
                num(p - w)
            )
        } else {
            format!(
                "{:.1}× more: not what the framing arithmetic predicts, and unexplained by this run",
                w / p
            )
        };
        out.push(format!(
            "A WebSocket publish costs {} B upstream against at least {} B for an HTTP POST ({comparison}).",
            num(w),
            num(p),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Kind;
    use crate::testdata::{of_kind, sentences_of};

    fn comparison(cases: &[CaseResult]) -> String {
        sentences_of(sentences, cases).pop().unwrap()
    }

    #[test]
    fn the_upstream_comparison_follows_the_data() {
        let mut cases = of_kind(Kind::RoundTrip);
        let text = comparison(&cases);
        assert!(
            text.contains("60 B upstream against at least 180 B"),
            "{text}"
        );
        assert!(text.contains("3.0× less"), "{text}");
        assert!(text.contains("the 120 B difference"), "{text}");
        assert!(!text.contains("handshake"), "{text}");

        for c in &mut cases {
            let publish = c.client.as_mut().unwrap().publish.as_mut().unwrap();
            publish.bytes_up_per_publish = if c.transport == Transport::Ws {
                400.0
            } else {
                200.0
            };
        }
        let text = comparison(&cases);
        assert!(text.contains("2.0× more"), "{text}");
        assert!(text.contains("unexplained"), "{text}");
    }
}
