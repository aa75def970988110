//! Calibration: what round trip did the shaper really add?
//!
//! A shaper that is itself slow (a busy CPU, timers firing late) would silently make every
//! link longer than asked, and every latency with it. So before the run the client times a few
//! small HTTP round trips to the server twice: once straight (loopback's own round trip, the
//! server's answer included) and once through the shaper. Through the shaper it should take
//! the link's RTT plus loopback's own, within a few per cent; the report carries both medians,
//! so a reader can check.
//!
//! The request is `GET` of a path no server has ([`CALIBRATION_PATH`]): every HTTP server
//! answers a 404 at once, with a small body, so the round trip is the network's and not the
//! server's work (and no bandwidth goes to a big answer). Servers without an HTTP side (`tcp`
//! without `--control-url`) are not calibrated.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;

use super::{Network, Shaper};
use crate::config::Target;
use crate::report::NetworkReport;
use crate::tls::TlsConnector;
use crate::transport::SubError;
use crate::transport::http::HttpClient;
use crate::wire_counter::ByteTally;

/// The path asked for: no server has it, so each answers a quick 404.
pub const CALIBRATION_PATH: &str = "/.rtlab-calibration";

/// Round trips timed per measurement (after the connection's own set-up).
pub const ROUND_TRIPS: usize = 7;

/// The median of [`ROUND_TRIPS`] request/response round trips over one keep-alive connection
/// to `addr` (the server, or a shaper in front of it); `handshake` is the dial's wait (see
/// [`Shaper::handshake`](super::Shaper::handshake)).
pub async fn median_round_trip(
    addr: SocketAddr,
    target: &Target,
    handshake: Duration,
) -> Result<Duration, SubError> {
    median_round_trip_over(addr, target, handshake, None).await
}

/// [`median_round_trip`] over TLS when `tls` is given (the session's handshake is set-up,
/// not timed).
pub async fn median_round_trip_over(
    addr: SocketAddr,
    target: &Target,
    handshake: Duration,
    tls: Option<&TlsConnector>,
) -> Result<Duration, SubError> {
    let mut client = HttpClient::open(
        addr,
        target,
        (0, 1),
        handshake,
        tls,
        ByteTally::new_shared(),
    )
    .await?;
    let path = target.path(CALIBRATION_PATH);
    let mut body = Vec::new();
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        // Any status will do: the answer's arrival is what is timed.
        client
            .request(Method::GET, &path, Bytes::new(), &mut body)
            .await?;
        samples.push(t.elapsed());
    }
    Ok(median(&mut samples))
}

/// The report's `network`: the link asked for, and the round trips measured straight to the
/// server's HTTP side (`control`) and through its `shaper`.
pub async fn calibrate(
    network: Network,
    control: Option<&(Target, SocketAddr)>,
    shaper: Option<&Shaper>,
    tls: Option<&TlsConnector>,
) -> NetworkReport {
    let link = network.link;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut report = NetworkReport {
        profile: network.name().to_owned(),
        rtt_us: link.map_or(0.0, |l| us(l.rtt)),
        jitter_us: link.map_or(0.0, |l| us(l.jitter)),
        bandwidth_bps: link.and_then(|l| l.bandwidth_bps),
        ..NetworkReport::default()
    };
    let Some(link) = link else {
        return report; // loopback: nothing added, nothing to calibrate
    };
    let (Some((target, addr)), Some(shaper)) = (control, shaper) else {
        report.calibration_error =
            Some("no HTTP side to calibrate against (tcp without --control-url)".into());
        return report;
    };
    let straight = median_round_trip_over(*addr, target, Duration::ZERO, tls).await;
    let shaped = median_round_trip_over(shaper.addr(), target, shaper.handshake(), tls).await;
    match (straight, shaped) {
        (Ok(straight), Ok(shaped)) => {
            report.loopback_rtt_us = Some(us(straight));
            report.calibrated_rtt_us = Some(us(shaped));
            report.calibration_excess_us = Some(us(shaped) - us(straight) - us(link.rtt));
        }
        (Err(e), _) | (_, Err(e)) => {
            report.calibration_error = Some(format!("a calibration round trip failed: {e}"));
        }
    }
    report
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_ignores_one_slow_trip() {
        let ms = Duration::from_millis;
        assert_eq!(
            median(&mut [ms(41), ms(40), ms(90), ms(40), ms(42)]),
            ms(41)
        );
        assert_eq!(median(&mut []), Duration::ZERO);
    }
}
