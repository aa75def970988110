//! Shutdown under load: SIGTERM while every subscriber is receiving at a high rate.
//!
//! The contract: on SIGINT or SIGTERM the server stops accepting, closes WebSockets with 1001,
//! ends SSE streams, answers waiting long polls, and exits 0 within 5 s; and an event published
//! before the signal is not lost on the way out. This case starts the client's run with a window
//! far longer than the case, and sends the server SIGTERM `shutdown_after` into the window. The
//! client's run then ends early (`ended_early` in its report): how each subscriber was ended
//! (close codes, streams ended), and the *tail*: the highest seq any subscriber received was
//! certainly published before the server went, so a subscriber whose last seq is lower missed
//! events at the end (counted, with the events, not guessed). For long polls the lab also parks
//! polls of its own (`after` far ahead, so nothing answers them but the shutdown) and checks each
//! gets an HTTP 200 rather than a reset. They are parked on the idle server *before* the load
//! starts (with a timeout longer than the case), so they are surely waiting at the signal: parked
//! under load, behind a thousand pollers' connections in the accept queue, they might not have
//! reached the server yet. The server's exit status and the time from the signal to its exit
//! come from the process itself.
//!
//! The case runs at two rates: the contract's 10 000 events/s, which on two cores overloads the
//! server (subscribers are cut as lagging before the signal), and a rate it sustains, so that
//! the promise is also seen apart from overload.
//!
//! Subscribers cut as lagging *before* the signal (the rate may be more than a transport
//! carries) also end behind the others; the report gives their count beside the tail, since
//! that is the slow-subscriber promise, not this one. And a poll can only receive what a poll
//! asked for: events published after a subscriber's last answered poll reach it only if it
//! polls again, which a server that is gone cannot answer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rtlab_client::RunError;
use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::lab::{Lab, client_config};
use super::{Scale, Verdict};

/// The contract's limit from the signal to the server's exit.
pub const EXIT_GOAL: Duration = Duration::from_secs(5);
/// The window asked of the client: longer than the case, so the signal is what ends it.
const CLIENT_WINDOW: Duration = Duration::from_secs(120);
/// The parked polls' `timeout_ms`: the contract's longest, far longer than the case, so only
/// the shutdown can answer them.
const PARKED_TIMEOUT_MS: u64 = 60_000;
/// How long the client may take to notice every subscriber gone.
const CLIENT_END_LIMIT: Duration = Duration::from_secs(30);

/// One transport's shutdown figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShutdownResult {
    /// The transport.
    pub transport: Option<Transport>,
    /// Subscribers asked for.
    pub clients: u64,
    /// Subscribers connected.
    pub connected: u64,
    /// The ticker's rate, events/s.
    pub rate: u64,
    /// The server's exit code (`None`: killed by a signal, or never exited).
    pub exit_code: Option<i32>,
    /// From SIGTERM to the server's exit, ms.
    pub time_to_exit_ms: Option<f64>,
    /// How the subscribers were ended: WebSocket close codes, "end of stream", error kinds.
    pub close_codes: BTreeMap<String, u64>,
    /// The highest seq any subscriber received.
    pub highest_seq: u64,
    /// Subscribers that ended below it.
    pub subscribers_behind: u64,
    /// The events they missed at the end, summed.
    pub events_behind: u64,
    /// Subscribers with a gap in their stream.
    pub subscribers_with_gaps: u64,
    /// Subscribers cut as lagging (before the signal).
    pub lagging: u64,
    /// Long polls the lab parked itself before the signal (long-poll case only).
    pub parked_polls: u64,
    /// Of those, answered with HTTP 200 at the shutdown.
    pub parked_polls_answered: u64,
    /// What went wrong, if the case could not be measured.
    pub error: Option<String>,
}

impl ShutdownResult {
    /// The close the contract promises this transport: ws 1001, SSE and TCP an ended stream.
    fn clean_close(&self) -> Option<&'static str> {
        match self.transport {
            Some(Transport::Ws) => Some("1001"),
            Some(Transport::Sse | Transport::Tcp) => Some(rtlab_client::ending::END_OF_STREAM),
            _ => None,
        }
    }

    /// Subscribers ended the way the contract promises (all of them, for the polls: none is
    /// promised a close of its own).
    pub fn cleanly_closed(&self) -> u64 {
        match self.clean_close() {
            Some(k) => self.close_codes.get(k).copied().unwrap_or(0),
            None => self.connected,
        }
    }

    /// Held: exit 0 within 5 s, every subscriber ended cleanly, parked polls answered, nobody
    /// behind.
    pub fn verdict(&self) -> Verdict {
        if let Some(e) = &self.error {
            return Verdict {
                held: false,
                why: format!("not measured: {e}"),
            };
        }
        let exit_ok = self.exit_code == Some(0)
            && self
                .time_to_exit_ms
                .is_some_and(|ms| ms <= EXIT_GOAL.as_secs_f64() * 1e3);
        let closes_ok = self.cleanly_closed() == self.connected;
        let polls_ok = self.parked_polls_answered == self.parked_polls;
        // Being behind at the end is a stream's failure only: a poller receives only what it
        // asked for, so events published after its last answered poll are unrequested at the
        // exit, not lost by the server. A gap is loss for everyone (a poller that fell out of the
        // history window), so it fails every transport.
        let streaming = self.transport.is_none_or(|t| t.is_streaming());
        let tail_ok =
            (!streaming || self.subscribers_behind == 0) && self.subscribers_with_gaps == 0;
        let exit = match (self.exit_code, self.time_to_exit_ms) {
            (Some(c), Some(ms)) => format!("exit {c} after {ms:.0} ms"),
            (None, Some(ms)) => format!("killed after {ms:.0} ms"),
            _ => "no exit".into(),
        };
        let closes = match self.clean_close() {
            Some(k) => format!(
                "{} of {} ended with {k}",
                self.cleanly_closed(),
                self.connected
            ),
            None => format!("{} connected", self.connected),
        };
        let polls = if self.parked_polls > 0 {
            format!(
                ", {} of {} parked polls answered",
                self.parked_polls_answered, self.parked_polls
            )
        } else {
            String::new()
        };
        let lagging = if self.lagging > 0 {
            format!(" ({} cut as lagging before the signal)", self.lagging)
        } else {
            String::new()
        };
        Verdict {
            held: exit_ok && closes_ok && polls_ok && tail_ok,
            why: format!(
                "{exit} (goal 0 within {} s), {closes}{polls}, {} subscribers behind the last seq by {} events{}{lagging}{}",
                EXIT_GOAL.as_secs(),
                self.subscribers_behind,
                self.events_behind,
                if self.subscribers_with_gaps > 0 {
                    format!(
                        ", {} with a gap in their stream",
                        self.subscribers_with_gaps
                    )
                } else {
                    String::new()
                },
                if streaming {
                    ""
                } else {
                    " (unrequested by a poller, not promised)"
                }
            ),
        }
    }
}

/// Runs the case for `transport` with the ticker at `rate` events/s.
pub async fn run(lab: &Lab, scale: &Scale, transport: Transport, rate: u64) -> ShutdownResult {
    let mut result = ShutdownResult {
        transport: Some(transport),
        clients: scale.clients,
        rate,
        ..ShutdownResult::default()
    };
    let mut server = match lab.server(rate, 64, None).await {
        Ok(s) => s,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    let config = client_config(
        &server,
        transport,
        scale.clients,
        scale.warmup,
        CLIENT_WINDOW,
        scale.connect_rate,
    );
    let ramp = Duration::from_secs_f64((scale.clients - 1) as f64 / scale.connect_rate);
    let parked = if transport == Transport::LongPoll {
        let polls: Vec<_> = (0..scale.parked_polls)
            .map(|_| tokio::spawn(parked_poll(server.http)))
            .collect();
        // Let them reach the idle server and park before the load starts.
        tokio::time::sleep(Duration::from_millis(300)).await;
        polls
    } else {
        Vec::new()
    };
    let client = tokio::spawn(rtlab_client::run(config));
    tokio::time::sleep(ramp + scale.warmup + scale.shutdown_after).await;
    let signalled = Instant::now();
    let status = server.stop().await;
    result.time_to_exit_ms = status.map(|_| signalled.elapsed().as_secs_f64() * 1e3);
    result.exit_code = status.and_then(|s| s.code());
    result.parked_polls = parked.len() as u64;
    for p in parked {
        if let Ok(true) = p.await {
            result.parked_polls_answered += 1;
        }
    }
    let report = match tokio::time::timeout(CLIENT_END_LIMIT, client).await {
        Err(_) => {
            result.error = Some("the client did not end after the server's exit".into());
            return result;
        }
        Ok(Err(e)) => {
            result.error = Some(format!("the client task failed: {e}"));
            return result;
        }
        Ok(Ok(Err(RunError::AllDisconnected {
            partial: Some(r), ..
        }))) => *r,
        Ok(Ok(Err(e))) => {
            result.error = Some(e.to_string());
            return result;
        }
        Ok(Ok(Ok(_))) => {
            result.error = Some("the client's run was not ended by the shutdown".into());
            return result;
        }
    };
    result.connected = report.connected;
    result.lagging = report.lagging_disconnects;
    if let Some(e) = report.ended_early {
        result.close_codes = e.close_codes;
        result.highest_seq = e.highest_seq;
        result.subscribers_behind = e.subscribers_behind;
        result.events_behind = e.events_behind;
        result.subscribers_with_gaps = e.subscribers_with_gaps;
    }
    result
}

/// A long poll nothing but the shutdown can answer (`after` far ahead of any seq): whether it
/// got an HTTP 200 (rather than a reset or nothing) before the server was gone.
async fn parked_poll(http: std::net::SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(http).await else {
        return false;
    };
    let request = format!(
        "GET /poll/long?after={}&timeout_ms={PARKED_TIMEOUT_MS} HTTP/1.1\r\nHost: {http}\r\n\r\n",
        u64::MAX / 2
    );
    if s.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    // Bounded by the poll's own timeout: a server that never answers it fails the case there.
    let read = tokio::time::timeout(
        Duration::from_millis(PARKED_TIMEOUT_MS),
        s.read_to_end(&mut answer),
    )
    .await;
    // A reset after a complete answer still counts: the answer arrived.
    let _ = read;
    answer.starts_with(b"HTTP/1.1 200")
}
