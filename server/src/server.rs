//! Starting and stopping the whole server: [`spawn`] and [`RunningServer`].
//!
//! [`spawn`] is what the binary, the integration tests, the client's tests and the lab runner all
//! call: it binds both listeners (port 0 picks a free port, so tests never collide), starts the
//! HTTP server, the raw-TCP baseline and the ticker in the background of the *caller's* tokio
//! runtime, and returns at once with the bound addresses.
//!
//! actix runs fine under a plain tokio runtime (no actix `System` needed): the HTTP listener's
//! actix-server ([`crate::http_listener`]) is a future that, when polled inside tokio, starts its
//! acceptor thread and one worker thread per `--workers`, each with its own single-threaded
//! runtime where handlers run. That future is simply `tokio::spawn`ed. The hub only uses
//! thread-safe primitives (`Mutex`, tokio channels, `CancellationToken`), so handlers on worker
//! threads and the TCP baseline and ticker on the caller's runtime share it freely.
//!
//! With `--tls-cert`/`--tls-key` the HTTP listener speaks rustls (HTTPS and WSS, `h2` and
//! `http/1.1` offered by ALPN; see [`crate::tls`]), and `--tcp-tls-addr` adds a third listener: the
//! raw-TCP baseline over TLS. Everything else is the same server. One difference shows at shutdown:
//! actix-http's HTTP/2 dispatcher has no graceful-shutdown hook (it sends no `GOAWAY`), so an idle
//! HTTP/2 connection a client keeps open is only dropped when
//! [`SHUTDOWN_GRACE`](crate::shutdown::SHUTDOWN_GRACE) runs out, where an idle HTTP/1.1 one is
//! closed at once.
//!
//! With `--broker` ([`crate::broker`]) the node connects to the broker before it binds anything,
//! follows the stream into its hub, and opens its listeners once it has caught up with the
//! stream's head; its ticker publishes to the broker instead of the hub. Every response carries
//! the feed's epoch as `Rtlab-Epoch` (actix's `DefaultHeaders`, so no handler can forget it).
//!
//! The HTTP listener itself (the `App` on actix-http behind a first-byte deadline, the timeouts
//! and why each is what it is) is [`crate::http_listener`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::web;
use rtlab_wire::{headers, now_unix_nanos};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::{Broker, follower, tick_publisher};
use crate::config::Config;
use crate::counters::Counters;
use crate::error::ServerError;
use crate::heap;
use crate::http_listener::{self, Site};
use crate::hub::{Hub, HubConfig, ticker};
use crate::origin_policy::BoundListener;
use crate::shutdown::ShutdownSignals;
use crate::state::{AppState, FeedIdentity};
use crate::tls::TlsIdentity;
use crate::transport::tcp;

/// Connections each listener lets the kernel queue, handshake done, before the server accepts
/// them (`listen(2)`'s backlog; the kernel caps it at `net.core.somaxconn`, 4 096 by default).
/// tokio's `TcpListener::bind` asks for 1 024, and a burst larger than that (5 000 connections
/// opened at once by the reliability suite's hostile case, or thousands of reconnects after a
/// node dies) overflows it: the kernel then drops the client's last handshake packet or answers
/// with a SYN cookie, the client believes it is connected, and the server never hears of the
/// connection (`nstat`'s `TcpExtListenOverflows`; 3 110 of 10 000 such in one run, 2026-11-28).
pub const LISTEN_BACKLOG: u32 = 4_096;

/// What the `rtlab-server` binary does: start, announce the bound addresses on stdout, and stop
/// gracefully on the first SIGINT or SIGTERM.
///
/// The one stdout line, `listening http=ADDR tcp=ADDR`, is the machine-readable contract with the
/// lab runner (it starts the server on port 0 and reads the ports from it); everything else goes
/// to stderr through `tracing`. With TLS the line goes on with `scheme=https` (`http=` is still the
/// HTTP listener, now speaking HTTPS) and, with `--tcp-tls-addr`, `tcp-tls=ADDR`; it always ends
/// with `mode=embedded|cluster node=NAME`. Signals are caught *before* that line is printed, so a
/// SIGTERM that follows it at once is still graceful.
pub async fn run(config: Config) -> Result<(), ServerError> {
    let mut signals = ShutdownSignals::new()?;
    let server = spawn(config).await?;
    {
        use std::io::Write;
        let mut out = io::stdout().lock();
        write!(
            out,
            "listening http={} tcp={}",
            server.http_addr(),
            server.tcp_addr()
        )?;
        if server.tls() {
            write!(out, " scheme=https")?;
        }
        if let Some(addr) = server.tcp_tls_addr() {
            write!(out, " tcp-tls={addr}")?;
        }
        let mode = if server.is_cluster() {
            "cluster"
        } else {
            "embedded"
        };
        write!(out, " mode={mode} node={}", server.node())?;
        writeln!(out)?;
        out.flush()?;
    }
    let signal = signals.recv().await;
    tracing::info!(signal, "shutting down");
    server.shutdown().await?;
    tracing::info!("bye");
    Ok(())
}

/// Binds both listeners from `config` and runs the server in the background of the current
/// tokio runtime (any flavour). Returns once both are bound; the server runs until
/// [`RunningServer::shutdown`] (or until the `RunningServer` is dropped, which stops it abruptly).
pub async fn spawn(config: Config) -> Result<RunningServer, ServerError> {
    config.validate().map_err(ServerError::InvalidConfig)?;
    // A bad certificate pair is reported before anything is bound.
    let identity = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(TlsIdentity::load(cert, key).await?),
        _ => None,
    };
    let bind = |addr: SocketAddr| {
        // As `TcpListener::bind` does (address reuse, so a restart can bind the port its
        // predecessor's closed connections still hold in TIME_WAIT), with our backlog.
        let listen = || {
            let socket = match addr {
                SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
            };
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(LISTEN_BACKLOG)
        };
        listen().map_err(|source| ServerError::Bind { addr, source })
    };
    let http_listener = bind(config.addr)?;
    let tcp_listener = bind(config.tcp_addr)?;
    let tcp_tls_listener = match config.tcp_tls_addr {
        Some(addr) => Some(bind(addr)?),
        None => None,
    };
    // Cluster mode: the broker must answer before anything is served, since the epoch and every
    // seq come from its stream.
    let broker = match &config.broker {
        Some(url) => Some(Broker::connect(url, &config.broker_stream, config.history).await?),
        None => None,
    };
    let http_addr = http_listener.local_addr()?;
    let tcp_addr = tcp_listener.local_addr()?;
    let tcp_tls_addr = tcp_tls_listener
        .as_ref()
        .map(tokio::net::TcpListener::local_addr)
        .transpose()?;

    let hub = Hub::with_counters(
        HubConfig {
            history: config.history,
            subscriber_queue: config.subscriber_queue,
        },
        Arc::new(Counters::new()),
    );
    let shutdown = CancellationToken::new();
    let follower_task = match &broker {
        Some(broker) => {
            let task = tokio::spawn(follower::run(broker.clone(), hub.clone(), shutdown.clone()));
            caught_up(&hub, broker).await;
            Some(task)
        }
        None => None,
    };
    let feed = FeedIdentity {
        // Embedded: the feed is born with this process (its history dies with it).
        epoch: broker.as_ref().map_or_else(now_unix_nanos, Broker::epoch),
        node: config.node_name(http_addr),
        broker: broker.clone(),
    };
    let epoch_header = (headers::EPOCH, feed.epoch.to_string());
    let node = feed.node.clone();
    let tls = identity.is_some();
    let state = web::Data::new(AppState::new(
        hub.clone(),
        config.clone(),
        shutdown.clone(),
        feed,
        BoundListener {
            addr: http_addr,
            tls,
        },
    ));
    if state.origins.allows_any() {
        tracing::warn!(
            "--allow-origin '*': every web page the user visits may read the feed and publish \
             into it (cross-site WebSocket hijacking); list origins instead"
        );
    }

    let server = http_listener::server(
        http_listener.into_std()?,
        identity
            .as_ref()
            .map(TlsIdentity::server_config)
            .transpose()?,
        config.workers,
        Site {
            state,
            epoch_header,
        },
    )?;
    let handle = server.handle();
    let http_task = tokio::spawn(server);
    let tcp_task = tokio::spawn(tcp::serve(
        tcp_listener,
        hub.clone(),
        config.max_connections,
        None,
        shutdown.clone(),
    ));
    let tcp_tls_task = match (tcp_tls_listener, &identity) {
        (Some(listener), Some(identity)) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(identity.server_config()?));
            Some(tokio::spawn(tcp::serve(
                listener,
                hub.clone(),
                config.max_connections,
                Some(acceptor),
                shutdown.clone(),
            )))
        }
        _ => None,
    };
    let ticker_task = match &broker {
        Some(broker) => tokio::spawn(tick_publisher::run(
            broker.clone(),
            Arc::clone(hub.counters()),
            config.rate,
            config.payload_bytes,
            shutdown.clone(),
        )),
        None => tokio::spawn(ticker::run(
            hub.clone(),
            config.rate,
            config.payload_bytes,
            shutdown.clone(),
        )),
    };
    let heap_release_task = tokio::spawn(heap::release_every(
        config.heap_release_interval,
        shutdown.clone(),
    ));
    if tls {
        tracing::info!(
            "serving https://{http_addr} (HTTP/2 and HTTP/1.1 by ALPN; WebSocket wss:// over \
             HTTP/1.1), raw TCP on {tcp_addr}{}",
            match tcp_tls_addr {
                Some(addr) => format!(", raw TCP over TLS on {addr}"),
                None => String::new(),
            }
        );
    } else {
        tracing::info!(
            "serving http://{http_addr} (HTTP/1.1; WebSocket ws://), raw TCP on {tcp_addr}"
        );
    }
    tracing::info!(%http_addr, %tcp_addr, rate = config.rate, %node, "rtlab-server running");
    Ok(RunningServer {
        node,
        cluster: broker.is_some(),
        http_addr,
        tcp_addr,
        tcp_tls_addr,
        tls,
        hub,
        shutdown,
        handle,
        tasks: Some(Tasks {
            http: http_task,
            tcp: tcp_task,
            tcp_tls: tcp_tls_task,
            ticker: ticker_task,
            follower: follower_task,
            heap_release: heap_release_task,
        }),
    })
}

/// How long a cluster node waits at start to read the stream up to its head of the moment.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits until the follower reads the stream and `hub` holds its events up to the head of the
/// moment (at most [`CATCH_UP_TIMEOUT`]), so that a new node answers `?after=N` for what the
/// stream keeps from its first request on.
async fn caught_up(hub: &Hub, broker: &Broker) {
    let last_seq = broker.last_seq_at_start();
    let mut head = hub.watch_head();
    let reached = async {
        broker.wait_following(CATCH_UP_TIMEOUT).await
            && tokio::time::timeout(CATCH_UP_TIMEOUT, head.wait_for(|&seq| seq >= last_seq))
                .await
                .is_ok()
    };
    if !reached.await {
        tracing::warn!(
            last_seq,
            head = hub.head(),
            "not caught up with the broker's stream in time; serving anyway"
        );
    }
}

/// A server started by [`spawn`]: its addresses, its hub, and the way to stop it.
#[derive(Debug)]
pub struct RunningServer {
    node: String,
    cluster: bool,
    http_addr: SocketAddr,
    tcp_addr: SocketAddr,
    tcp_tls_addr: Option<SocketAddr>,
    tls: bool,
    hub: Hub,
    shutdown: CancellationToken,
    handle: ServerHandle,
    tasks: Option<Tasks>,
}

#[derive(Debug)]
struct Tasks {
    http: JoinHandle<io::Result<()>>,
    tcp: JoinHandle<()>,
    tcp_tls: Option<JoinHandle<()>>,
    ticker: JoinHandle<()>,
    follower: Option<JoinHandle<()>>,
    heap_release: JoinHandle<()>,
}

impl RunningServer {
    /// This node's name (`--node`, or the bound HTTP address).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether the feed lives in a broker (`--broker`) rather than in this process.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The bound HTTP address (WebSocket, SSE, polls, publish, stats, page).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The bound raw-TCP baseline address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The bound raw-TCP-over-TLS address, when `--tcp-tls-addr` was given.
    pub fn tcp_tls_addr(&self) -> Option<SocketAddr> {
        self.tcp_tls_addr
    }

    /// Whether the HTTP listener speaks TLS (`https://`, `wss://`).
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// The scheme of the HTTP listener: `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// The server's hub: publish into the feed or read its counters directly.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Stops gracefully, as on SIGTERM (see [`crate::shutdown`]): stop accepting, close WebSockets
    /// with 1001, end SSE streams, answer parked long polls, close TCP subscribers, stop the
    /// ticker, and wait (at most [`SHUTDOWN_GRACE`](crate::shutdown::SHUTDOWN_GRACE) plus a little)
    /// for all of it.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        let Some(tasks) = self.tasks.take() else {
            return Ok(());
        };
        // The stop command is sent now (accepting stops); its future only awaits completion.
        let stopped = self.handle.stop(true);
        self.shutdown.cancel();
        stopped.await;
        let http = tasks.http.await;
        let _ = tasks.tcp.await;
        if let Some(tcp_tls) = tasks.tcp_tls {
            let _ = tcp_tls.await;
        }
        let _ = tasks.ticker.await;
        if let Some(follower) = tasks.follower {
            let _ = follower.await;
        }
        let _ = tasks.heap_release.await;
        match http {
            Ok(result) => result.map_err(ServerError::Io),
            Err(join) => Err(ServerError::Io(io::Error::other(join))),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tasks) = self.tasks.take() {
            // Not shut down gracefully: stop everything now (the stop command is sent at once).
            self.shutdown.cancel();
            drop(self.handle.stop(false));
            tasks.tcp.abort();
            if let Some(tcp_tls) = tasks.tcp_tls {
                tcp_tls.abort();
            }
            tasks.ticker.abort();
            if let Some(follower) = tasks.follower {
                follower.abort();
            }
            tasks.heap_release.abort();
        }
    }
}
