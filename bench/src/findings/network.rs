//! Network findings: what a real link's round trip does to each transport, counted in transits.
//!
//! A **transit** is one crossing of the link, half its round-trip time (RTT/2). On loopback a
//! transit costs microseconds and every push transport looks alike; over a 80 ms link the
//! transports separate by whole transits, and that is the unit these sentences count in:
//!
//! - a pushed event (WebSocket, SSE, TCP) is one transit behind;
//! - a long-polled event is one transit behind when it finds a request waiting, and up to three
//!   when it is published just after an answer left (the answer's transit, the next request's,
//!   then its own): RFC 6202 §2.2. The check is stated as measured, holding or not;
//! - a short-polled event waits for the next poll (half the interval) and then one transit;
//! - before the first event, a connection pays round trips: TCP's handshake, then the HTTP
//!   request or the WebSocket upgrade, then the wait for an event (polls: their first request).
//!
//! Transits are counted in the round trip the client measured through its shaper before the case
//! ([`predict::transit_us`]: the link plus loopback and the relay's own hop), and each link's
//! figures are set beside the model ([`predict::mean_latency_us`]), so a reader can tell the link
//! from the lab.

use rtlab_wire::Transport;

use crate::case_result::CaseResult;
use crate::format::{self, micros};
use crate::link::LinkParams;
use crate::predict;
use crate::table::md_table;

/// How much past three transits a long poll's maximum may go and still count as "at most three":
/// the link's jitter (one direction's draw can add half of it to each of three transits, so
/// 1.5 × jitter) plus 10 % for the server, the client and the relay's own hop.
fn rfc_allowance_us(link: &LinkParams, transit_us: f64) -> f64 {
    1.5 * link.jitter_ms * 1e3 + 0.1 * 3.0 * transit_us
}

/// The links of the cases, in the order of their round trips (loopback first).
pub(crate) fn links(cs: &[&CaseResult]) -> Vec<LinkParams> {
    let mut v: Vec<LinkParams> = Vec::new();
    for c in cs {
        let link = c.params.network.unwrap_or(LinkParams::of_profile(
            rtlab_client::network::Profile::Loopback,
        ));
        if !v.contains(&link) {
            v.push(link);
        }
    }
    v.sort_by(|a, b| a.rtt_ms.total_cmp(&b.rtt_ms));
    v
}

/// The cases over `link` (a case without one is on loopback).
pub(crate) fn over<'a>(cs: &[&'a CaseResult], link: &LinkParams) -> Vec<&'a CaseResult> {
    cs.iter()
        .copied()
        .filter(|c| c.params.network.map_or(!link.is_shaped(), |l| l == *link))
        .collect()
}

/// `82.1 ms` measured through the shaper, if the client calibrated the link.
fn measured_rtt_us(cs: &[&CaseResult]) -> Option<f64> {
    let rtts: Vec<f64> = cs
        .iter()
        .filter(|c| c.ok().is_some())
        .filter_map(|c| c.shaper_rtt_us())
        .collect();
    crate::spread::Spread::of(rtts).map(|s| s.median)
}

/// Time to first event of one case, split: TCP connect, HTTP set-up (upgrade or response head;
/// zero for polls and TCP), and the rest until the first event; p50s, µs.
pub(crate) fn first_event_split(c: &CaseResult) -> Option<[f64; 3]> {
    let r = c.ok()?;
    if r.first_event_us.count == 0 {
        return None;
    }
    let tcp = r.tcp_connect_us.p50.min(r.connect_us.p50);
    let setup = (r.connect_us.p50 - tcp).max(0.0);
    let wait = (r.first_event_us.p50 - r.connect_us.p50).max(0.0);
    Some([tcp, setup, wait])
}

/// The sentences about the network scenario's successful cases.
pub(super) fn sentences(cs: &[&CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    let links = links(cs);
    for link in &links {
        let on = over(cs, link);
        if on.is_empty() {
            continue;
        }
        out.push(latency_sentence(link, &on));
        if link.is_shaped() {
            out.extend(rfc_sentence(link, &on));
            out.extend(first_event_sentence(link, &on));
        }
    }
    out.extend(loopback_hides(cs, &links));
    out.extend(shaper_headroom(cs, &links));
    out
}

/// The shaper is a user-space hop: the run's calibration measured how fast it relays on its own,
/// which must stand well above every link it imitates for the links, not the relay, to be what
/// was measured.
fn shaper_headroom(cs: &[&CaseResult], links: &[LinkParams]) -> Option<String> {
    let ceiling = cs
        .iter()
        .find_map(|c| c.calibration.as_ref()?.shaper_ceiling_bps)?;
    let fastest = links.iter().filter_map(|l| l.bandwidth_bps).max();
    let beside = match fastest {
        Some(bps) => format!(
            ", {:.0}× the fastest link here ({})",
            ceiling / bps as f64,
            rtlab_client::network::format_bandwidth(bps)
        ),
        None => String::new(),
    };
    Some(format!(
        "The shaper on its own (no delay, no rate limit) relayed {} Mbit/s through one connection in the calibration step{beside}.",
        format::num(ceiling / 1e6)
    ))
}

/// `Over mobile (…; 81.9 ms through the shaper): p50 ws 41.2 ms (1.03 transits), …`
fn latency_sentence(link: &LinkParams, on: &[&CaseResult]) -> String {
    let cells: Vec<String> = on
        .iter()
        .filter_map(|c| {
            let r = c.ok()?;
            let transit = predict::transit_us(c);
            let mut cell = format!("{} {}", c.transport, micros(r.latency_us.p50));
            if transit > 0.0 {
                cell += &format!(" ({:.2} transits)", r.latency_us.p50 / transit);
            }
            Some(cell)
        })
        .collect();
    let measured = match measured_rtt_us(on) {
        Some(rtt) if link.is_shaped() => format!(" ({} measured through the shaper)", micros(rtt)),
        _ => String::new(),
    };
    format!(
        "Over **{link}**{measured}, at {} events/s: p50 {}{}.",
        on[0].params.rate,
        cells.join(", "),
        if link.is_shaped() {
            " (a transit: half the measured round trip)"
        } else {
            ""
        }
    )
}

/// The RFC 6202 §2.2 check for the long poll over one link, as measured. The check is made on the
/// p99, not on the single slowest event: one event of a thousand that met a busy core says
/// nothing about the protocol. The maximum is stated beside it, with how far past three transits
/// it went.
fn rfc_sentence(link: &LinkParams, on: &[&CaseResult]) -> Option<String> {
    let c = on.iter().find(|c| c.transport == Transport::LongPoll)?;
    let r = c.ok()?;
    let transit = predict::transit_us(c);
    if transit <= 0.0 || r.latency_us.count == 0 {
        return None;
    }
    let spacing_ms = 1e3 / predict::event_rate(c);
    let l = &r.latency_us;
    let d = c.calibration.as_ref().map_or(0.0, |k| k.one_way_delay_us);
    if transit < d {
        // A LAN's transit is shorter than what the server and client add themselves: counted in
        // transits, the lab's own delay would be judged as the protocol's.
        return Some(format!(
            "RFC 6202 §2.2 over {}: not checked: one transit ({}) is shorter than the lab's own one-way delay ({}), so latency in transits would measure the lab, not the link.",
            link.label(),
            micros(transit),
            micros(d)
        ));
    }
    let three = 3.0 * transit + d;
    let allowance = rfc_allowance_us(link, transit);
    let holds = l.p50 >= 0.9 * transit && l.p99 <= three + allowance;
    let denser = spacing_ms < link.rtt_ms;
    let max_text = if l.max > three {
        format!(
            "max {:.2} ({} past three)",
            l.max / transit,
            micros(l.max - three)
        )
    } else {
        format!("max {:.2}", l.max / transit)
    };
    Some(format!(
        "RFC 6202 §2.2 over {}: events every {:.0} ms are {} than the {} ms round trip, so a long poll should be {}; measured p50 {:.2}, p99 {:.2}, {max_text} transits: {}.",
        link.label(),
        spacing_ms,
        if denser { "denser" } else { "sparser" },
        link.rtt_ms,
        if denser {
            "one to three transits behind (two on average)"
        } else {
            "about one transit behind, three at worst"
        },
        l.p50 / transit,
        l.p99 / transit,
        if holds {
            format!(
                "**holds** (p99 within three transits plus the one-way delay, allowing {} for jitter and the hop)",
                micros(allowance)
            )
        } else if l.p99 > three + allowance {
            format!(
                "**does not hold**: the p99 is {} past three transits",
                micros(l.p99 - three)
            )
        } else {
            "**does not hold**: the median is under one transit".to_owned()
        }
    ))
}

/// `Time to first event over mobile, in round trips: ws 2.1 (TCP 1.0 + upgrade 1.0 + 0.1), …`
fn first_event_sentence(link: &LinkParams, on: &[&CaseResult]) -> Option<String> {
    let rtt = link.rtt_ms * 1e3;
    if rtt <= 0.0 {
        return None;
    }
    let cells: Vec<String> = on
        .iter()
        .filter_map(|c| {
            let [tcp, setup, wait] = first_event_split(c)?;
            let setup_name = match c.transport {
                Transport::Ws => "upgrade",
                Transport::Sse => "response head",
                _ => "set-up",
            };
            let setup_part = if setup > 0.05 * rtt {
                format!(" + {setup_name} {:.1}", setup / rtt)
            } else {
                String::new()
            };
            Some(format!(
                "{} {:.1} (TCP {:.1}{setup_part} + {:.1} to the event)",
                c.transport,
                (tcp + setup + wait) / rtt,
                tcp / rtt,
                wait / rtt
            ))
        })
        .collect();
    (!cells.is_empty()).then(|| {
        format!(
            "Time to first event over {}, in round trips of {} ms (p50): {}.",
            link.label(),
            link.rtt_ms,
            cells.join(", ")
        )
    })
}

/// What loopback hides: the spread of the push and long-poll p50s on loopback against the
/// slowest link's, both measured.
fn loopback_hides(cs: &[&CaseResult], links: &[LinkParams]) -> Option<String> {
    let (first, last) = (links.first()?, links.last()?);
    if first.is_shaped() || !last.is_shaped() {
        return None;
    }
    let p50 = |link: &LinkParams, t: Transport| {
        over(cs, link)
            .iter()
            .find(|c| c.transport == t)
            .and_then(|c| Some(c.ok()?.latency_us.p50))
    };
    let gap = |link: &LinkParams| Some(p50(link, Transport::LongPoll)? - p50(link, Transport::Ws)?);
    let (near, far) = (gap(first)?, gap(last)?);
    let transit = over(cs, last)
        .iter()
        .find(|c| c.transport == Transport::LongPoll)
        .map_or(last.transit_us(), |c| predict::transit_us(c));
    let hidden = if far.abs() > 10.0 * near.abs() {
        format!(
            " The gap is {:.0}× larger over the link: loopback hides what a round trip costs.",
            far.abs() / near.abs().max(1.0)
        )
    } else {
        String::new()
    };
    Some(format!(
        "On loopback long polling's p50 is {} {} WebSocket's; over {} it is {} {}: {:.1} transits of that link.{hidden}",
        micros(near.abs()),
        if near >= 0.0 { "behind" } else { "ahead of" },
        last.label(),
        micros(far.abs()),
        if far >= 0.0 { "behind" } else { "ahead" },
        far / transit
    ))
}

/// The network table: one row per link and transport.
pub fn table(cs: &[&CaseResult]) -> String {
    let mut rows = Vec::new();
    for link in links(cs) {
        for c in over(cs, &link) {
            let Some(r) = c.ok() else { continue };
            let transit = predict::transit_us(c);
            let in_transits = |us: f64| {
                if transit > 0.0 {
                    format!("{} ({:.2})", micros(us), us / transit)
                } else {
                    micros(us)
                }
            };
            let rtt_cell = match c.shaper_rtt_us() {
                Some(rtt) => micros(rtt),
                None => "—".into(),
            };
            rows.push(vec![
                link.label(),
                rtt_cell,
                c.transport.to_string(),
                in_transits(r.latency_us.p50),
                in_transits(r.latency_us.max),
                micros(r.latency_us.mean),
                predict::mean_latency_us(c).map_or("—".into(), micros),
                micros(r.first_event_us.p50),
                format::percent(c.delivered_share().unwrap_or(0.0)),
            ]);
        }
    }
    md_table(
        &[
            "link",
            "RTT measured",
            "transport",
            "p50 (transits)",
            "max (transits)",
            "mean",
            "model mean",
            "first event p50",
            "delivered",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Kind;
    use crate::testdata::{MOBILE_RTT_US, of_kind, sentences_of};

    fn said(cases: &[CaseResult], start: &str) -> String {
        sentences_of(sentences, cases)
            .into_iter()
            .find(|s| s.starts_with(start))
            .unwrap_or_else(|| panic!("no sentence starting {start:?}"))
    }

    fn long_poll_on_mobile(cases: &mut [CaseResult]) -> &mut crate::RunReport {
        cases
            .iter_mut()
            .find(|c| c.id == "network-mobile-long-poll")
            .and_then(|c| c.client.as_mut())
            .unwrap()
    }

    #[test]
    fn latency_is_counted_in_measured_transits() {
        let cases = of_kind(Kind::Network);
        let s = said(&cases, "Over **mobile");
        assert!(s.contains("81.00 ms measured through the shaper"), "{s}");
        assert!(s.contains("ws 40.50 ms (1.00 transits)"), "{s}");
        assert!(s.contains("long-poll 81.00 ms (2.00 transits)"), "{s}");
        let loopback = said(&cases, "Over **loopback**");
        assert!(!loopback.contains("transits"), "{loopback}");
    }

    #[test]
    fn the_rfc_check_holds_or_fails_with_the_data() {
        let mut cases = of_kind(Kind::Network);
        let held = said(&cases, "RFC 6202");
        assert!(held.contains("max 2.90 transits: **holds**"), "{held}");
        assert!(held.contains("denser than the 80 ms round trip"), "{held}");

        // A p99 of four transits is past any jitter allowance: the check fails, and says by how
        // much; the maximum is given with its excess.
        let r = long_poll_on_mobile(&mut cases);
        r.latency_us.p99 = 4.0 * MOBILE_RTT_US / 2.0;
        r.latency_us.max = 4.5 * MOBILE_RTT_US / 2.0;
        let failed = said(&cases, "RFC 6202");
        assert!(failed.contains("**does not hold**: the p99 is"), "{failed}");
        assert!(failed.contains("max 4.50 ("), "{failed}");
        assert!(!failed.contains("**holds**"), "{failed}");
    }

    #[test]
    fn the_rfc_check_is_not_made_where_the_lab_outweighs_the_link() {
        let mut cases = of_kind(Kind::Network);
        for c in &mut cases {
            c.calibration.as_mut().unwrap().one_way_delay_us = MOBILE_RTT_US;
        }
        let s = said(&cases, "RFC 6202");
        assert!(s.contains("not checked"), "{s}");
        assert!(!s.contains("holds"), "{s}");
    }

    #[test]
    fn first_event_is_split_into_round_trips() {
        let cases = of_kind(Kind::Network);
        let s = said(&cases, "Time to first event over mobile");
        assert!(
            s.contains("ws 2.3 (TCP 1.0 + upgrade 1.0 + 0.3 to the event)"),
            "{s}"
        );
        assert!(
            s.contains("sse 2.3 (TCP 1.0 + response head 1.0 + 0.3"),
            "{s}"
        );
        assert!(
            s.contains("long-poll 1.3 (TCP 1.0 + 0.3 to the event)"),
            "{s}"
        );
    }

    #[test]
    fn the_loopback_comparison_follows_the_data() {
        let mut cases = of_kind(Kind::Network);
        let s = said(&cases, "On loopback");
        assert!(
            s.contains("over mobile it is 40.50 ms behind: 1.0 transits"),
            "{s}"
        );
        assert!(s.contains("loopback hides what a round trip costs"), "{s}");
        // A long poll as prompt as the WebSocket over the link: no claim that loopback hid it.
        let ws_p50 = 40_500.0;
        long_poll_on_mobile(&mut cases).latency_us.p50 = ws_p50;
        let s = said(&cases, "On loopback");
        assert!(!s.contains("hides"), "{s}");
    }

    #[test]
    fn the_shapers_headroom_is_measured_not_assumed() {
        let mut cases = of_kind(Kind::Network);
        let s = said(&cases, "The shaper on its own");
        assert!(
            s.contains(&format!("relayed {} Mbit/s", format::num(4000.0))),
            "{s}"
        );
        assert!(s.contains("400× the fastest link here (10 Mbit/s)"), "{s}");
        for c in &mut cases {
            c.calibration.as_mut().unwrap().shaper_ceiling_bps = None;
        }
        assert!(
            !sentences_of(sentences, &cases)
                .iter()
                .any(|s| s.starts_with("The shaper"))
        );
    }

    #[test]
    fn the_table_has_a_row_per_link_and_transport() {
        let cases = of_kind(Kind::Network);
        let refs: Vec<&CaseResult> = cases.iter().collect();
        let t = table(&refs);
        assert_eq!(t.lines().count(), 2 + 10, "{t}");
        assert!(
            t.contains("| mobile | 81.00 ms | long-poll | 81.00 ms (2.00) |"),
            "{t}"
        );
    }
}
