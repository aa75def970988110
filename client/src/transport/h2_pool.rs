//! Subscribers sharing HTTP/2 connections (`--streams-per-connection N`).
//!
//! HTTP/1.1 carries one request at a time, so a browser opens a connection per EventSource (and
//! stops at six per origin); HTTP/2 multiplexes: every request is a *stream* on one
//! connection, and one TLS handshake, one TCP window and one HPACK table serve them all. The
//! pool groups subscribers by id, `N` consecutive ids to a connection. The first of a group to
//! arrive opens it (and becomes its *owner*); the others open a stream on it. If the owner's
//! open fails, the next one of the group tries in its turn.
//!
//! **Whose bytes.** A socket counter cannot tell streams apart, so a shared connection's bytes
//! are counted once, in the owner's tallies and phases; the other subscribers on it count no
//! bytes of their own. The run's totals are exact (every byte counted once) and so are per-event
//! figures (totals over events); per-subscriber set-up bytes are per *connection* (the report's
//! `connections` says how many), and a poll's bytes on a shared connection include the other
//! streams' frames that crossed meanwhile. A group split over shards (`--shards`) opens one
//! connection in each. A connection re-opened after the server closed it is the subscriber's own.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::transport::SubError;
use crate::transport::http::HttpClient;

/// The run's shared HTTP/2 connections, `per_connection` subscribers to each.
#[derive(Debug)]
pub struct H2Pool {
    per_connection: u64,
    groups: Mutex<HashMap<u64, Arc<OnceCell<HttpClient>>>>,
}

impl H2Pool {
    /// A pool putting `per_connection` subscribers on each connection (1: no sharing).
    pub fn new(per_connection: u32) -> Self {
        Self {
            per_connection: u64::from(per_connection.max(1)),
            groups: Mutex::default(),
        }
    }

    /// Whether subscribers share connections at all.
    pub fn is_shared(&self) -> bool {
        self.per_connection > 1
    }

    /// A client for subscriber `id`: a stream on its group's connection, opened by `open` if
    /// this subscriber is the first of its group to get there (then `.1` is `true`: it owns
    /// the connection's bytes).
    pub async fn client<F, Fut>(&self, id: u64, open: F) -> Result<(HttpClient, bool), SubError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<HttpClient, SubError>>,
    {
        let group = id / self.per_connection;
        let cell = {
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            groups.entry(group).or_default().clone()
        };
        let mut opened = false;
        let client = cell
            .get_or_try_init(|| {
                opened = true;
                open()
            })
            .await?;
        let shared = client
            .share()
            .ok_or_else(|| SubError::Protocol("a shared connection must be HTTP/2".into()))?;
        Ok((shared, opened))
    }
}

impl Default for H2Pool {
    fn default() -> Self {
        Self::new(1)
    }
}
