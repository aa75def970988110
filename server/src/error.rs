//! Errors: what a client did wrong ([`ApiError`]) and what can stop the server from starting
//! ([`ServerError`]).
//!
//! The contract says every error is a JSON body `{"error":"<what was wrong>"}` with a 4xx (or 503)
//! status, and that a client's mistake is never a 5xx, a panic or a hang. Actix renders its own
//! errors as plain text, so every path where a client can be wrong is funnelled into [`ApiError`],
//! whose [`ResponseError`] impl writes the JSON body: handlers return it, the query extractor's
//! error handler converts into it ([`query_error`]), and the default services for unknown paths and
//! wrong methods produce it ([`not_found`], [`method_not_allowed`]).
//!
//! A production API would add machine-readable error codes and a request id; a lab only needs a
//! sentence a person can act on.

use std::io;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use rtlab_wire::ErrorBody;

/// A request the server refuses, rendered as `{"error": …}` with a 4xx or 503 status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a malformed query (`after=abc`), an out-of-range value (`timeout_ms` over the maximum),
    /// a failed WebSocket handshake, a body that is not UTF-8.
    #[error("{0}")]
    BadRequest(String),
    /// 403: a browser request from an origin the server does not allow (see
    /// [`crate::origin_policy`]). The message is exactly the contract's.
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// 404: no such path.
    #[error("no such endpoint: {0}")]
    NotFound(String),
    /// 405: the path exists, the method does not. Carries the `Allow` header value.
    #[error("method {method} not allowed here; allowed: {allow}")]
    MethodNotAllowed {
        /// The method the client used.
        method: String,
        /// The methods the path accepts, as for the `Allow` header.
        allow: &'static str,
    },
    /// 413: a publish body (or announced `Content-Length`) over `--max-publish-bytes`.
    #[error("body too large: the limit is {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// 503: `--max-connections` streaming connections are open, or the server is shutting down.
    #[error("{0}")]
    Unavailable(String),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::OriginNotAllowed => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, *allow));
        }
        if matches!(self, ApiError::PayloadTooLarge { .. }) {
            // The unread rest of an oversized body would be parsed as the next request: close.
            response.insert_header((header::CONNECTION, "close"));
        }
        response.json(ErrorBody::new(self.to_string()))
    }
}

/// The query extractor's error handler: `after=abc` or `after=-1` become a JSON 400, not actix's
/// plain-text one.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ApiError::BadRequest(format!("bad query string: {err}")).into()
}

/// The app's default service: a JSON 404 for any path no route knows.
pub async fn not_found(req: HttpRequest) -> ApiError {
    ApiError::NotFound(format!("{} {}", req.method(), req.path()))
}

/// A resource's default service: a JSON 405 with `Allow`, for a known path and a wrong method.
pub fn method_not_allowed(
    allow: &'static str,
) -> impl Fn(HttpRequest) -> std::future::Ready<ApiError> + Clone + 'static {
    move |req: HttpRequest| {
        std::future::ready(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow,
        })
    }
}

/// Why the server could not start (or stop cleanly).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A setting that would make the server misbehave (see [`crate::Config::validate`]).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A listener could not be bound (address in use, permission denied, …).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The `--tls-cert`/`--tls-key` pair cannot be read or used.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// Cluster mode: the broker did not answer at start, or its stream cannot be used.
    #[error(transparent)]
    Broker(#[from] crate::broker::BrokerError),
    /// Any other I/O error while starting or stopping.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl actix_web::Responder for ApiError {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse<Self::Body> {
        self.error_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(err: &ApiError) -> serde_json::Value {
        let bytes = err.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn every_error_is_a_json_body_with_its_status() {
        let cases = [
            (ApiError::BadRequest("x".into()), 400),
            (ApiError::OriginNotAllowed, 403),
            (ApiError::NotFound("GET /nope".into()), 404),
            (
                ApiError::MethodNotAllowed {
                    method: "POST".into(),
                    allow: "GET",
                },
                405,
            ),
            (ApiError::PayloadTooLarge { limit: 10 }, 413),
            (ApiError::Unavailable("full".into()), 503),
        ];
        for (err, status) in cases {
            assert_eq!(err.status_code().as_u16(), status);
            assert!(
                body_of(&err)["error"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            );
        }
    }

    #[test]
    fn method_not_allowed_carries_allow() {
        let err = ApiError::MethodNotAllowed {
            method: "PUT".into(),
            allow: "GET, HEAD",
        };
        let resp = err.error_response();
        assert_eq!(resp.headers().get(header::ALLOW).unwrap(), "GET, HEAD");
    }
}
