//! Synthetic cases over shaped links: the network scenario (loopback and mobile) and the
//! bandwidth scenario (one subscriber on a 1 Mbit/s link).

use rtlab_client::network::Profile;
use rtlab_client::report::NetworkReport;
use rtlab_wire::Transport;

use super::case;
use crate::case::{CaseParams, Point};
use crate::case_result::CaseResult;
use crate::link::LinkParams;
use crate::scenario::Kind;

/// The measured round trip of the synthetic mobile link, µs: its 80 ms plus 1 ms of hop.
pub const MOBILE_RTT_US: f64 = 81_000.0;

/// The network scenario over loopback and mobile: pushes one transit behind, long polls two on
/// average and 2.9 at most, short polls (every 250 ms) half the interval plus one; ws and sse
/// pay a round trip for set-up after TCP's.
pub(super) fn network_cases(base: &CaseParams) -> Vec<CaseResult> {
    let mut out = Vec::new();
    for link in [
        LinkParams::of_profile(Profile::Loopback),
        LinkParams::of_profile(Profile::Mobile),
    ] {
        for t in Transport::ALL {
            let mut c = case(
                Kind::Network,
                "network",
                Some(Point::Network(link)),
                t,
                CaseParams {
                    rate: 50,
                    poll_interval_ms: 250.0,
                    network: Some(link),
                    ..base.clone()
                },
            );
            if link.is_shaped() {
                let r = c.client.as_mut().expect("a report");
                let transit = MOBILE_RTT_US / 2.0;
                r.network = Some(NetworkReport {
                    profile: "mobile".into(),
                    rtt_us: 80_000.0,
                    jitter_us: 15_000.0,
                    bandwidth_bps: Some(10_000_000),
                    calibrated_rtt_us: Some(MOBILE_RTT_US),
                    ..Default::default()
                });
                let (p50, max) = match t {
                    Transport::LongPoll => (2.0, 2.9),
                    Transport::ShortPoll => (4.1, 7.2),
                    _ => (1.0, 1.2),
                };
                r.latency_us.p50 = p50 * transit;
                r.latency_us.mean = p50 * transit;
                r.latency_us.max = max * transit;
                r.latency_us.p99 = 0.97 * max * transit;
                let setup = if matches!(t, Transport::Ws | Transport::Sse) {
                    1.0
                } else {
                    0.0
                };
                r.tcp_connect_us.p50 = MOBILE_RTT_US;
                r.connect_us.p50 = (1.0 + setup) * MOBILE_RTT_US;
                r.first_event_us.p50 = r.connect_us.p50 + 0.3 * MOBILE_RTT_US;
                r.first_event_us.count = base.clients;
            }
            out.push(c);
        }
    }
    out
}

/// One subscriber on a 1 Mbit/s link, ws and sse, the rate stepped up: each delivers the
/// offered rate up to its ceiling (125 000 B/s ÷ its bytes per event) and 98 % of it beyond.
pub(super) fn bandwidth_cases(base: &CaseParams) -> Vec<CaseResult> {
    let link = LinkParams {
        profile: None,
        rtt_ms: 20.0,
        jitter_ms: 0.0,
        bandwidth_bps: Some(1_000_000),
    };
    let mut out = Vec::new();
    for t in [Transport::Ws, Transport::Sse] {
        for rate in [250, 1000, 4000] {
            let mut c = case(
                Kind::Bandwidth,
                "bandwidth",
                Some(Point::Rate(rate)),
                t,
                CaseParams {
                    clients: 1,
                    rate,
                    network: Some(link),
                    ..base.clone()
                },
            );
            let r = c.client.as_mut().expect("a report");
            let bytes = r.wire.payload_bytes_per_event + r.wire.overhead_bytes_per_event;
            let ceiling = 125_000.0 / bytes;
            if rate as f64 > ceiling {
                r.events_per_s = 0.98 * ceiling;
            }
            out.push(c);
        }
    }
    out
}

