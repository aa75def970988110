//! The raw-TCP baseline (`--tcp-addr`): connect, and every event arrives as its JSON plus `\n`.
//!
//! This is not a web transport and no browser can use it. It is the *floor*: no handshake, no
//! HTTP head, no framing beyond one newline (JSON never contains a raw newline, so `\n` delimits
//! events unambiguously). Whatever a web transport costs above this, in bytes or in latency, is
//! the price of its protocol rather than of TCP, the hub or the machine.
//!
//! Each connection is one task that drains its hub subscription into the socket, racing every
//! write against the lagging kick and shutdown like the other streaming transports; at shutdown
//! it first writes the events still queued for it (published before the signal), then FIN. A subscriber
//! kicked in the middle of a line gets [`LAGGING_LINE_GRACE`] to take the rest of it, so that what
//! it reads is whole lines and then EOF, never a torn event. It also
//! reads (and discards) whatever the client sends, only to notice promptly when the client hangs
//! up: with `--rate 0` there would otherwise be no write to fail. Above `--max-connections` a new
//! connection is closed at once (counted as rejected): there is no channel to explain why.
//!
//! **Batching.** When several events are queued, they leave in one `write`: the connection drains
//! its queue (up to [`super::MAX_BATCH_BYTES`]) into one buffer first. A syscall per event would make the
//! "floor" the most expensive transport at high rates, since actix coalesces WebSocket frames and
//! SSE chunks in its write buffer the same way; batching keeps the comparison fair and the floor a
//! floor. At low rates the queue holds one event and nothing waits for a batch to fill.
//!
//! **Over TLS** (`--tcp-tls-addr`, [`serve`] given a [`TlsAcceptor`]): the same lines inside TLS
//! records, so the floor pays the same handshake and record costs as HTTPS and WSS. The
//! connection takes its slot at `accept` (a handshake in progress counts against
//! `--max-connections`), has [`TLS_HANDSHAKE_TIMEOUT`] to finish the handshake, and subscribes
//! only once it is done: its first event is one published after the client could receive it,
//! as for plain TCP, rather than one that waited in the queue through the handshake. Every batch
//! is flushed: rustls keeps the records it could not write yet, where a plain socket has none.
//!
//! A production raw feed would negotiate a version, authenticate, and frame with a length prefix
//! (so payloads may contain any byte); the baseline keeps the minimum.

use std::time::Duration;

use bytes::BytesMut;
use rtlab_wire::Transport;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::MAX_BATCH_BYTES;
use crate::counters::ConnectionGuard;
use crate::hub::{Hub, Subscription};

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again, so the loop
/// does not spin.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// How long a subscriber kicked for lagging in the middle of a line has to read the rest of it
/// before its connection is closed anyway.
pub const LAGGING_LINE_GRACE: Duration = Duration::from_secs(5);

/// How long a TCP-TLS client has to complete its handshake before the connection is dropped (the
/// same as actix-web's default for HTTPS).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a connection may take at shutdown to write what was published before it and close.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(1);
/// How long shutdown waits for the connection tasks: their drain, and a moment to close.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(1_250);

/// Accepts baseline subscribers on `listener` until `shutdown`, then closes them all; with `tls`,
/// every connection first completes a TLS handshake.
pub async fn serve(
    listener: TcpListener,
    hub: Hub,
    max_connections: usize,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            // Reap finished connection tasks so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let Some(guard) = hub.counters().open_streaming(Some(Transport::Tcp), max_connections)
                    else {
                        tracing::debug!(%peer, "tcp connection refused: --max-connections reached");
                        continue;
                    };
                    connections.spawn(start(
                        socket,
                        tls.clone(),
                        hub.clone(),
                        guard,
                        shutdown.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "tcp accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    // The tasks saw the same token; give them a moment to close their sockets cleanly.
    let drained = tokio::time::timeout(SHUTDOWN_WAIT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

/// One accepted connection: the TLS handshake if any, then the subscriber.
async fn start(
    socket: TcpStream,
    tls: Option<TlsAcceptor>,
    hub: Hub,
    guard: ConnectionGuard,
    shutdown: CancellationToken,
) {
    // Small writes leave at once, as the HTTP listener's do (see `server.rs`): no Nagle delay.
    let _ = socket.set_nodelay(true);
    let Some(acceptor) = tls else {
        // Plain TCP keeps the socket's own halves: no lock between reader and writer.
        let (reader, writer) = socket.into_split();
        let sub = hub.subscribe(Transport::Tcp);
        return connection(reader, writer, sub, guard, shutdown).await;
    };
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket));
    let stream = tokio::select! {
        biased;
        () = shutdown.cancelled() => return,
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "tcp-tls handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("tcp-tls handshake timed out");
                return;
            }
        },
    };
    let (reader, writer) = tokio::io::split(stream);
    let sub = hub.subscribe(Transport::Tcp);
    connection(reader, writer, sub, guard, shutdown).await;
}

/// One subscriber: events out, input ignored, until the peer leaves, lags, or shutdown.
async fn connection(
    mut reader: impl AsyncRead + Unpin,
    mut writer: impl AsyncWrite + Unpin,
    mut sub: Subscription,
    guard: ConnectionGuard,
    shutdown: CancellationToken,
) {
    let mut scratch = [0u8; 512];
    // Grown on first use: an idle subscriber should cost no batch buffer at all.
    let mut batch = BytesMut::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                let deadline = tokio::time::Instant::now() + SHUTDOWN_DRAIN;
                write_published(&mut writer, &mut sub, &guard, &mut batch, deadline).await;
                break;
            }
            next = sub.recv() => {
                let Ok(event) = next else { break };
                // Take whatever else is already queued, so one write carries it all.
                batch.clear();
                batch.extend_from_slice(event.tcp_line());
                let mut events = 1;
                while batch.len() < MAX_BATCH_BYTES {
                    match sub.try_recv() {
                        Ok(Some(more)) => {
                            batch.extend_from_slice(more.tcp_line());
                            events += 1;
                        }
                        // Empty, or kicked: write what we have; the next recv() reports a kick.
                        Ok(None) | Err(_) => break,
                    }
                }
                // The flush is free on a plain socket and, over TLS, sends the records rustls
                // could not write at once.
                let write = async {
                    writer.write_all(&batch).await?;
                    writer.flush().await
                };
                tokio::pin!(write);
                let outcome = tokio::select! {
                    biased;
                    () = sub.lagged() => None,
                    written = &mut write => Some(written),
                    // Shutdown mid-write: finish the lines already promised (bounded), then
                    // the events still queued, then FIN.
                    () = shutdown.cancelled() => {
                        let deadline = tokio::time::Instant::now() + SHUTDOWN_DRAIN;
                        let finished = tokio::time::timeout_at(deadline, &mut write).await;
                        if matches!(finished, Ok(Ok(()))) {
                            write_published(&mut writer, &mut sub, &guard, &mut batch, deadline)
                                .await;
                        }
                        break;
                    }
                };
                match outcome {
                    Some(Ok(())) => {
                        if let Some(c) = guard.counters() {
                            c.delivered(events, batch.len());
                        }
                    }
                    Some(Err(_)) => break,
                    None => {
                        // Kicked mid-write: let the client take the rest of the lines it was
                        // already promised, then hang up (the close is what it sees).
                        tokio::select! {
                            _ = tokio::time::timeout(LAGGING_LINE_GRACE, &mut write) => {}
                            () = shutdown.cancelled() => {}
                        }
                        break;
                    }
                }
            }
            read = reader.read(&mut scratch) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
        }
    }
    // FIN rather than RST where possible: the client reads everything written so far, then EOF.
    let _ = writer.shutdown().await;
}

/// At shutdown: writes every event still queued for this subscriber (published before the
/// signal, so the client loses nothing that existed then), until `deadline`; a client that does
/// not read by then gets what fit.
async fn write_published(
    writer: &mut (impl AsyncWrite + Unpin),
    sub: &mut Subscription,
    guard: &ConnectionGuard,
    batch: &mut BytesMut,
    deadline: tokio::time::Instant,
) {
    batch.clear();
    let mut events = 0;
    while let Ok(Some(event)) = sub.try_recv() {
        batch.extend_from_slice(event.tcp_line());
        events += 1;
    }
    if events == 0 {
        return;
    }
    // Flushed too: over TLS the last record may wait in the TLS stream's buffer.
    let written = tokio::time::timeout_at(deadline, async {
        writer.write_all(batch).await?;
        writer.flush().await
    })
    .await;
    if let (Ok(Ok(())), Some(c)) = (written, guard.counters()) {
        c.delivered(events, batch.len());
    }
}
