//! The HTTP listener: the [`app`] served by actix-http on an actix-server, each
//! connection behind a first-byte deadline.
//!
//! actix-web's `HttpServer` is this same stack (an actix-server whose service per connection is
//! actix-http's `HttpService` around the `App`). It is assembled here for one reason: connections
//! that never send a byte.
//!
//! **Why.** actix-http times the arrival of a request head (`client_request_timeout`) from a
//! clock it caches and refreshes every 500 ms, so every connection accepted within the same half
//! second gets the *same* deadline, and all of them time out in one tick of the timer. The worker
//! then drops them one after another (a 408 written, a shutdown, a close: about 38 µs each on the
//! lab's machine), and for as long as that takes it serves no other connection: 5 000 idle
//! connections opened within 0.3 s held every healthy WebSocket subscriber on that worker for
//! about 200 ms (their p99 went from 28 ms to 90–124 ms at 20 events/s; 2026-11-28, the
//! reliability suite's hostile case). A connection that has not said anything yet never reaches
//! actix-http here: [`first_byte`] waits until it is readable, with a deadline of its own taken
//! from the real clock when it was accepted and pushed back at random by up to a second
//! ([`FIRST_BYTE_JITTER`]), so a crowd of idle connections is closed a few at a time, and with
//! a reset rather than a 408 (nginx closes a connection that never sent a request the same way; a
//! 408 answers a request that was started, RFC 9110 §15.5.9). What happens after the first byte
//! is actix-http's as before, `client_request_timeout` included: a slow-headers client has
//! [`CLIENT_REQUEST_TIMEOUT`] to finish its head.
//!
//! Everything else is what `HttpServer` would set up: `TCP_NODELAY`, HTTP/2 and HTTP/1.1 offered
//! by ALPN under TLS, and actix-server's graceful-shutdown signal handed to the dispatchers (an
//! idle keep-alive HTTP/1.1 connection closes at once on shutdown). Three actix defaults are
//! changed, all measured facts rather than taste:
//! - `keep_alive` and `client_request_timeout` default to 5 s. In actix-http they apply only
//!   between requests and to reading a request head, never to a response in progress, so they
//!   cannot cut a parked long poll or an idle stream; they are raised anyway ([`KEEP_ALIVE`],
//!   [`CLIENT_REQUEST_TIMEOUT`]) so a client pausing between polls keeps its connection.
//! - actix's signal handling is disabled; [`crate::shutdown`] owns the shutdown order.
//! - `client_disconnect_timeout` (1 s by default) is how long actix keeps reading, and discarding,
//!   a request body that was not read before closing the connection. A WebSocket's "request
//!   body" is the rest of the connection, so after the close handshake actix waited a full second
//!   for the *client* to close, although RFC 6455 §7.1.1 says the server closes the TCP
//!   connection first (Autobahn waits exactly 1 s for that, then reports the close as unclean).
//!   [`CLIENT_DISCONNECT_TIMEOUT`] is short enough for that and still long enough for a client on
//!   the same machine to finish writing a refused 10 MB upload and read its 413. It must stay
//!   well above 500 ms: actix-http (3.20) computes the deadline from the same cached clock, and a
//!   deadline already in the past is never woken up, so the connection then stays open until the
//!   client closes it (measured: 100 ms never closes, 600 ms does).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use actix_http::body::{BoxBody, MessageBody};
use actix_http::{HttpService, Request, Response};
use actix_server::{GracefulShutdownSignal, Server};
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, boxed, fn_service, map_config,
};
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::{AppConfig, ServiceResponse};
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, web};
use tokio::net::TcpStream;

use crate::app;
use crate::shutdown::SHUTDOWN_GRACE;
use crate::state::AppState;

/// How long an idle keep-alive connection is kept between requests (longer than the longest long
/// poll, so a poller's connection survives a pause between polls).
pub const KEEP_ALIVE: Duration = Duration::from_secs(75);

/// How long a client has to send a complete request head once it started one.
pub const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a new connection may stay silent before the server closes it ([`first_byte`]): as
/// long as a started request head may take, plus up to [`FIRST_BYTE_JITTER`].
pub const FIRST_BYTE_TIMEOUT: Duration = CLIENT_REQUEST_TIMEOUT;

/// The most a silent connection's deadline is pushed back, at random, beyond
/// [`FIRST_BYTE_TIMEOUT`]. A crowd that connected together (an attack, or every client of a node
/// that just restarted) would otherwise expire together, and the resets would come in bursts as
/// dense as the arrivals: 5 000 connections opened in batches of 256 expired in bursts of 256,
/// each holding the worker for a few milliseconds (healthy SSE p99 ×1.20 at 20 events/s,
/// 2026-11-28). Spread over a second, they come a few per millisecond.
pub const FIRST_BYTE_JITTER: Duration = Duration::from_secs(1);

/// How long, after a response on a connection that still has unread request bytes (a refused
/// upload, a closed WebSocket), the server reads and discards them before closing the socket
/// (actix's default is 1 s; see the module docs for why neither shorter nor the default).
pub const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_millis(750);

/// What the listener serves: the shared state every worker's `App` gets, and the header every
/// response carries (the feed's epoch).
#[derive(Clone)]
pub struct Site {
    /// The state the handlers share.
    pub state: web::Data<AppState>,
    /// `Rtlab-Epoch` and its value.
    pub epoch_header: (&'static str, String),
}

impl Site {
    /// The `App` one worker runs, as a service factory of requests.
    fn app(
        &self,
    ) -> impl ServiceFactory<
        Request,
        Config = (),
        Response = ServiceResponse,
        Error = HttpResponse,
        InitError = (),
    > + 'static {
        let app = App::new()
            // On every response, the WebSocket handshake's 101 included.
            .wrap(DefaultHeaders::new().add(self.epoch_header.clone()))
            .app_data(self.state.clone())
            .configure(app::routes)
            .into_factory()
            .map_err(|err| err.error_response());
        // The handlers read the listener from `AppState`, not from actix's `AppConfig`.
        map_config(app, |()| AppConfig::default())
    }
}

/// An actix-server serving `site` on `listener` (HTTPS with `tls`), with `workers` workers (0:
/// actix's default, one per core), not yet running.
pub fn server(
    listener: std::net::TcpListener,
    tls: Option<rustls::ServerConfig>,
    workers: usize,
    site: Site,
) -> io::Result<Server> {
    let mut builder = Server::build()
        // crate::shutdown owns the signals and the shutdown order.
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
    if workers > 0 {
        builder = builder.workers(workers);
    }
    let addr = listener.local_addr()?;
    let graceful = builder.graceful_shutdown_signal();
    // Each worker builds its own service from this (the `App` is not `Send`). The worker ignores
    // a connection's error (actix-http has logged what matters), so both transports end in `()`,
    // one boxed type.
    let per_worker = move || {
        let app = site.app();
        match &tls {
            None => boxed::factory(behind_first_byte(
                http_service::<TcpStream, _, _>(app, addr, graceful.clone())
                    .tcp()
                    .map_err(drop),
            )),
            Some(config) => boxed::factory(behind_first_byte(
                http_service::<TlsStream<TcpStream>, _, _>(app, addr, graceful.clone())
                    .rustls_0_23(config.clone())
                    .map_err(drop),
            )),
        }
    };
    Ok(builder.listen("rtlab-http", listener, per_worker)?.run())
}

/// actix-http serving `app` on connections of type `T`, with the server's timeouts.
fn http_service<T, S, B>(
    app: S,
    addr: SocketAddr,
    graceful: GracefulShutdownSignal,
) -> HttpService<T, S, B>
where
    S: ServiceFactory<Request, Config = ()>,
    S::Error: Into<Response<BoxBody>> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    HttpService::build()
        .graceful_shutdown_signal(move || {
            let graceful = graceful.clone();
            async move { graceful.notified().await }
        })
        .keep_alive(KEEP_ALIVE)
        .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
        .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
        .h1_allow_half_closed(true)
        // Real-time pushes are small writes: with Nagle's algorithm on, a frame written while an
        // earlier one is unacknowledged waits for the peer's delayed ACK, up to 40 ms on Linux
        // (ws and sse p50 ≈ 20 ms at 5 000 events/s against 0.1 ms for raw TCP, measured before
        // this line).
        .tcp_nodelay(true)
        .local_addr(addr)
        .finish(app)
}

/// `inner` for connections that say something within [`FIRST_BYTE_TIMEOUT`] (and their share of
/// [`FIRST_BYTE_JITTER`]) of being accepted; the others are closed.
fn behind_first_byte<SF>(
    inner: SF,
) -> impl ServiceFactory<TcpStream, Config = (), Response = (), Error = (), InitError = ()>
where
    SF: ServiceFactory<TcpStream, Config = (), Response = (), Error = (), InitError = ()>,
{
    fn_service(|io: TcpStream| async move {
        let deadline = FIRST_BYTE_TIMEOUT + FIRST_BYTE_JITTER.mul_f64(rand::random::<f64>());
        if first_byte(&io, deadline).await {
            Ok(io)
        } else {
            // Closed with a reset rather than a FIN: no close handshake to wait for and no
            // TIME_WAIT to keep, which is what nginx's `reset_timedout_connection` does for the
            // same reason. The client never sent anything, so nothing of its is lost.
            let _ = io.set_zero_linger();
            Err(())
        }
    })
    .and_then(inner)
}

/// Whether `io` became readable (a byte, the peer's close or an error to report) within
/// `timeout` of now.
///
/// The wait takes nothing from the connection: its bytes stay in the socket for actix-http to
/// read, and tokio's readiness for it carries over to the next read.
pub async fn first_byte(io: &TcpStream, timeout: Duration) -> bool {
    tokio::time::timeout(timeout, io.readable()).await.is_ok()
}
