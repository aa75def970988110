//! Long polling (`GET /poll/long?after=N&timeout_ms=T`): ask, wait until there is news, repeat.
//!
//! Long polling is push built out of plain requests. The client asks "anything after N?" and the
//! server *parks* the request instead of answering "no": the answer goes out the moment an event
//! with seq > N exists (a JSON array of up to `--batch-max` events, oldest first), or as `[]` when
//! `timeout_ms` passes first. The client then immediately asks again with the last seq it got.
//! That re-request is the price of the technique: every event batch pays a full HTTP request and
//! response head, and between an answer and the next request the client is not listening (events
//! published then wait in the history, so nothing is lost, only delayed).
//!
//! Parking costs no CPU: the handler waits on the hub's head-seq `watch` channel, which every
//! publish bumps, never on a sleep loop. The receiver is taken *before* the history is read, so an
//! event published between the read and the wait still wakes it. Actix has no per-handler timeout,
//! so the handler enforces `timeout_ms` itself (at most 60 s; the server's keep-alive and request
//! timeouts only apply between requests and to reading the request head, so they never cut a
//! parked poll). On shutdown every parked poll is answered at once.
//!
//! Production long polling (Comet, Bayeux, old Facebook chat) adds a per-client cursor on the
//! server; here the cursor is `after` and the history does the rest.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use rtlab_wire::{Seq, Transport, defaults};
use serde::Deserialize;
use tokio::time::{Instant, sleep_until};

use super::poll_answer::poll_answer;
use crate::error::ApiError;
use crate::hub::EventRef;
use crate::state::AppState;

/// The query of `/poll/long`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct LongPollQuery {
    /// Answer with events after this seq; absent means "the next new event".
    pub after: Option<Seq>,
    /// Longest wait in milliseconds (default 25000, at most 60000).
    pub timeout_ms: Option<u64>,
}

impl LongPollQuery {
    /// The wait this poll may park for: the default when absent, a 400 above the maximum.
    pub fn timeout(&self) -> Result<Duration, ApiError> {
        let ms = self.timeout_ms.unwrap_or(defaults::LONG_POLL_TIMEOUT_MS);
        if ms > defaults::LONG_POLL_TIMEOUT_MAX_MS {
            return Err(ApiError::BadRequest(format!(
                "timeout_ms must be at most {}, got {ms}",
                defaults::LONG_POLL_TIMEOUT_MAX_MS
            )));
        }
        Ok(Duration::from_millis(ms))
    }
}

/// `GET /poll/long`: parks until an event after `after` exists, the timeout passes, or shutdown
/// (403 first for a refused `Origin`: a refused page parks nothing).
pub async fn handler(
    req: HttpRequest,
    query: web::Query<LongPollQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cors = state.admit_request(&req)?;
    let deadline = Instant::now() + query.timeout()?;
    let guard = state.hub.counters().open_request(Transport::LongPoll);
    let mut head = state.hub.watch_head();
    let after = match query.after {
        Some(after) => after,
        None => *head.borrow_and_update(),
    };
    let events: Vec<EventRef> = loop {
        let events = state.hub.events_after(after, state.config.batch_max);
        if !events.is_empty() {
            break events;
        }
        tokio::select! {
            biased;
            () = state.shutdown.cancelled() => break events,
            () = sleep_until(deadline) => break events,
            changed = head.changed() => if changed.is_err() {
                break events;
            },
        }
    };
    Ok(poll_answer(&events, &guard, &cors))
}

#[cfg(test)]
mod tests {
    use actix_web::web::Query;

    use super::*;

    #[test]
    fn timeout_defaults_and_limits() {
        let q = Query::<LongPollQuery>::from_query("after=3").unwrap();
        assert_eq!(q.after, Some(3));
        assert_eq!(q.timeout().unwrap(), Duration::from_millis(25_000));
        let q = Query::<LongPollQuery>::from_query("timeout_ms=60000").unwrap();
        assert_eq!(q.timeout().unwrap(), Duration::from_secs(60));
        let q = Query::<LongPollQuery>::from_query("timeout_ms=60001").unwrap();
        assert!(q.timeout().is_err());
        let q = Query::<LongPollQuery>::from_query("timeout_ms=99999999999").unwrap();
        assert!(q.timeout().is_err());
        assert!(Query::<LongPollQuery>::from_query("timeout_ms=-5").is_err());
        assert!(Query::<LongPollQuery>::from_query("after=abc").is_err());
    }
}
