//! The control channel: the server's own counters, from `GET /stats`.
//!
//! The client counts what it *received*; only the server knows what it *published*. Reading
//! `/stats` at the start and at the end of the measured window gives the events published in
//! between, so the report can say whether subscribers kept up (`delivery_ratio`). This is a
//! plain JSON GET twice per run, so reqwest does it: its bytes are not part of any measurement.
//!
//! `/stats` is optional. A server that has none (another project's feed, measured by this
//! client) is still measured, by the seq range seen instead of the server's head seq (see
//! [`crate::window_seq`]); [`StatsError`] says why `/stats` could not be read, and the report
//! carries that sentence as `window_fallback_reason`, so a reader can tell a server without
//! `/stats` from one whose `/stats` merely timed out under load.

use std::time::Duration;

use rtlab_wire::{StatsSnapshot, paths};

use crate::config::Target;

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
    /// No answer within [`TIMEOUT`].
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
    /// A client for the server at `target`.
    pub(crate) fn new(target: &Target) -> Option<Self> {
        let http = reqwest::Client::builder().timeout(TIMEOUT).build().ok()?;
        Some(Self {
            http,
            stats_url: format!("http://{}{}", target.authority, target.path(paths::STATS)),
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
