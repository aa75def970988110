//! The shared state every handler sees, and admission: the one gate a connection passes before
//! the server spends anything on it.
//!
//! Actix runs one copy of the app per worker thread, so the state is a bundle of cheap handles
//! ([`AppState`]) cloned into each: the hub, the settings, the shutdown token that tells every
//! long-lived connection to wind down, and the origin policy.
//!
//! **Admission.** A streaming connection (WebSocket feed, echo, SSE) holds a task, a socket and a
//! slot under `--max-connections` for as long as it lives, so every streaming handler lets it in
//! through [`AppState::admit`], which refuses in this order:
//!
//! 1. the server is shutting down → 503 (new long-lived work would only be cut off again);
//! 2. in cluster mode, the broker is away → 503 `broker unavailable` (this node's feed stands
//!    still and could not take a publish; [`crate::broker`]);
//! 3. the `Origin` is not allowed → 403 ([`crate::origin_policy`]);
//! 4. every connection slot is taken → 503 (counted in `rejected_connections`).
//!
//! Cheap refusals come first, and the slot is taken last, so a refused connection never shows up
//! in `/stats` as opened. The handler validates what is specific to it (a WebSocket handshake, a
//! `Last-Event-ID`) *before* admission for the same reason, and subscribes to the hub only after.
//! Polls and `/publish` hold no slot: they pass only the broker and origin steps
//! ([`AppState::admit_request`]).
//!
//! A production server would put a rate limit per client address in this same gate.

use std::sync::Arc;

use actix_web::HttpRequest;
use rtlab_wire::Transport;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::config::Config;
use crate::counters::ConnectionGuard;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::origin_policy::{BoundListener, Cors, OriginPolicy};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The one feed.
    pub hub: Hub,
    /// The settings the server was started with.
    pub config: Arc<Config>,
    /// Fires when the server starts shutting down: streams end, long polls answer.
    pub shutdown: CancellationToken,
    /// Which browser origins may connect (from `config.allow_origins`).
    pub origins: Arc<OriginPolicy>,
    /// Which feed this is and where it lives.
    pub feed: Arc<FeedIdentity>,
}

/// The feed's identity and home, as `/stats` and the `Rtlab-Epoch` header tell them.
#[derive(Debug, Clone)]
pub struct FeedIdentity {
    /// ns since the Unix epoch of the feed's birth: this server's start (embedded), or the broker
    /// stream's creation (cluster).
    pub epoch: u64,
    /// This node's name (`--node`).
    pub node: String,
    /// The broker, in cluster mode: events are published to it, not into the hub.
    pub broker: Option<Broker>,
}

/// The message of the 503 a feed request gets while the broker is away.
pub const BROKER_UNAVAILABLE: &str = "broker unavailable";

/// A streaming connection that was let in.
#[derive(Debug)]
pub struct Admission {
    /// Its connection slot and counters; dropping it ends the connection in the counters.
    pub guard: ConnectionGuard,
    /// The CORS headers its response carries (for SSE; a browser ignores them on a WebSocket
    /// handshake, where the origin check itself is the whole protection).
    pub cors: Cors,
}

impl AppState {
    /// The state for `config`, its origin policy built from `--allow-origin`.
    pub fn new(
        hub: Hub,
        config: Config,
        shutdown: CancellationToken,
        feed: FeedIdentity,
        bound: BoundListener,
    ) -> Self {
        let origins = OriginPolicy::new(&config.allow_origins, bound);
        AppState {
            hub,
            config: Arc::new(config),
            shutdown,
            origins: Arc::new(origins),
            feed: Arc::new(feed),
        }
    }

    /// Lets a streaming connection of `transport` in (`None`: the echo socket, capped but not a
    /// feed transport), or says why not as a JSON 503 or 403 (see the module docs for the order).
    pub fn admit(
        &self,
        req: &HttpRequest,
        transport: Option<Transport>,
    ) -> Result<Admission, ApiError> {
        if self.shutdown.is_cancelled() {
            return Err(ApiError::Unavailable("server is shutting down".into()));
        }
        let cors = self.admit_request(req)?;
        let guard = self
            .hub
            .counters()
            .open_streaming(transport, self.config.max_connections)
            .ok_or_else(|| {
                ApiError::Unavailable(
                    "too many open streaming connections (--max-connections)".into(),
                )
            })?;
        Ok(Admission { guard, cors })
    }

    /// The steps for requests that hold no slot (polls, `/publish`): the broker (503) and the
    /// origin (403); the CORS headers to answer with.
    pub fn admit_request(&self, req: &HttpRequest) -> Result<Cors, ApiError> {
        if let Some(broker) = &self.feed.broker
            && !broker.is_available()
        {
            return Err(ApiError::Unavailable(BROKER_UNAVAILABLE.into()));
        }
        self.check_origin(req)
    }

    /// The origin step alone (a CORS preflight): the CORS headers to answer with, or the JSON
    /// 403.
    pub fn check_origin(&self, req: &HttpRequest) -> Result<Cors, ApiError> {
        self.origins.check(req)
    }
}
