//! The HTTP application: the shared state every handler sees, and the route table.
//!
//! Actix runs one copy of the app per worker thread, so the state is a bundle of cheap handles
//! ([`AppState`]) cloned into each: the hub, the settings, and the shutdown token that tells every
//! long-lived connection to wind down. Keeping the routes in one function ([`routes`]) separate
//! from the server start-up lets the route table be read at a glance, actix-examples style.
//!
//! Every route is a resource with an explicit method and a default service that answers a JSON
//! 405 with `Allow`, and the app's default service is a JSON 404: actix's own plain-text errors
//! never reach a client. No `Compress` middleware is installed, deliberately: it buffers small
//! streamed chunks, which would hold SSE events back and falsify the measurements.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use rtlab_wire::paths;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{ApiError, method_not_allowed, not_found, query_error};
use crate::hub::Hub;
use crate::transport::{echo, long_poll, short_poll, sse, ws};
use crate::{page, publish};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The one feed.
    pub hub: Hub,
    /// The settings the server was started with.
    pub config: Arc<Config>,
    /// Fires when the server starts shutting down: streams end, long polls answer.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Refuses new long-lived work once shutdown has begun.
    pub fn ensure_running(&self) -> Result<(), ApiError> {
        if self.shutdown.is_cancelled() {
            Err(ApiError::Unavailable("server is shutting down".into()))
        } else {
            Ok(())
        }
    }
}

/// Registers every route of the contract, the JSON query-error handler and the JSON 404.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(query_error))
        .service(get(paths::WS, ws::handler))
        .service(get(paths::WS_ECHO, echo::handler))
        .service(get(paths::SSE, sse::handler))
        .service(get(paths::LONG_POLL, long_poll::handler))
        .service(get(paths::SHORT_POLL, short_poll::handler))
        .service(get(paths::STATS, stats))
        .service(get("/", page::handler))
        .service(
            web::resource(paths::PUBLISH)
                .route(web::post().to(publish::handler))
                .default_service(web::to(method_not_allowed("POST"))),
        )
        .default_service(web::to(not_found));
}

fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(method_not_allowed("GET")))
}

/// `GET /stats`: the counters as JSON.
async fn stats(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.hub.stats().snapshot(state.hub.head()))
}
