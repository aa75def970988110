//! Bandwidth findings: on a slow link, bytes per event become a ceiling on events per second.
//!
//! A link of `B` bits/s carries at most `B / 8 / bytes_per_event` events/s to one subscriber,
//! where bytes per event is everything the event costs on the way down: its JSON, its framing
//! and, for a poll, its share of each answer's HTTP head. On loopback no one meets that limit;
//! on a 1 Mbit/s link the transport's framing decides it. The scenario steps the rate up over one
//! rate-limited link; these sentences say, per transport, up to which offered rate the link kept
//! up ([`crate::keep_up::sustained`]), and what it delivered beyond, beside the ceiling
//! computed from the bytes per event the case itself measured
//! ([`predict::link_ceiling_events_per_s`]).

use rtlab_wire::Transport;

use crate::case_result::CaseResult;
use crate::format::{self, num};
use crate::keep_up::sustained;
use crate::predict;

/// Events per second delivered to one subscriber in a case.
pub(crate) fn per_subscriber(c: &CaseResult) -> Option<f64> {
    let r = c.ok()?;
    Some(r.events_per_s / r.connected.max(1) as f64)
}

/// The sentences about the bandwidth scenario's cases.
pub(super) fn sentences(cs: &[&CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    let mut ceilings: Vec<(String, f64)> = Vec::new();
    for t in Transport::ALL {
        let mut steps: Vec<&CaseResult> = cs.iter().copied().filter(|c| c.transport == t).collect();
        steps.sort_by_key(|c| c.params.rate);
        let Some(link) = steps.first().and_then(|c| c.params.network) else {
            // No case of this transport (or one without a link: nothing to compare with).
            continue;
        };
        let kept: Vec<u64> = steps
            .iter()
            .filter(|c| sustained(c))
            .map(|c| c.params.rate)
            .collect();
        let kept_text = match kept.iter().max() {
            Some(r) => format!("kept up to {r} events/s"),
            None => "kept up at no step".to_owned(),
        };
        // The steps offered beyond their ceiling: what the link let through there.
        let beyond: Vec<(u64, f64, f64, f64)> = steps
            .iter()
            .filter_map(|c| {
                let ceiling = predict::link_ceiling_events_per_s(c)?;
                let w = &c.ok()?.wire;
                let bytes = w.payload_bytes_per_event + w.overhead_bytes_per_event;
                (c.params.rate as f64 > ceiling)
                    .then(|| Some((c.params.rate, per_subscriber(c)?, ceiling, bytes)))
                    .flatten()
            })
            .collect();
        let beyond_text = match beyond.last() {
            Some(&(rate, got, ceiling, bytes)) => {
                ceilings.push((t.to_string(), ceiling));
                format!(
                    "; offered {rate}/s, it delivered {}/s per subscriber, {} of the link's ceiling ({} ÷ {} B per event = {}/s)",
                    num(got),
                    format::percent(got / ceiling),
                    rtlab_client::network::format_bandwidth(link.bandwidth_bps.unwrap_or(0)),
                    num(bytes),
                    num(ceiling)
                )
            }
            None => "; no step offered more than its link ceiling".to_owned(),
        };
        out.push(format!("**{t}** over {link}: {kept_text}{beyond_text}."));
    }
    if ceilings.len() > 1 {
        ceilings.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (best, low) = (&ceilings[0], &ceilings[ceilings.len() - 1]);
        out.push(format!(
            "Bytes per event decide the ceiling on this link: {} carries {:.1}× the events per second of {} ({} against {}/s), from framing alone.",
            best.0,
            best.1 / low.1,
            low.0,
            num(best.1),
            num(low.1)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Kind;
    use crate::testdata::{of_kind, sentences_of};

    #[test]
    fn each_ceiling_is_the_link_rate_over_the_measured_bytes() {
        let mut cases = of_kind(Kind::Bandwidth);
        let said = sentences_of(sentences, &cases);
        // ws: 110 B of payload + 2 B of framing per event; 1 Mbit/s carries 1 116 of them.
        let ws = said.iter().find(|s| s.starts_with("**ws**")).unwrap();
        assert!(ws.contains("kept up to 1000 events/s"), "{ws}");
        let ceiling = format!("(1 Mbit/s ÷ 112 B per event = {}/s)", num(1116.0));
        assert!(
            ws.contains(&format!("98 % of the link's ceiling {ceiling}")),
            "{ws}"
        );
        let sse = said.iter().find(|s| s.starts_with("**sse**")).unwrap();
        assert!(sse.contains("kept up to 250 events/s"), "{sse}");
        let last = said.last().unwrap();
        assert!(
            last.contains("ws carries 1.2× the events per second of sse"),
            "{last}"
        );

        // Fatter ws frames: the ranking turns, because it is computed from the bytes.
        for c in cases
            .iter_mut()
            .filter(|c| c.transport == rtlab_wire::Transport::Ws)
        {
            c.client.as_mut().unwrap().wire.overhead_bytes_per_event = 60.0;
        }
        let last = sentences_of(sentences, &cases).pop().unwrap();
        assert!(last.contains("sse carries"), "{last}");
    }
}
