//! The network flags, written once: `--network PROFILE | --rtt D [--jitter D] [--bandwidth RATE]`.
//!
//! Two commands shape a link: `rtlab-client`, around its own measurement, and `rtlab shape`, a
//! standalone shaper in front of a server for a browser or any other program. Both take the
//! same flags with the same rules, so they are one clap [`clap::Args`] struct that each
//! command line flattens into its own (`#[command(flatten)]`), as ripgrep shares its flag
//! definitions: one place for the help text, the value parsers and the conflict rules (a
//! profile *or* its values, never both; `--jitter` only with `--rtt`), which clap enforces
//! before either command runs.
//!
//! [`NetworkArgs::network`] turns them into the [`Network`] the shaper is given.

use std::time::Duration;

use clap::Args;

use super::profile::{Link, Network, Profile, parse_bandwidth};

/// The link to imitate: a named profile, or its three values by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct NetworkArgs {
    /// Imitate a real network: every shaped connection gets the profile's round-trip time,
    /// jitter and rate limit
    #[arg(long, value_enum, value_name = "PROFILE", conflicts_with_all = ["rtt", "jitter", "bandwidth"])]
    pub network: Option<Profile>,

    /// Imitate a link with this round-trip time (each direction delays by half), e.g. 100ms
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub rtt: Option<Duration>,

    /// With --rtt: how much one round trip may vary (each direction draws uniformly in ±half)
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION", requires = "rtt")]
    pub jitter: Option<Duration>,

    /// Link rate in each direction: 2mbit, 500kbit, 10Mbit/s (decimal units, bits)
    #[arg(long, value_parser = parse_bandwidth, value_name = "BITS_PER_S")]
    pub bandwidth: Option<u64>,
}

impl NetworkArgs {
    /// The network these flags ask for: a profile, or a link from `--rtt`, `--jitter` and
    /// `--bandwidth` (any of which may be left out), or none. `--network loopback` is a
    /// network whose link is `None`: asked for, and nothing to shape.
    pub fn network(&self) -> Option<Network> {
        if let Some(p) = self.network {
            return Some(Network::profile(p));
        }
        if self.rtt.is_none() && self.bandwidth.is_none() {
            return None;
        }
        Some(Network::custom(Link {
            rtt: self.rtt.unwrap_or_default(),
            jitter: self.jitter.unwrap_or_default(),
            bandwidth_bps: self.bandwidth,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// The flags alone, as a command that flattens them sees them.
    #[derive(Debug, Parser)]
    struct Only {
        #[command(flatten)]
        shaping: NetworkArgs,
    }

    fn parse(args: &[&str]) -> Result<Option<Network>, clap::Error> {
        Only::try_parse_from(std::iter::once("only").chain(args.iter().copied()))
            .map(|o| o.shaping.network())
    }

    #[test]
    fn the_flags_are_consistent() {
        Only::command().debug_assert();
    }

    #[test]
    fn a_profile_its_values_or_nothing() {
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(
            parse(&["--network", "mobile"]).unwrap(),
            Some(Network::profile(Profile::Mobile))
        );
        let loopback = parse(&["--network", "loopback"]).unwrap().unwrap();
        assert_eq!(loopback.link, None, "loopback: nothing to shape");
        let custom = parse(&["--rtt", "40ms", "--bandwidth", "2mbit"])
            .unwrap()
            .unwrap();
        assert_eq!(custom.name(), "custom");
        assert_eq!(
            custom.link,
            Some(Link {
                rtt: Duration::from_millis(40),
                jitter: Duration::ZERO,
                bandwidth_bps: Some(2_000_000),
            })
        );
        assert!(parse(&["--network", "mobile", "--jitter", "5ms"]).is_err());
        assert!(parse(&["--jitter", "5ms"]).is_err());
    }
}
