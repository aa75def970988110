//! The network a case runs over: loopback, a named profile, or a link given by its values.
//!
//! On loopback a round trip costs ~150 µs, so the costs that decide real choices never show:
//! the transits a long poll waits for, the round trips before a stream's first event, bytes per
//! event as a ceiling on a slow link. A case can therefore ask the client to put its connections
//! through the shaper of `rtlab_client::network` (a user-space relay that adds the link's
//! round-trip time, jitter and bandwidth). A suite names the link per scenario, or sweeps it:
//!
//! ```toml
//! network = "mobile"                                     # a profile (rtlab-client --help lists them)
//! network = { rtt = "20ms", bandwidth = "1mbit" }        # or its values (jitter too)
//! sweep.network = ["loopback", "broadband", "mobile"]    # one case per link
//! ```
//!
//! [`LinkParams`] is what a case stores: the profile's name (if one was named) and always the
//! three values, so that a stored case can be read without the profile table of the lab version
//! that wrote it.

use std::fmt;
use std::time::Duration;

use rtlab_client::network::{Link, Network, Profile, format_bandwidth, parse_bandwidth};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// A case's network: what the client imitates between itself and the server.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinkParams {
    /// The profile, when the suite named one (`None`: values given by hand).
    pub profile: Option<Profile>,
    /// Round-trip time the link adds, in milliseconds (0 for loopback).
    pub rtt_ms: f64,
    /// Jitter of one round trip, in milliseconds.
    pub jitter_ms: f64,
    /// Bits per second in each direction of each connection; `None` is unlimited.
    pub bandwidth_bps: Option<u64>,
}

impl LinkParams {
    /// A named profile's values.
    pub fn of_profile(profile: Profile) -> Self {
        let link = profile.link();
        Self {
            profile: Some(profile),
            rtt_ms: link.map_or(0.0, |l| l.rtt.as_secs_f64() * 1e3),
            jitter_ms: link.map_or(0.0, |l| l.jitter.as_secs_f64() * 1e3),
            bandwidth_bps: link.and_then(|l| l.bandwidth_bps),
        }
    }

    /// The name in case ids and charts: the profile's, else `rtt20ms-1mbit`.
    pub fn label(&self) -> String {
        if let Some(p) = self.profile {
            return p.as_str().to_owned();
        }
        let mut s = format!("rtt{}ms", self.rtt_ms);
        if self.jitter_ms > 0.0 {
            s.push_str(&format!("-j{}ms", self.jitter_ms));
        }
        if let Some(bps) = self.bandwidth_bps {
            s.push_str(&format!("-{}kbit", bps / 1000));
        }
        s
    }

    /// Whether anything is shaped (loopback is not).
    pub fn is_shaped(&self) -> bool {
        self.rtt_ms > 0.0 || self.bandwidth_bps.is_some()
    }

    /// One transit of the link, RTT/2, in µs (0 for loopback).
    pub fn transit_us(&self) -> f64 {
        self.rtt_ms * 1e3 / 2.0
    }

    /// What the client library is given.
    pub fn network(&self) -> Network {
        match self.profile {
            Some(p) => Network::profile(p),
            None => Network::custom(Link {
                rtt: Duration::from_secs_f64(self.rtt_ms / 1e3),
                jitter: Duration::from_secs_f64(self.jitter_ms / 1e3),
                bandwidth_bps: self.bandwidth_bps,
            }),
        }
    }
}

impl fmt::Display for LinkParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.profile {
            write!(f, "{p}")?;
            if !self.is_shaped() {
                return Ok(());
            }
            f.write_str(" (")?;
        }
        write!(f, "RTT {} ms", self.rtt_ms)?;
        if self.jitter_ms > 0.0 {
            write!(f, " ± {} ms", self.jitter_ms)?;
        }
        if let Some(bps) = self.bandwidth_bps {
            write!(f, ", {}", format_bandwidth(bps))?;
        }
        if self.profile.is_some() {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A link as a suite writes it: a profile's name, or a table `{ rtt, jitter, bandwidth }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkSpec(pub LinkParams);

impl<'de> Deserialize<'de> for LinkSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LinkVisitor)
    }
}

struct LinkVisitor;

/// The table form's keys; each a string in the human way (`"20ms"`, `"1mbit"`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkTable {
    rtt: Option<String>,
    jitter: Option<String>,
    bandwidth: Option<String>,
}

impl<'de> Visitor<'de> for LinkVisitor {
    type Value = LinkSpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a profile (loopback, lan, broadband, mobile, slow-mobile, satellite) or a table { rtt = \"100ms\", jitter = \"10ms\", bandwidth = \"1mbit\" }",
        )
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<LinkSpec, E> {
        let profile = <Profile as clap::ValueEnum>::from_str(s, false)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(s), &self))?;
        Ok(LinkSpec(LinkParams::of_profile(profile)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LinkSpec, A::Error> {
        let t = LinkTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let dur = |v: Option<String>, key: &str| -> Result<f64, A::Error> {
            v.map_or(Ok(0.0), |s| {
                humantime::parse_duration(&s)
                    .map(|d| d.as_secs_f64() * 1e3)
                    .map_err(|e| de::Error::custom(format!("`{key}`: invalid duration {s:?}: {e}")))
            })
        };
        let rtt_ms = dur(t.rtt, "rtt")?;
        let jitter_ms = dur(t.jitter, "jitter")?;
        let bandwidth_bps = t
            .bandwidth
            .map(|s| parse_bandwidth(&s).map_err(de::Error::custom))
            .transpose()?;
        if jitter_ms > rtt_ms {
            return Err(de::Error::custom("`jitter` may not exceed `rtt`"));
        }
        let params = LinkParams {
            profile: None,
            rtt_ms,
            jitter_ms,
            bandwidth_bps,
        };
        if !params.is_shaped() {
            return Err(de::Error::custom(
                "a link table needs `rtt` or `bandwidth` (for no shaping, write \"loopback\")",
            ));
        }
        Ok(LinkSpec(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct One {
        network: LinkSpec,
    }

    fn parse(s: &str) -> Result<LinkParams, String> {
        toml::from_str::<One>(s)
            .map(|o| o.network.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_link_is_a_profile_or_its_values() {
        let mobile = parse(r#"network = "mobile""#).unwrap();
        assert_eq!(mobile.profile, Some(Profile::Mobile));
        assert_eq!((mobile.rtt_ms, mobile.jitter_ms), (80.0, 15.0));
        assert_eq!(mobile.bandwidth_bps, Some(10_000_000));
        assert_eq!(mobile.label(), "mobile");
        assert_eq!(mobile.to_string(), "mobile (RTT 80 ms ± 15 ms, 10 Mbit/s)");

        let loopback = parse(r#"network = "loopback""#).unwrap();
        assert!(!loopback.is_shaped());
        assert_eq!(loopback.to_string(), "loopback");

        let slow = parse(r#"network = { rtt = "20ms", bandwidth = "1mbit" }"#).unwrap();
        assert_eq!(slow.profile, None);
        assert_eq!(slow.rtt_ms, 20.0);
        assert_eq!(slow.bandwidth_bps, Some(1_000_000));
        assert_eq!(slow.label(), "rtt20ms-1000kbit");
        assert_eq!(slow.transit_us(), 10_000.0);
        assert_eq!(slow.network().link.unwrap().rtt, Duration::from_millis(20));
    }

    #[test]
    fn a_bad_link_is_refused_with_its_reason() {
        for (bad, why) in [
            (r#"network = "dial-up""#, "a profile"),
            (r#"network = { rtt = "soon" }"#, "invalid duration"),
            (r#"network = { bandwidth = "fast" }"#, "fast"),
            (
                r#"network = { rtt = "10ms", jitter = "20ms" }"#,
                "may not exceed",
            ),
            (r#"network = { delay = "10ms" }"#, "unknown field"),
            (
                r#"network = { jitter = "0ms" }"#,
                "needs `rtt` or `bandwidth`",
            ),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
