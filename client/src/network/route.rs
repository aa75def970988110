//! The route to the server: straight, or through shapers in front of it.
//!
//! With a shaped network (`--network`, `--rtt`), every connection the measurement opens dials a
//! [`Shaper`] on loopback instead of the server: one in front of the subscribers' address, one
//! in front of the HTTP side (for POST publishers). `/stats` keeps the straight road, because
//! its reads mark the window, which must not move with the link; calibration needs both roads.
//! [`ShapedRoute`] holds the shapers, so they live exactly as long as the run that holds it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{RunConfig, Target};
use crate::error::RunError;
use crate::network::Shaper;

/// Seed offset of the HTTP side's shaper, so that its jitter differs from the data shaper's.
const CONTROL_SEED_MIX: u64 = 0x5A5A_5A5A_5A5A_5A5A;

/// Where the subscribers and publishers connect: straight to the server, or to shapers in
/// front of it (one for the subscribers' address, one for the HTTP side's).
#[derive(Debug)]
pub struct ShapedRoute {
    /// The address subscribers dial.
    pub addr: SocketAddr,
    /// The HTTP side publishers dial, if any.
    pub control: Option<(Target, SocketAddr)>,
    /// The wait a shaped dial adds after `connect()` (zero when straight).
    pub handshake: Duration,
    /// The HTTP side's real address, for calibration.
    pub straight_control: Option<(Target, SocketAddr)>,
    /// The HTTP side's shaper, for calibration.
    pub control_shaper: Option<Shaper>,
    _data_shaper: Option<Shaper>,
}

impl ShapedRoute {
    /// Starts the shapers the run's network asks for (none for loopback), in front of `addr`
    /// and of the HTTP side `control`; they expect at most `conn_total` connections.
    pub fn start(
        config: &RunConfig,
        addr: SocketAddr,
        control: Option<(Target, SocketAddr)>,
        seed: u64,
        conn_total: u64,
    ) -> Result<Self, RunError> {
        let Some(link) = config.network.and_then(|n| n.link) else {
            return Ok(Self {
                addr,
                control: control.clone(),
                handshake: Duration::ZERO,
                straight_control: control,
                control_shaper: None,
                _data_shaper: None,
            });
        };
        let shape = |upstream, seed| {
            Shaper::start(upstream, link, seed, conn_total)
                .map_err(|e| RunError::Internal(format!("cannot start the network shaper: {e}")))
        };
        let data = shape(addr, seed)?;
        let control_shaper = match &control {
            Some((_, a)) => Some(shape(*a, seed ^ CONTROL_SEED_MIX)?),
            None => None,
        };
        Ok(Self {
            addr: data.addr(),
            control: control
                .as_ref()
                .zip(control_shaper.as_ref())
                .map(|((t, _), s)| (t.clone(), s.addr())),
            handshake: data.handshake(),
            straight_control: control,
            control_shaper,
            _data_shaper: Some(data),
        })
    }
}
