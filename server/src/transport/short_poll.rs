//! Short polling (`GET /poll/short?after=N`): ask on a timer, get whatever is new, at once.
//!
//! The oldest and simplest way to watch a feed: the client asks every so often "anything after
//! N?" and the server answers immediately from the history, a JSON array of up to `--batch-max`
//! events with seq > N, oldest first, often `[]`. Nothing is held open and nothing waits, which is
//! why it is so easy to deploy and why it is costly: latency is half the polling interval on
//! average, and every poll pays a full HTTP request and response even when there is no news
//! (counted as `empty_responses` in `/stats`).
//!
//! Without `after` the answer is the latest event alone (or `[]`), which gives a client its
//! starting point. Production short polling would add `ETag`/`If-None-Match` so empty answers are
//! a bodiless 304; the lab keeps `[]` so every transport speaks the same JSON.

use actix_web::{HttpRequest, HttpResponse, web};
use rtlab_wire::Transport;

use super::AfterQuery;
use super::poll_answer::poll_answer;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /poll/short`: answers at once from the history (403 first for a refused `Origin`).
pub async fn handler(
    req: HttpRequest,
    query: web::Query<AfterQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cors = state.admit_request(&req)?;
    let guard = state.hub.counters().open_request(Transport::ShortPoll);
    let events = match query.after {
        Some(after) => state.hub.events_after(after, state.config.batch_max),
        None => state.hub.latest().into_iter().collect(),
    };
    Ok(poll_answer(&events, &guard, &cors))
}
