//! Network profiles: the round-trip time, jitter and bandwidth of the links the lab imitates.
//!
//! A link is three numbers ([`Link`]): the **round-trip time** (RTT: a byte's trip there and an
//! answer's trip back, propagation and queueing, no payload), the **jitter** (how much one RTT
//! may differ from the next) and the **bandwidth** (how fast bytes are put on the wire, which
//! turns a big event into a *serialization delay*: 64 KiB at 1 Mbit/s is 0.52 s). The named
//! profiles are typical values, not measurements of one network; their sources:
//!
//! | profile | RTT | jitter | bandwidth | source |
//! |---|---|---|---|---|
//! | `loopback` | — | — | — | no shaping: this machine's loopback (~50 µs RTT) |
//! | `lan` | 1 ms | — | unlimited | a switched Ethernet LAN, an office or a data centre rack |
//! | `broadband` | 30 ms | — | 50 Mbit/s | cable/fibre to a nearby region (FCC *Measuring Broadband America*: 10–30 ms idle latency) |
//! | `mobile` | 80 ms | ± 15 ms | 10 Mbit/s | 4G/LTE (Ofcom and OpenSignal reports: ~50–100 ms, 10–30 Mbit/s) |
//! | `slow-mobile` | 300 ms | ± 50 ms | 1.6 Mbit/s | WebPageTest's and Chrome DevTools' "Slow 3G"-class preset (400 ms, 400 kbit/s) eased to a poor 3G/edge-of-cell 4G link |
//! | `satellite` | 600 ms | — | 10 Mbit/s | geostationary satellite: ~36 000 km up and down twice ≈ 480 ms of light alone (RFC 2488 §2.1) |
//!
//! **How jitter is drawn.** Each direction of a connection delays a chunk by RTT/2 plus a value
//! drawn uniformly in ±jitter/2 (so one round trip lies within ±jitter), as Linux `netem delay
//! 40ms 7.5ms` does by default; and chunks are never reordered (a TCP byte stream cannot be):
//! a chunk is released no earlier than the one before it. That clamp makes the mean delay a
//! little longer than RTT/2 when jitter is on; the report gives the measured RTT.
//!
//! A production lab would replay recorded traces (Mahimahi's cellular traces, say) instead of
//! fixed numbers; three numbers are what a reader can reason about.

use std::fmt;
use std::time::Duration;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// A named link (`--network PROFILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// No shaping at all: connections go straight to the server.
    Loopback,
    /// 1 ms RTT, no bandwidth limit.
    Lan,
    /// 30 ms RTT, 50 Mbit/s.
    Broadband,
    /// 80 ms ± 15 ms RTT, 10 Mbit/s.
    Mobile,
    /// 300 ms ± 50 ms RTT, 1.6 Mbit/s.
    SlowMobile,
    /// 600 ms RTT, 10 Mbit/s.
    Satellite,
}

impl Profile {
    /// The profile's link; `None` for `loopback` (nothing to shape).
    pub fn link(self) -> Option<Link> {
        let ms = Duration::from_millis;
        let link = |rtt, jitter, bandwidth_bps| Link {
            rtt: ms(rtt),
            jitter: ms(jitter),
            bandwidth_bps,
        };
        match self {
            Profile::Loopback => None,
            Profile::Lan => Some(link(1, 0, None)),
            Profile::Broadband => Some(link(30, 0, Some(50_000_000))),
            Profile::Mobile => Some(link(80, 15, Some(10_000_000))),
            Profile::SlowMobile => Some(link(300, 50, Some(1_600_000))),
            Profile::Satellite => Some(link(600, 0, Some(10_000_000))),
        }
    }

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Loopback => "loopback",
            Profile::Lan => "lan",
            Profile::Broadband => "broadband",
            Profile::Mobile => "mobile",
            Profile::SlowMobile => "slow-mobile",
            Profile::Satellite => "satellite",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three numbers of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Round-trip time: each direction delays by half of it.
    pub rtt: Duration,
    /// Jitter of one round trip: each direction adds a uniform draw in ±jitter/2.
    pub jitter: Duration,
    /// Bits per second in each direction; `None` is unlimited.
    pub bandwidth_bps: Option<u64>,
}

impl Link {
    /// A link given in whole milliseconds (tests).
    #[cfg(test)]
    pub(crate) fn millis(rtt_ms: u64, jitter_ms: u64, bandwidth_bps: Option<u64>) -> Self {
        Link {
            rtt: Duration::from_millis(rtt_ms),
            jitter: Duration::from_millis(jitter_ms),
            bandwidth_bps,
        }
    }

    /// One direction's nominal delay, RTT/2.
    pub fn one_way(&self) -> Duration {
        self.rtt / 2
    }

    /// How long `bytes` take to put on the wire at this link's rate (zero when unlimited).
    pub fn serialization(&self, bytes: usize) -> Duration {
        match self.bandwidth_bps {
            Some(bps) if bps > 0 => Duration::from_secs_f64(bytes as f64 * 8.0 / bps as f64),
            _ => Duration::ZERO,
        }
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RTT {} ms", self.rtt.as_secs_f64() * 1e3)?;
        if !self.jitter.is_zero() {
            write!(f, " ± {} ms", self.jitter.as_secs_f64() * 1e3)?;
        }
        match self.bandwidth_bps {
            Some(bps) => write!(f, ", {}", format_bandwidth(bps)),
            None => write!(f, ", unlimited bandwidth"),
        }
    }
}

/// `10 Mbit/s`, `1.6 Mbit/s`, `500 kbit/s`.
pub fn format_bandwidth(bps: u64) -> String {
    if bps >= 1_000_000 {
        format!("{} Mbit/s", bps as f64 / 1e6)
    } else if bps >= 1_000 {
        format!("{} kbit/s", bps as f64 / 1e3)
    } else {
        format!("{bps} bit/s")
    }
}

/// Parses a bandwidth into bits per second: `2mbit`, `500kbit`, `10Mbit/s`, `1.6 Mbps`,
/// `1gbit`, or a bare number of bits per second. Units are decimal (1 Mbit = 10⁶ bits), as
/// link rates are; a `B`/`byte` unit means bytes (`125kB/s` = 1 Mbit/s).
pub fn parse_bandwidth(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a bandwidth like 2mbit or 500kbit"))?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("/s")
        .or_else(|| unit.strip_suffix("ps"))
        .unwrap_or(unit);
    let (prefix, rest) = match unit.chars().next() {
        Some(c @ ('k' | 'K' | 'm' | 'M' | 'g' | 'G')) => (Some(c), &unit[1..]),
        _ => (None, unit),
    };
    let scale = match prefix.map(|c| c.to_ascii_lowercase()) {
        None => 1.0,
        Some('k') => 1e3,
        Some('m') => 1e6,
        _ => 1e9,
    };
    let bits_per_unit = match rest {
        "" | "b" | "bit" | "bits" => 1.0,
        "B" | "byte" | "bytes" => 8.0,
        other => {
            return Err(format!(
                "{s:?}: unknown bandwidth unit {other:?} (use kbit, mbit or gbit)"
            ));
        }
    };
    let bps = n * scale * bits_per_unit;
    if !(bps.is_finite() && bps >= 1.0) {
        return Err(format!("{s:?}: a bandwidth must be at least 1 bit/s"));
    }
    Ok(bps.round() as u64)
}

/// The network a run asks for: a named profile, or the three values given by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// The profile's name, when one was named (`None`: `--rtt` and friends).
    pub profile: Option<Profile>,
    /// The link; `None` for `loopback` (nothing to shape).
    pub link: Option<Link>,
}

impl Network {
    /// A named profile.
    pub fn profile(profile: Profile) -> Self {
        Self {
            profile: Some(profile),
            link: profile.link(),
        }
    }

    /// A link given by its values.
    pub fn custom(link: Link) -> Self {
        Self {
            profile: None,
            link: Some(link),
        }
    }

    /// How the report names it: the profile, or `custom`.
    pub fn name(&self) -> &'static str {
        self.profile.map_or("custom", Profile::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidths_parse_in_the_ways_people_write_them() {
        assert_eq!(parse_bandwidth("2mbit"), Ok(2_000_000));
        assert_eq!(parse_bandwidth("500kbit"), Ok(500_000));
        assert_eq!(parse_bandwidth("10Mbit/s"), Ok(10_000_000));
        assert_eq!(parse_bandwidth("1.6 Mbps"), Ok(1_600_000));
        assert_eq!(parse_bandwidth("1gbit"), Ok(1_000_000_000));
        assert_eq!(parse_bandwidth("125kB/s"), Ok(1_000_000));
        assert_eq!(parse_bandwidth("64000"), Ok(64_000));
        assert!(parse_bandwidth("fast").is_err());
        assert!(parse_bandwidth("0mbit").is_err());
        assert!(parse_bandwidth("2 parsecs").is_err());
        assert!(parse_bandwidth("-1mbit").is_err());
    }

    #[test]
    fn profiles_carry_the_issues_numbers() {
        assert_eq!(Profile::Loopback.link(), None);
        let mobile = Profile::Mobile.link().unwrap();
        assert_eq!(mobile.rtt, Duration::from_millis(80));
        assert_eq!(mobile.jitter, Duration::from_millis(15));
        assert_eq!(mobile.bandwidth_bps, Some(10_000_000));
        assert_eq!(
            Profile::SlowMobile.link().unwrap().to_string(),
            "RTT 300 ms ± 50 ms, 1.6 Mbit/s"
        );
        assert_eq!(
            Profile::Lan.link().unwrap().to_string(),
            "RTT 1 ms, unlimited bandwidth"
        );
    }

    #[test]
    fn serialization_is_bytes_over_rate() {
        let slow = Link {
            rtt: Duration::ZERO,
            jitter: Duration::ZERO,
            bandwidth_bps: Some(1_000_000),
        };
        assert_eq!(slow.serialization(65_536), Duration::from_micros(524_288));
        let free = Link {
            bandwidth_bps: None,
            ..slow
        };
        assert_eq!(free.serialization(65_536), Duration::ZERO);
    }
}
