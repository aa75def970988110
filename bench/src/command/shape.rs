//! `rtlab shape`: the lab's network shaper on its own, in front of a server, for anything that
//! speaks TCP: a browser on the server's live page, `curl`, another load generator.
//!
//! The client shapes only its own connections (`rtlab-client --network mobile`), which is what a
//! measurement needs; but the quickest way to *see* the transports diverge is to watch the live
//! page over a slow link, and a browser cannot be told to go through the client. So this command
//! runs the same relay ([`Shaper::bind`]) as a standalone process: it listens on `--listen`,
//! relays every connection to `--upstream`, and adds the link's round-trip time, jitter and
//! rate limit each way, until Ctrl-C or `--duration`.
//!
//! ```text
//! rtlab shape --listen 127.0.0.1:9000 --upstream 127.0.0.1:8080 --network slow-mobile
//! ```
//!
//! Two refusals, both usage errors (exit 2, one line):
//! - **loopback only**: the lab loads only targets on this machine (127.0.0.0/8 or ::1), and a
//!   shaper is a relay anyone who can reach it may use, so it neither listens on nor relays to
//!   another address;
//! - **something to shape**: without `--network`/`--rtt`/`--bandwidth`, or with
//!   `--network loopback`, a shaper would only add a hop; point the browser at the server.
//!
//! Like the client's, this shaper adds delay, jitter and a rate limit, but not loss,
//! retransmission, TCP slow start or reordering (see `rtlab_client::network::relay`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use rtlab_client::network::{Link, Network, Shaper};
use rtlab_client::poll_phase::fresh_seed;

use super::Exit;
use super::signals::StopSignals;
use crate::cli::{ShapeArgs, on_loopback};

/// Connections the shaper expects: a browser's handful, so its dials to the server never spread
/// over extra loopback source addresses (that starts beyond 20 000; see
/// `rtlab_client::source_addr`).
const EXPECTED_CONNECTIONS: u64 = 1_000;

/// `rtlab shape`: checks the addresses and the link, starts the shaper, says where it listens,
/// and runs until Ctrl-C (or SIGTERM, SIGHUP) or `--duration`.
pub fn run(args: ShapeArgs) -> anyhow::Result<Exit> {
    let (network, link) = check(&args)?;
    let seed = args.seed.unwrap_or_else(fresh_seed);
    let shaper = Shaper::bind(args.listen, args.upstream, link, seed, EXPECTED_CONNECTIONS)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let why = rt.block_on(async {
        // Catch Ctrl-C before saying where we listen: whoever reads that line may stop us at once.
        let mut signals = StopSignals::listen().context("cannot catch Ctrl-C")?;
        // The bound address, not the asked one: `--listen 127.0.0.1:0` picks a free port, which
        // the user (or a test) reads here.
        eprintln!(
            "{}",
            banner(shaper.addr(), args.upstream, network, link, args.duration)
        );
        let far = args.duration.unwrap_or(Duration::MAX);
        anyhow::Ok(tokio::select! {
            name = signals.recv() => name,
            () = sleep_at_most(far) => "its --duration is over",
        })
    })?;
    // Dropping the shaper closes its listener and every relayed connection.
    drop(shaper);
    eprintln!("rtlab: shaper stopped ({why})");
    Ok(Exit::Success)
}

/// Sleeps for `d`, or forever when `d` is beyond what the timer can hold (no `--duration`).
async fn sleep_at_most(d: Duration) {
    match tokio::time::Instant::now().checked_add(d) {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The usage checks: both addresses on loopback, and a link to imitate.
fn check(args: &ShapeArgs) -> anyhow::Result<(Network, Link)> {
    for (flag, addr) in [("--listen", args.listen), ("--upstream", args.upstream)] {
        on_loopback(addr).map_err(|why| anyhow::anyhow!("{flag} {why}"))?;
    }
    let network = args.shaping.network();
    match network.and_then(|n| n.link.map(|l| (n, l))) {
        Some(shaped) => Ok(shaped),
        None => bail!(
            "nothing to shape: give --network PROFILE (not loopback), or --rtt and/or --bandwidth"
        ),
    }
}

/// `shaping 127.0.0.1:9000 → 127.0.0.1:8080 over mobile (RTT 80 ms ± 15 ms, 10 Mbit/s);
/// Ctrl-C stops`.
fn banner(
    listen: SocketAddr,
    upstream: SocketAddr,
    network: Network,
    link: Link,
    duration: Option<Duration>,
) -> String {
    let stop = match duration {
        Some(d) => format!("stops after {}, or Ctrl-C", humantime::format_duration(d)),
        None => "Ctrl-C stops".to_owned(),
    };
    format!(
        "shaping {listen} → {upstream} over {} ({link}); {stop}",
        network.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn args(line: &[&str]) -> ShapeArgs {
        let cli = Cli::try_parse_from(["rtlab", "shape"].iter().chain(line)).unwrap();
        match cli.command {
            Some(Command::Shape(a)) => a,
            other => panic!("not shape: {other:?}"),
        }
    }

    #[test]
    fn only_loopback_and_only_a_real_link() {
        let ok = ["--listen", "127.0.0.1:0", "--upstream", "[::1]:8080"];
        let (n, l) = check(&args(&[&ok[..], &["--network", "mobile"]].concat())).unwrap();
        assert_eq!((n.name(), l.rtt), ("mobile", Duration::from_millis(80)));
        let far = [
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "192.0.2.1:80",
            "--rtt",
            "1ms",
        ];
        let e = check(&args(&far)).unwrap_err().to_string();
        assert!(
            e.starts_with("--upstream 192.0.2.1:80 is not a loopback"),
            "{e}"
        );
        let open = [
            "--listen",
            "0.0.0.0:9000",
            "--upstream",
            "127.0.0.1:80",
            "--rtt",
            "1ms",
        ];
        assert!(
            check(&args(&open))
                .unwrap_err()
                .to_string()
                .contains("--listen")
        );
        let mapped = [
            "--listen",
            "[::ffff:127.0.0.1]:0",
            "--upstream",
            "127.0.0.1:1",
            "--rtt",
            "1ms",
        ];
        assert!(check(&args(&mapped)).is_err());
        for nothing in [&[][..], &["--network", "loopback"][..]] {
            let e = check(&args(&[&ok[..], nothing].concat())).unwrap_err();
            assert!(e.to_string().starts_with("nothing to shape"), "{e}");
        }
        // The conflict rules are the client's: a profile or its values.
        let both = [&ok[..], &["--network", "mobile", "--rtt", "1ms"]].concat();
        assert!(Cli::try_parse_from(["rtlab", "shape"].iter().chain(&both)).is_err());
    }

    #[test]
    fn the_banner_names_both_ends_and_the_link() {
        let n = Network::profile(rtlab_client::network::Profile::Mobile);
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        let line = banner(
            at("127.0.0.1:9000"),
            at("127.0.0.1:8080"),
            n,
            n.link.unwrap(),
            None,
        );
        assert_eq!(
            line,
            "shaping 127.0.0.1:9000 → 127.0.0.1:8080 over mobile (RTT 80 ms ± 15 ms, 10 Mbit/s); Ctrl-C stops"
        );
        let timed = banner(
            at("127.0.0.1:9000"),
            at("127.0.0.1:8080"),
            n,
            n.link.unwrap(),
            Some(Duration::from_secs(5)),
        );
        assert!(timed.ends_with("; stops after 5s, or Ctrl-C"), "{timed}");
    }
}
