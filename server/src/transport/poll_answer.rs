//! The answer both polls give: the events as one JSON array (`[]` when there are none), counted
//! in `/stats` and sent with the request's CORS headers.
//!
//! Long and short polling differ only in *when* they answer (after waiting, or at once); what
//! they answer is the same, so it is built in one place and the two cannot drift apart.

use actix_web::HttpResponse;
use rtlab_wire::framing::json_array;

use crate::counters::ConnectionGuard;
use crate::hub::EventRef;
use crate::origin_policy::Cors;

/// `200 application/json` holding `events`, oldest first; counts the answer on `guard`'s
/// transport (an empty one as an `empty_response`).
pub fn poll_answer(events: &[EventRef], guard: &ConnectionGuard, cors: &Cors) -> HttpResponse {
    let body = json_array(events.iter().map(|e| &e.json()[..]));
    if let Some(c) = guard.counters() {
        c.answered_poll(events.len(), body.len());
    }
    let mut response = HttpResponse::Ok();
    cors.apply(&mut response);
    response.content_type("application/json").body(body)
}
