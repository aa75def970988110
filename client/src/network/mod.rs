//! Real networks on loopback: round-trip time, jitter and bandwidth, added by a relay.
//!
//! On loopback a round trip costs ~50 µs, so every push transport looks alike and long polling
//! looks as good as streaming. The costs that decide real choices appear only on a real link:
//! a long poll is one transit behind on average but up to three in the worst case (response,
//! next request, response; RFC 6202 §2.2), a WebSocket needs two round trips before its first
//! event (TCP, then the upgrade), and bytes per event become a throughput ceiling on a slow
//! link. This machine's kernel has no `netem`, so the delay is added in user space:
//!
//! - [`args`]: [`NetworkArgs`], the `--network`/`--rtt`/`--jitter`/`--bandwidth` flags that
//!   `rtlab-client` and `rtlab shape` both flatten into their command lines;
//! - [`profile`]: the named links (`--network mobile`) and their sources, the parser of
//!   `--bandwidth 2mbit`, and [`Network`]: a profile or a link given by its values;
//! - [`pacer`]: one direction's arithmetic: delay, jitter without reordering, token bucket;
//! - [`relay`]: [`Shaper`], the TCP relay on its own thread that delays, paces and
//!   back-pressures each direction of every connection the client opens for the measurement
//!   (subscriptions, polls, publishes; not `/stats`, whose timing decides the window);
//! - [`timer`]: the precise timer the relay releases chunks on (tokio's is 1–3 ms late);
//! - [`route`]: [`ShapedRoute`](route::ShapedRoute), the shapers a run puts in front of the
//!   server, and the straight road `/stats` keeps;
//! - [`calibrate`]: measures the round trip through the shaper before the run, so the report
//!   says what the link really was;
//! - [`ceiling`]: the relay's own throughput, to show that the shaper is not the bottleneck.

pub mod args;
pub mod calibrate;
pub mod ceiling;
pub mod pacer;
pub mod profile;
pub mod relay;
pub mod route;
pub mod timer;

pub use args::NetworkArgs;
pub use profile::{Link, Network, Profile, format_bandwidth, parse_bandwidth};
pub use relay::Shaper;
