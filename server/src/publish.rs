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
//! Production APIs authenticate publishers and rate-limit them (429); the lab trusts localhost.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::BytesMut;
use futures_util::StreamExt;
use rtlab_wire::Seq;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::ApiError;
use crate::hub::Origin;

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
    let event = state.hub.publish(data, Origin::Client);
    Ok(HttpResponse::Ok().json(Published { seq: event.seq() }))
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
