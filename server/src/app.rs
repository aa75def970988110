//! The HTTP application: the route table.
//!
//! Keeping the routes in one function ([`routes`]) separate from the server start-up lets the
//! route table be read at a glance, actix-examples style; what the handlers share lives in
//! [`crate::state`].
//!
//! Every route is a resource with an explicit method and a default service that answers a JSON
//! 405 with `Allow`, and the app's default service is a JSON 404: actix's own plain-text errors
//! never reach a client. `/publish` also answers `OPTIONS`, the CORS preflight a browser sends
//! before a cross-origin `POST` with a JSON body ([`publish::preflight`]). No `Compress`
//! middleware is installed, deliberately: it buffers small streamed chunks, which would hold SSE
//! events back and falsify the measurements.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use rtlab_wire::{BrokerStatus, FeedMode, paths};

use crate::error::{method_not_allowed, not_found, query_error};
use crate::heap::heap_stats;
use crate::state::AppState;
use crate::transport::{echo, long_poll, short_poll, sse, ws};
use crate::{page, publish};

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
                .route(web::method(Method::OPTIONS).to(publish::preflight))
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

/// `GET /stats`: the counters as JSON, with the feed's identity (epoch, mode, node, broker).
/// Answers while the broker is away too: that is when an operator looks.
async fn stats(state: web::Data<AppState>) -> HttpResponse {
    let mut snapshot = state.hub.counters().snapshot(state.hub.head());
    let feed = &state.feed;
    snapshot.epoch = feed.epoch.to_string();
    snapshot.node.clone_from(&feed.node);
    snapshot.mode = if feed.broker.is_some() {
        FeedMode::Cluster
    } else {
        FeedMode::Embedded
    };
    snapshot.broker = feed.broker.as_ref().map(|broker| BrokerStatus {
        url: broker.url().to_owned(),
        connected: broker.is_connected(),
    });
    snapshot.heap = heap_stats();
    HttpResponse::Ok().json(snapshot)
}
