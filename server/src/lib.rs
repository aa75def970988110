//! # rtlab-server: one live feed over five transports
//!
//! The server publishes one feed of [`rtlab_wire::Event`]s and exposes it, unchanged, over
//! WebSocket, Server-Sent Events, long polling, short polling and a raw-TCP baseline, so that the
//! lab can measure what each transport *really* costs. Fairness is the design goal: every
//! transport reads the same [`hub::Hub`], every event is encoded once, and no transport gets extra
//! work or extra buffering the others do not.
//!
//! Run with `cargo run -p rtlab-server -- --rate 10`, then try `curl -N 127.0.0.1:8080/sse`,
//! `curl '127.0.0.1:8080/poll/short?after=0'` or a browser's `new WebSocket('ws://127.0.0.1:8080/ws')`.
//!
//! # Layout
//! - [`config`]: the command line (`--rate`, `--history`, `--subscriber-queue`, …), with defaults.
//! - [`hub`]: the heart. [`hub::Hub`] assigns seqs, encodes each event once
//!   ([`hub::EncodedEvent`]), keeps the bounded history ([`hub::EventLog`]) and fans out to
//!   streaming subscribers with a bounded queue each ([`hub::Subscription`]); [`hub::ticker`]
//!   publishes at `--rate`.
//! - [`transport`]: one file per way out of the server: `ws`, `sse`, `long_poll`, `short_poll`,
//!   `tcp`, plus `echo` (a WebSocket echo for conformance suites), `ws_message` (the RFC 6455
//!   message rules both WebSocket endpoints share), `body_stream` (the pulled response body of
//!   SSE and WebSocket) and `poll_answer` (the JSON answer of both polls). The client crate uses
//!   the same file names, so both halves of a protocol can be read side by side.
//! - [`publish`]: `POST /publish`, the HTTP way in.
//! - [`counters`]: the atomic counters behind `GET /stats`, and the connection cap.
//! - [`heap`]: the allocator's account of the heap in `GET /stats` (live bytes against held).
//! - [`error`]: [`error::ApiError`], every client mistake as a JSON `{"error": …}` with a 4xx.
//! - [`state`]: [`state::AppState`], what every handler sees, and admission: the one gate
//!   (shutdown, origin, connection slot) every streaming connection passes.
//! - [`origin_policy`]: who may connect: the `Origin` check (`--allow-origin`) against
//!   cross-site WebSocket hijacking, and the CORS headers for allowed cross origins.
//! - [`app`]: the route table.
//! - [`server`]: [`spawn`] binds both listeners and runs everything in the background; [`run`]
//!   is what the binary does (spawn, announce the addresses, stop on a signal);
//!   [`RunningServer::shutdown`] stops it gracefully.
//! - [`shutdown`]: SIGINT/SIGTERM handling and the shutdown order.
//! - [`tls`]: `--tls-cert`/`--tls-key` loaded into rustls: HTTPS and WSS on `--addr` (HTTP/2 by
//!   ALPN), and the raw-TCP baseline over TLS on `--tcp-tls-addr`.
//! - [`page`]: `GET /`, the live side-by-side page.
//! - [`broker`]: cluster mode (`--broker nats://…`): the feed in a NATS JetStream stream whose
//!   sequence is the seq, followed into every node's hub; the cluster's ticker; the epoch.
//!
//! The wire format itself lives in `rtlab-wire` and is described in `docs/protocol.md`.

pub mod app;
pub mod broker;
pub mod config;
pub mod counters;
pub mod error;
pub mod heap;
pub mod http_listener;
pub mod hub;
pub mod origin_policy;
pub mod page;
pub mod publish;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod tls;
pub mod transport;

pub use config::Config;
pub use error::{ApiError, ServerError};
pub use server::{RunningServer, run, spawn};
