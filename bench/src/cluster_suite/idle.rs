//! Idle streams through a proxy: cut at its read timeout, unless the server's keep-alive is
//! shorter.
//!
//! nginx closes an upstream connection on which nothing has arrived for `proxy_read_timeout`
//! (60 s by default, the `naive` configuration; 75 s in `lab`). A feed that is quiet for longer
//! (a market closed for the night, a chat room at 3 a.m.) loses every idle stream at that moment
//! unless the server sends something first: SSE comment heartbeats (`:\n\n`), WebSocket pings.
//! This case opens one stream of each kind that the route carries (SSE over both
//! configurations; a WebSocket over `lab` only, since `naive` cannot upgrade) to a feed with no
//! ticker at all, twice: with the server's default keep-alive (a 10 s ping, a 15 s heartbeat)
//! and with a keep-alive longer than the proxy's timeout. It records when each stream ended, if
//! it did, within the timeout plus a margin. Every stream runs at the same time, so the case
//! costs one timeout, not four.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::lab::{Lab, node_options};
use crate::cluster::{Cluster, Proxy};

/// How long past the proxy's read timeout a stream is watched.
const MARGIN: Duration = Duration::from_secs(15);

/// One idle stream through one configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdleResult {
    /// `sse` or `ws`.
    pub transport: Option<Transport>,
    /// `naive` or `lab`.
    pub route: String,
    /// The proxy's read timeout, s.
    pub read_timeout_s: f64,
    /// The server's ping (ws) or heartbeat (SSE) interval, s.
    pub keepalive_s: f64,
    /// How long it was watched, s.
    pub watched_s: f64,
    /// When it ended, s after it opened (`None`: still open at the end).
    pub ended_after_s: Option<f64>,
    /// What went wrong, if it could not be measured.
    pub error: Option<String>,
}

/// The server's keep-alive in the default run: its ping interval (the shorter of the two).
const DEFAULT_PING: Duration = Duration::from_secs(10);
/// The heartbeat interval the server defaults to.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// Runs every idle stream at once; returns them in a fixed order.
pub async fn run(lab: &Lab) -> Vec<IdleResult> {
    let mut setups = Vec::new();
    for proxy in [Proxy::Naive, Proxy::Lab] {
        for long in [false, true] {
            setups.push((proxy, long));
        }
    }
    let runs = setups.into_iter().map(|(proxy, long)| async move {
        let keepalive = long.then(|| proxy.read_timeout() + Duration::from_secs(30));
        let mut server = node_options(0, 64);
        server.keepalive_interval = keepalive;
        let cluster = lab.cluster(1, Some(proxy), false, server).await;
        let transports: &[Transport] = match proxy {
            Proxy::Naive => &[Transport::Sse],
            Proxy::Lab => &[Transport::Sse, Transport::Ws],
        };
        let mut out = Vec::new();
        match cluster {
            Err(e) => {
                for &t in transports {
                    out.push(IdleResult {
                        transport: Some(t),
                        route: proxy.name().into(),
                        error: Some(e.to_string()),
                        ..IdleResult::default()
                    });
                }
            }
            Ok(mut cluster) => {
                let watched = proxy.read_timeout() + MARGIN;
                let watches = transports
                    .iter()
                    .map(|&t| watch(&cluster, t, watched))
                    .collect::<Vec<_>>();
                let ends = futures_util::future::join_all(watches).await;
                cluster.stop().await;
                for (&t, ended) in transports.iter().zip(ends) {
                    let keepalive_s = keepalive
                        .unwrap_or(match t {
                            Transport::Ws => DEFAULT_PING,
                            _ => DEFAULT_HEARTBEAT,
                        })
                        .as_secs_f64();
                    let (ended_after_s, error) = match ended {
                        Ok(e) => (e, None),
                        Err(e) => (None, Some(e)),
                    };
                    out.push(IdleResult {
                        transport: Some(t),
                        route: proxy.name().into(),
                        read_timeout_s: proxy.read_timeout().as_secs_f64(),
                        keepalive_s,
                        watched_s: watched.as_secs_f64(),
                        ended_after_s,
                        error,
                    });
                }
            }
        }
        out
    });
    futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Opens one `transport` stream through the cluster's front and watches it for `watched`:
/// when it ended (s after opening), or `None` if it was still open.
async fn watch(
    cluster: &Cluster,
    transport: Transport,
    watched: Duration,
) -> Result<Option<f64>, String> {
    let front = cluster.front();
    let opened = Instant::now();
    let ended = match transport {
        Transport::Ws => {
            let url = format!("ws://{front}{}", rtlab_wire::paths::WS);
            let (mut ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .map_err(|e| format!("ws handshake through the proxy: {e}"))?;
            // Reading answers the server's pings (tungstenite queues the pong), as a browser
            // would; the stream ends when a read returns None or an error.
            tokio::time::timeout(watched, async {
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await
        }
        _ => {
            let mut s = TcpStream::connect(front)
                .await
                .map_err(|e| format!("connect to the proxy: {e}"))?;
            let request = format!(
                "GET {} HTTP/1.1\r\nHost: {front}\r\nAccept: text/event-stream\r\n\r\n",
                rtlab_wire::paths::SSE
            );
            s.write_all(request.as_bytes())
                .await
                .map_err(|e| format!("send the SSE request: {e}"))?;
            tokio::time::timeout(watched, async {
                let mut buf = vec![0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await
        }
    };
    Ok(ended.ok().map(|()| opened.elapsed().as_secs_f64()))
}

impl IdleResult {
    /// Whether the outcome is the one the timeouts predict: cut (within a few seconds of the
    /// proxy's timeout) when the keep-alive is longer than it, open when it is shorter.
    pub fn as_predicted(&self) -> bool {
        if self.error.is_some() {
            return false;
        }
        if self.keepalive_s < self.read_timeout_s {
            self.ended_after_s.is_none()
        } else {
            self.ended_after_s.is_some_and(|s| {
                (self.read_timeout_s - 1.0..=self.read_timeout_s + 5.0).contains(&s)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_keepalive_predicts_a_cut_at_the_timeout_and_a_short_one_none() {
        let cut = IdleResult {
            read_timeout_s: 60.0,
            keepalive_s: 90.0,
            ended_after_s: Some(60.2),
            ..IdleResult::default()
        };
        assert!(cut.as_predicted());
        let open = IdleResult {
            keepalive_s: 15.0,
            ended_after_s: None,
            ..cut.clone()
        };
        assert!(open.as_predicted());
        let cut_anyway = IdleResult {
            ended_after_s: Some(60.0),
            ..open
        };
        assert!(!cut_anyway.as_predicted());
    }
}
