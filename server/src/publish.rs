//! `POST /publish`: the HTTP way into the feed.
//!
//! The request body, as UTF-8 text, becomes the `data` of a new event, which every transport then
//! delivers like a ticker event; the answer is `{"seq":N}` so the publisher can find its event in
//! the feed (the lab uses it to measure publish-to-delivery latency on every transport at once).
//!
//! The size limit is enforced before the body is read when the client announces it
//! (`Content-Length` over `--max-publish-bytes` is a 413 at once, without reading a byte of it),
//! and while reading otherwise (a chunked body is cut off as soon as it passes the limit), so a
//! 10 MB upload never sits in memory. The 413 closes the connection, since the unread rest of the
//! body cannot be told apart from a next request.
//!
//! Before any of that, the request's `Origin` is checked ([`crate::origin_policy`]): a cross-site
//! `POST` with a `text/plain` body needs no CORS preflight, so without the check any page the user
//! visits could publish. A refused origin gets its 403 before a byte of the body is read. For
//! allowed cross origins, `OPTIONS /publish` answers the preflight a JSON body triggers
//! ([`preflight`]).
//!
//! In cluster mode the event goes to the broker's stream instead of this node's hub, and the
//! answer waits for the broker's ack, which holds the seq ([`crate::broker`]); a broker that does
//! not store it in time gives 503 `{"error":"broker unavailable"}`.
//!
//! Production APIs authenticate publishers and rate-limit them (429); the lab trusts localhost.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::BytesMut;
use futures_util::StreamExt;
use rtlab_wire::Seq;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::hub::Origin;
use crate::state::{AppState, BROKER_UNAVAILABLE};

/// The answer to a publish: the seq the event got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The new event's seq.
    pub seq: Seq,
}

/// `POST /publish`: body (UTF-8 text, at most `--max-publish-bytes`) → new event → `{"seq":N}`.
pub async fn handler(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let cors = state.admit_request(&req)?;
    let limit = state.config.max_publish_bytes;
    let too_large = || ApiError::PayloadTooLarge { limit };
    if content_length(&req).is_some_and(|announced| announced > limit as u64) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let data = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::BadRequest("the body must be UTF-8 text".into()))?;
    let seq = match &state.feed.broker {
        // Cluster mode: the seq is the stream's, known once the broker has stored the event.
        Some(broker) => broker.publish(data).await.map_err(|e| {
            tracing::warn!(error = %e, "publish not stored");
            ApiError::Unavailable(BROKER_UNAVAILABLE.into())
        })?,
        None => state.hub.publish(data, Origin::Client).seq(),
    };
    let mut response = HttpResponse::Ok();
    cors.apply(&mut response);
    Ok(response.json(Published { seq }))
}

/// `OPTIONS /publish`: the CORS preflight. 204 with the allowed method and header for an allowed
/// origin, 403 for any other; without an `Origin` it is no preflight, and the path's only method
/// is still `POST` (405).
pub async fn preflight(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !req.headers().contains_key(header::ORIGIN) {
        return Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow: "POST",
        });
    }
    Ok(state.check_origin(&req)?.preflight())
}

fn content_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
