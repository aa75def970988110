//! `GET /`: the live side-by-side page.
//!
//! One self-contained HTML file (no build step, no CDN) that subscribes to the feed over
//! WebSocket, SSE, long polling and short polling at once and shows them next to each other, so
//! the difference between transports is visible before it is measured. It is embedded in the
//! binary with `include_str!`, so the server is one file to copy and the page always matches the
//! server it came with. The page itself lives in `page/index.html`.

use actix_web::HttpResponse;

/// The page, embedded at compile time.
pub const INDEX_HTML: &str = include_str!("page/index.html");

/// `GET /`: the page, as `text/html`.
pub async fn handler() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(INDEX_HTML)
}
