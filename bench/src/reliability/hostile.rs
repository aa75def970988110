//! Hostile clients: connections that hold the server's resources without asking for anything.
//!
//! Two classics: a *slow-headers* client (Slowloris) that sends its request head one byte a
//! second, never finishing it, and a crowd of TCP connections that never send a byte. Each holds
//! a socket, a file descriptor and the server's per-connection state; a server that waits for
//! them forever runs out of all three. `rtlab-server` drops them by its
//! `client_request_timeout` (`rtlab_server::server::CLIENT_REQUEST_TIMEOUT`, 10 s: the time a
//! connection has to deliver its request head). The lab opens them itself, from this process,
//! before the healthy subscribers connect, and times when the server drops each one (its read
//! returns end of file or an error). Three runs on fresh servers: the healthy subscribers alone,
//! with the hostile ones, and alone again; the promise is that the healthy p99 stays within 1.1×
//! of the runs without them, judged beside their own spread ([`P99Effect`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtlab_client::RunError;
use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::lab::{Lab, client_config};
use super::p99_effect::P99Effect;
use super::{Scale, Verdict};

/// Most the healthy p99 may grow with the hostile connections open.
pub const P99_GOAL: f64 = 1.1;
/// How long after the healthy run the lab still waits for the hostile connections to drop.
const DROP_GRACE: Duration = Duration::from_secs(15);
/// What the slow-headers client sends, one byte a second: a request head it never finishes.
const SLOW_HEAD: &[u8] = b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// One transport's hostile-client figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostileResult {
    /// The healthy subscribers' transport.
    pub transport: Option<Transport>,
    /// Healthy subscribers.
    pub clients: u64,
    /// Idle connections asked for.
    pub idle_connections: u64,
    /// Idle connections opened.
    pub idle_opened: u64,
    /// Of those, dropped by the server.
    pub idle_dropped: u64,
    /// When the server dropped them, seconds after each was opened: the earliest.
    pub idle_dropped_after_s_min: Option<f64>,
    /// And the latest.
    pub idle_dropped_after_s_max: Option<f64>,
    /// When the server dropped the slow-headers client, seconds after it connected.
    pub slow_headers_dropped_after_s: Option<f64>,
    /// Bytes of its head it had sent by then.
    pub slow_headers_bytes_sent: u64,
    /// Healthy p99s: the baselines without the hostile connections, and the run with them.
    pub p99: Option<P99Effect>,
    /// What went wrong, if a run could not be measured.
    pub error: Option<String>,
}

impl HostileResult {
    /// Held: every hostile connection dropped, healthy p99 within [`P99_GOAL`].
    pub fn verdict(&self) -> Verdict {
        if let Some(e) = &self.error {
            return Verdict {
                held: false,
                why: format!("not measured: {e}"),
            };
        }
        let dropped = self.idle_opened > 0
            && self.idle_dropped == self.idle_opened
            && self.slow_headers_dropped_after_s.is_some();
        let p99_ok = self.p99.is_some_and(|p| p.held(P99_GOAL));
        let when = |v: Option<f64>| v.map_or_else(|| "never".into(), |s| format!("{s:.1} s"));
        Verdict {
            held: dropped && p99_ok,
            why: format!(
                "{} of {} idle connections dropped (after {}–{}), slow headers dropped after {}; {}",
                self.idle_dropped,
                self.idle_opened,
                when(self.idle_dropped_after_s_min),
                when(self.idle_dropped_after_s_max),
                when(self.slow_headers_dropped_after_s),
                self.p99
                    .map_or_else(|| "no healthy p99".into(), |p| p.clause(P99_GOAL))
            ),
        }
    }
}

/// Runs the case with healthy subscribers on `transport`.
pub async fn run(lab: &Lab, scale: &Scale, transport: Transport) -> HostileResult {
    let mut result = HostileResult {
        transport: Some(transport),
        clients: scale.clients,
        idle_connections: scale.idle_connections,
        ..HostileResult::default()
    };
    let baseline = match healthy_run(lab, scale, transport, false).await {
        Ok((p99, _)) => p99,
        Err(e) => {
            result.error = Some(format!("baseline: {e}"));
            return result;
        }
    };
    let (p99, hostile) = match healthy_run(lab, scale, transport, true).await {
        Ok((p99, Some(h))) => (p99, h),
        Ok((_, None)) => unreachable!("the hostile run returns its hostile figures"),
        Err(e) => {
            result.error = Some(format!("with hostile clients: {e}"));
            return result;
        }
    };
    let baseline_after = match healthy_run(lab, scale, transport, false).await {
        Ok((p99, _)) => p99,
        Err(e) => {
            result.error = Some(format!("second baseline: {e}"));
            return result;
        }
    };
    result.p99 = Some(P99Effect {
        baseline_before_us: baseline,
        with_fault_us: p99,
        baseline_after_us: baseline_after,
    });
    result.idle_opened = hostile.idle_drops.len() as u64;
    let drops: Vec<f64> = hostile.idle_drops.iter().flatten().copied().collect();
    result.idle_dropped = drops.len() as u64;
    result.idle_dropped_after_s_min = drops.iter().copied().reduce(f64::min);
    result.idle_dropped_after_s_max = drops.iter().copied().reduce(f64::max);
    result.slow_headers_dropped_after_s = hostile.slow_headers.0;
    result.slow_headers_bytes_sent = hostile.slow_headers.1;
    result
}

/// What the hostile connections saw: each idle one's drop time (`None`: still open), and the
/// slow-headers client's drop time and bytes sent.
struct Hostile {
    idle_drops: Vec<Option<f64>>,
    slow_headers: (Option<f64>, u64),
}

/// One run of the healthy subscribers on a fresh server, with the hostile connections opened
/// first if `hostile`: their p99, µs, and what the hostile ones saw.
async fn healthy_run(
    lab: &Lab,
    scale: &Scale,
    transport: Transport,
    hostile: bool,
) -> Result<(f64, Option<Hostile>), String> {
    let mut server = lab
        .server(scale.hostile_rate, 64, None)
        .await
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now()
        + Duration::from_secs_f64(scale.clients as f64 / scale.connect_rate)
        + scale.warmup
        + scale.hostile_window
        + DROP_GRACE;
    let (mut idle, slow) = if hostile {
        let mut idle = JoinSet::new();
        for _ in 0..scale.idle_connections {
            idle.spawn(idle_connection(server.http, deadline));
        }
        (
            idle,
            Some(tokio::spawn(slow_headers(server.http, deadline))),
        )
    } else {
        (JoinSet::new(), None)
    };
    let config = client_config(
        &server,
        transport,
        scale.clients,
        scale.warmup,
        scale.hostile_window,
        scale.connect_rate,
    );
    let run = rtlab_client::run(config).await;
    let mut idle_drops = Vec::new();
    while let Some(joined) = idle.join_next().await {
        if let Ok(Some(drop)) = joined {
            idle_drops.push(drop);
        }
    }
    let slow_headers = match slow {
        Some(task) => task.await.unwrap_or((None, 0)),
        None => (None, 0),
    };
    server.stop().await;
    let report = match run {
        Ok(r) => r,
        Err(RunError::AllDisconnected {
            partial: Some(r), ..
        }) => *r,
        Err(e) => return Err(e.to_string()),
    };
    Ok((
        report.latency_us.p99,
        hostile.then_some(Hostile {
            idle_drops,
            slow_headers,
        }),
    ))
}

/// One connection that never sends a byte: `None` if it could not be opened, else when the
/// server dropped it (seconds after connecting; `Some(None)`: still open at `deadline`).
async fn idle_connection(http: SocketAddr, deadline: Instant) -> Option<Option<f64>> {
    let mut s = TcpStream::connect(http).await.ok()?;
    let opened = Instant::now();
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
            Err(_) => return Some(None),
            Ok(Ok(0) | Err(_)) => return Some(Some(opened.elapsed().as_secs_f64())),
            // Whatever the server says (a 408), the drop is what is timed.
            Ok(Ok(_)) => {}
        }
    }
}

/// The slow-headers client: one byte of an endless request head a second, until the server
/// drops it or `deadline`. When it was dropped (seconds after connecting), and bytes sent.
async fn slow_headers(http: SocketAddr, deadline: Instant) -> (Option<f64>, u64) {
    let Ok(s) = TcpStream::connect(http).await else {
        return (None, 0);
    };
    let opened = Instant::now();
    let (mut rd, mut wr) = s.into_split();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline.into()) => return (None, sent),
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => return (Some(opened.elapsed().as_secs_f64()), sent),
                Ok(_) => {}
            },
            _ = tick.tick() => {
                let byte = SLOW_HEAD[(sent as usize) % SLOW_HEAD.len()];
                if wr.write_all(&[byte]).await.is_err() {
                    return (Some(opened.elapsed().as_secs_f64()), sent);
                }
                sent += 1;
            }
        }
    }
}
