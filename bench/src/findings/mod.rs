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
//!
//! | file | findings |
//! |---|---|
//! | [`glance`] | the "at a glance" table, one row per transport |
//! | [`latency`] | percentiles and the p99 ranking |
//! | [`bytes`] | wire bytes per event at the smallest and largest payload |
//! | [`fanout`] | delivery and server cost at the most clients |
//! | [`rate`] | up to which rate each transport kept up |
//! | [`poll`] | latency and waste against the short-poll interval |
//! | [`roundtrip`] | what publishing costs |
//! | [`capacity`] | ceilings beside the raw-TCP floor; memory per idle connection |
//! | [`keepalive`] | what staying connected costs on an idle feed; what set-up costs |
//! | [`network`] | latency in transits over real links, RFC 6202's check, round trips to the first event |
//! | [`bandwidth`] | each transport's ceiling on a slow link beside link rate ÷ bytes per event |
//! | [`security`] | what TLS costs per connection, per event and in CPU; what HTTP/2 changes |
//! | [`multiplex`] | what HTTP/2 streams sharing a connection save, and what they cost in latency |
//! | [`rank`] | rankings that say `<` only beyond noise (shared by the above) |

pub mod bandwidth;
pub mod bytes;
pub mod capacity;
pub mod fanout;
pub mod glance;
pub mod keepalive;
pub mod latency;
pub mod multiplex;
pub mod network;
pub mod poll;
pub mod rank;
pub mod rate;
pub mod roundtrip;
pub mod security;

pub use glance::glance_table;

use crate::case_result::CaseResult;
use crate::scenario::Kind;

fn ok_of(cases: &[CaseResult], kind: Kind) -> Vec<&CaseResult> {
    cases
        .iter()
        .filter(|c| c.kind == kind && c.ok().is_some())
        .collect()
}

/// Findings for one scenario kind (empty if there are no successful cases of it).
pub fn for_kind(kind: Kind, cases: &[CaseResult]) -> Vec<String> {
    let cs = ok_of(cases, kind);
    // Rate and saturation findings read failed cases too (cut-off subscribers are an answer),
    // and a memory case has no client report.
    let reads_all = matches!(
        kind,
        Kind::Rate | Kind::Saturation | Kind::Memory | Kind::Bandwidth
    );
    if cs.is_empty() && !(reads_all && cases.iter().any(|c| c.kind == kind)) {
        return Vec::new();
    }
    match kind {
        Kind::Latency => {
            let mut out = latency::sentences(&cs);
            out.extend(keepalive::setup_sentences(&cs));
            out
        }
        Kind::Payload => bytes::sentences(&cs),
        Kind::Fanout => fanout::sentences(&cs),
        Kind::Rate => rate::sentences(cases),
        Kind::PollInterval => poll::sentences(&cs),
        Kind::RoundTrip => roundtrip::sentences(&cs),
        Kind::Saturation => capacity::saturation_sentences(cases),
        Kind::Memory => capacity::memory_sentences(cases),
        Kind::KeepAlive => keepalive::idle_sentences(&cs),
        Kind::Network => network::sentences(&cs),
        Kind::Bandwidth => {
            bandwidth::sentences(&cases.iter().filter(|c| c.kind == kind).collect::<Vec<_>>())
        }
        Kind::Security => security::sentences(&cs),
        Kind::Multiplex => multiplex::sentences(&cs, cases),
    }
}

/// A table that goes with a kind's findings, if it has one (the network scenario's, per link and
/// transport; the security scenario's, per transport and way of carrying it; the multiplex
/// scenario's, per transport and streams per connection).
pub fn table_for(kind: Kind, cases: &[CaseResult]) -> Option<String> {
    let cs = ok_of(cases, kind);
    if cs.is_empty() {
        return None;
    }
    match kind {
        Kind::Network => Some(network::table(&cs)),
        Kind::Security => Some(security::table(&cs)),
        Kind::Multiplex => Some(multiplex::table(&cs, cases)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
