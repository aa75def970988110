//! The control channel: the server's own counters, from `GET /stats`.
//!
//! The client counts what it *received*; only the server knows what it *published*. Reading
//! `/stats` at the start and at the end of the measured window gives the events published in
//! between, so the report can say whether subscribers kept up (`delivery_ratio`). This is a
//! plain JSON GET twice per run, so reqwest does it: its bytes are not part of any measurement.

use std::time::Duration;

use rtlab_wire::{StatsSnapshot, paths};

use crate::config::Target;

/// Time allowed for one `/stats` call: generous, because a server under a 10 000-subscriber
/// load answers slowly, and a missing answer makes the report fall back to the seq range.
const TIMEOUT: Duration = Duration::from_secs(3);

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
    pub async fn stats(&self) -> Result<StatsSnapshot, reqwest::Error> {
        self.http
            .get(&self.stats_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
}
