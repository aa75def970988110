//! The calibration step: one idle server, one client, a few seconds, before the first case.
//!
//! It measures the inputs of [`crate::calibration`] the way the cases measure everything else
//! (the same server binary and pinning, the same client library), but in runs of its own, so no
//! case's figures feed the model that judges them. It also measures the network shaper's
//! ceiling, which needs no server; a failure there only leaves it out (a warning), since no
//! model needs it.

use std::time::Duration;

use rtlab_client::RunConfig;
use rtlab_client::config::Target;
use rtlab_client::network::calibrate::median_round_trip;
use rtlab_client::network::ceiling::relay_ceiling;
use rtlab_wire::Transport;

use crate::calibration::Calibration;
use crate::server_process::{ServerOptions, ServerProcess};

use super::options::RunOptions;

/// The ticker rate of the calibration server: low enough that a single subscriber is never
/// queued behind the previous event, high enough for a hundred latency samples a second.
const RATE: u64 = 100;
/// The measured window of each calibration run, after [`WARMUP`].
const WINDOW: Duration = Duration::from_secs(1);
const WARMUP: Duration = Duration::from_millis(300);
/// The short-poll interval of the size measurement: a few dozen requests in the window.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long the shaper's ceiling is measured: enough for hundreds of megabytes through it.
const CEILING_WINDOW: Duration = Duration::from_millis(300);

/// Measures the calibration on a server of its own; an error says which step failed.
pub async fn calibrate(opts: &RunOptions) -> Result<Calibration, String> {
    let server_opts = ServerOptions {
        rate: RATE,
        payload_bytes: 64,
        subscriber_queue: None,
        keepalive_interval: None,
        max_connections: 64,
        pin: opts.pin,
        tls: None,
    };
    let mut server = ServerProcess::start(&opts.server_bin, &server_opts)
        .await
        .map_err(|e| format!("calibration server: {e}"))?;
    let measured = measure(server.http).await;
    server.stop().await;
    let mut calibration = measured?;
    // After the server stops, so that the shaper does not share the cores with it.
    calibration.shaper_ceiling_bps = shaper_ceiling().await;
    Ok(calibration)
}

/// The shaper's ceiling in bits per second, or `None` (with a warning) when it failed.
async fn shaper_ceiling() -> Option<f64> {
    match relay_ceiling(CEILING_WINDOW).await {
        Ok(bytes_per_s) => Some(bytes_per_s * 8.0),
        Err(e) => {
            tracing::warn!(error = %e, "calibration: the shaper's ceiling could not be measured");
            None
        }
    }
}

async fn measure(http: std::net::SocketAddr) -> Result<Calibration, String> {
    let base = format!("http://{http}");
    let target = Target::parse_http(&base).map_err(|e| e.to_string())?;
    let rtt = median_round_trip(http, &target, Duration::ZERO)
        .await
        .map_err(|e| format!("calibration round trip: {e}"))?;

    let push = rtlab_client::run(one_client(Transport::Ws, &base))
        .await
        .map_err(|e| format!("calibration ws run: {e}"))?;
    let mut poll_config = one_client(Transport::ShortPoll, &base);
    poll_config.poll_interval = POLL_INTERVAL;
    let poll = rtlab_client::run(poll_config)
        .await
        .map_err(|e| format!("calibration short-poll run: {e}"))?;

    let missing = |what: &str| format!("calibration short-poll run measured no {what}");
    Ok(Calibration {
        rtt_us: rtt.as_secs_f64() * 1e6,
        one_way_delay_us: push.latency_us.p50,
        request_bytes: poll
            .wire
            .request_bytes_per_request
            .ok_or_else(|| missing("request size"))?,
        response_head_bytes: poll
            .wire
            .response_head_bytes_per_request
            .ok_or_else(|| missing("response head size"))?,
        shaper_ceiling_bps: None,
    })
}

/// One subscriber for [`WINDOW`] after [`WARMUP`], its `/stats` on the same server.
fn one_client(transport: Transport, base: &str) -> RunConfig {
    let mut c = RunConfig::new(transport, base);
    c.control_url = Some(base.to_owned());
    c.clients = 1;
    c.duration = WINDOW;
    c.warmup = WARMUP;
    c.progress = false;
    c
}
