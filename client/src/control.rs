//! The control channel: the server's own counters, from `GET /stats`.
//!
//! The client counts what it *received*; only the server knows what it *published*. Reading
//! `/stats` at the start and at the end of the measured window gives the events published in
//! between, so the report can say whether subscribers kept up (`delivery_ratio`). This is a
//! plain JSON GET twice per run, so reqwest does it: its bytes are not part of any measurement.
//!
//! [`WindowReads`] does the two reads on a task of its own, at the window's two instants, and
//! hands `S0` and `S1` (the head seq) to the subscribers through [`WindowSeqs`] as soon as each
//! is known.
//!
//! `/stats` is optional. A server that has none (another project's feed, measured by this
//! client) is still measured, by the seq range seen instead of the server's head seq (see
//! [`crate::window_seq`]); [`StatsError`] says why `/stats` could not be read, and the report
//! carries that sentence as `window_fallback_reason`, so a reader can tell a server without
//! `/stats` from one whose `/stats` merely timed out under load.

use std::sync::Arc;
use std::time::Duration;

use rtlab_wire::{StatsSnapshot, paths};
use tokio::task::JoinHandle;

use crate::clock::RunClock;
use crate::config::Target;
use crate::window_seq::WindowSeqs;

/// Time allowed for one `/stats` call: generous, because a server under a 10 000-subscriber
/// load answers slowly, and a missing answer makes the report fall back to the seq range.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Why `GET /stats` gave no counters. Each message names the URL, because the usual cause is
/// the wrong server (or a server without `/stats`) rather than a broken one.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// An HTTP status other than 200 (a server without `/stats` answers 404).
    #[error("GET {url} answered HTTP {status}")]
    Status {
        /// The `/stats` URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// No answer within the timeout (3 s).
    #[error("GET {url} did not answer within {}s", TIMEOUT.as_secs())]
    Timeout {
        /// The `/stats` URL.
        url: String,
    },
    /// A 200 whose body is not the contract's stats document (another server's own `/stats`).
    #[error("GET {url} did not answer with the rtlab stats JSON ({reason})")]
    NotStats {
        /// The `/stats` URL.
        url: String,
        /// What the JSON decoder said.
        reason: String,
    },
    /// The request failed before an answer: refused, reset, …
    #[error("GET {url} failed: {reason}")]
    Request {
        /// The `/stats` URL.
        url: String,
        /// The failure, with its causes.
        reason: String,
    },
}

/// A client for the server's HTTP control endpoints.
#[derive(Debug, Clone)]
pub struct ControlClient {
    http: reqwest::Client,
    stats_url: String,
}

impl ControlClient {
    /// A client for the server at `target`; over TLS (an `https://` target) with `tls`, the
    /// run's own rustls configuration (the same roots, or `--insecure`).
    pub(crate) fn new(target: &Target, tls: Option<Arc<rustls::ClientConfig>>) -> Option<Self> {
        let mut builder = reqwest::Client::builder().timeout(TIMEOUT);
        if let Some(config) = tls {
            builder = builder.use_preconfigured_tls((*config).clone());
        }
        let http = builder.build().ok()?;
        let scheme = if target.tls { "https" } else { "http" };
        Some(Self {
            http,
            stats_url: format!(
                "{scheme}://{}{}",
                target.authority,
                target.path(paths::STATS)
            ),
        })
    }

    /// Fetches `/stats`.
    pub async fn stats(&self) -> Result<StatsSnapshot, StatsError> {
        let response = self
            .http
            .get(&self.stats_url)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(StatsError::Status {
                url: self.stats_url.clone(),
                status: status.as_u16(),
            });
        }
        response.json().await.map_err(|e| self.error(e))
    }

    fn error(&self, e: reqwest::Error) -> StatsError {
        let url = self.stats_url.clone();
        // reqwest's own message ("error sending request for url (…)") hides the cause: walk the
        // chain down to it ("connection refused").
        let (timeout, decode) = (e.is_timeout(), e.is_decode());
        let e = e.without_url();
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        if timeout {
            StatsError::Timeout { url }
        } else if decode {
            StatsError::NotStats { url, reason }
        } else {
            StatsError::Request { url, reason }
        }
    }
}

/// The two reads of `/stats` at the window's start and end.
type BothReads = (
    Result<StatsSnapshot, StatsError>,
    Result<StatsSnapshot, StatsError>,
);

/// The reads of `/stats` at both ends of the window, under way.
#[derive(Debug)]
pub struct WindowReads {
    task: Option<JoinHandle<BothReads>>,
    /// Whether the run has an HTTP side at all (to say why there are no reads).
    has_control: bool,
}

/// The server's counters at both ends of the window, and why there are none if so: a server
/// without `/stats` is measured too, by the seq range seen (the report's `window_mode` and
/// `window_fallback_reason`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ServerWindow {
    /// `/stats` at the window's start.
    pub first: Option<StatsSnapshot>,
    /// `/stats` at the window's end.
    pub last: Option<StatsSnapshot>,
    /// Why one or both are missing.
    pub fallback_reason: Option<String>,
}

impl WindowReads {
    /// Starts reading `/stats` with `client` at the window's start and end, recording `S0` and
    /// `S1` in `window_seqs`; without a client both bounds are unavailable at once.
    /// `has_control` tells a run without an HTTP side from one whose client could not be built.
    pub fn start(
        client: Option<ControlClient>,
        has_control: bool,
        clock: RunClock,
        window_seqs: Arc<WindowSeqs>,
    ) -> Self {
        if client.is_none() {
            window_seqs.set_start(None);
            window_seqs.set_end(None);
        }
        let task = client.map(|c| {
            tokio::spawn(async move {
                tokio::time::sleep_until(clock.window_start.into()).await;
                let first = c.stats().await;
                window_seqs.set_start(first.as_ref().ok().map(|s| s.head_seq));
                tokio::time::sleep_until(clock.window_end.into()).await;
                let last = c.stats().await;
                window_seqs.set_end(last.as_ref().ok().map(|s| s.head_seq));
                (first, last)
            })
        });
        Self { task, has_control }
    }

    /// The reads' results once the run is over; `complete` is false when the run ended before
    /// its window (the reads are then abandoned).
    pub async fn finish(self, complete: bool) -> ServerWindow {
        let missing = |why: String| ServerWindow {
            fallback_reason: Some(why),
            ..ServerWindow::default()
        };
        match self.task {
            Some(task) if complete => match task.await {
                Ok((Ok(first), Ok(last))) => ServerWindow {
                    first: Some(first),
                    last: Some(last),
                    fallback_reason: None,
                },
                Ok((Err(e), _)) => missing(format!("no /stats: {e}")),
                Ok((Ok(first), Err(e))) => ServerWindow {
                    first: Some(first),
                    last: None,
                    fallback_reason: Some(format!("/stats failed at the window's end: {e}")),
                },
                Err(e) => missing(format!("reading /stats failed: {e}")),
            },
            Some(task) => {
                task.abort();
                missing("the run ended before its window".into())
            }
            None if !self.has_control => missing("no /stats: tcp without --control-url".into()),
            None => missing("no /stats: its HTTP client could not be built".into()),
        }
    }
}
