//! # rtlab-client: what real-time transports really cost, measured from the client side
//!
//! `rtlab-client` opens N subscribers of one transport (WebSocket, Server-Sent Events, long
//! polling, short polling, or the raw-TCP baseline) against any server that speaks the rtlab
//! wire contract, lets them warm up, measures a window, and reports:
//!
//! - **latency** of every event published in the window, once per subscriber (receive wall
//!   clock − the event's `ts`), in an HdrHistogram;
//! - **throughput** and whether subscribers kept up with what the server published;
//! - **correctness**: events lost, duplicated, reordered, from `seq` alone;
//! - **bytes on the wire**, counted at the socket and split into set-up, payload, framing and
//!   keep-alive. For ws and sse the measured framing equals the protocol's analytic framing
//!   (`rtlab_wire::framing`) to the byte; the integration tests prove it.
//!
//! Run with `rtlab-client --transport ws --clients 100 --duration 10s` against
//! `rtlab-server`; from code:
//!
//! ```no_run
//! # async fn demo() -> Result<(), rtlab_client::RunError> {
//! use rtlab_client::{RunConfig, run};
//! use rtlab_wire::Transport;
//!
//! let report = run(RunConfig {
//!     clients: 100,
//!     ..RunConfig::new(Transport::Sse, "http://127.0.0.1:8080")
//! })
//! .await?;
//! println!("p99 {} µs, framing {} B/event", report.latency_us.p99, report.wire.overhead_bytes_per_event);
//! # Ok(()) }
//! ```
//!
//! # Layout
//! The pipeline is oha's: engine → subscribers → plain samples and counters → collector →
//! report → printers. Dependencies point one way, down this list's layers; no module imports
//! one that imports it back.
//!
//! - **Input.** [`config`]: [`RunConfig`], the one input; [`cli`]: the command line that builds
//!   it; [`command`]: what the binary does with it (run or trace, print, write files).
//! - **The run.** [`engine`]: [`run`]: plans the run (route, clock, shared context), ramps the
//!   subscribers up at the connect rate, and hands their outcomes to the [`collector`], which
//!   merges them and builds the [`RunReport`]. [`clock`]: the run's time line and the drain and
//!   stop constants, in one place. [`shards`]: [`run_sharded`], the same run split over
//!   several client processes (`--shards`) and merged exactly into one report.
//! - **One subscriber per connection.** [`subscriber`]: the `Subscriber` trait, what all
//!   subscribers share (`ctx`), the `Meter` that measures (phases, the drain after the window),
//!   and the `drive` loop that runs one from connect to the hand-over of its results, through
//!   dropped connections (`reconnect`, `backoff`, `resume`: back after a drop, resumed by seq).
//!   [`dispatch`]: which protocol half a subscriber task runs (the engine's and churn's one
//!   `match` on the transport).
//!   [`transport`]: the protocol halves, one file per transport (`ws`, `sse`, `long_poll`,
//!   `short_poll`, `tcp`), named like the server's; `ws_frames` follows WebSocket frame
//!   boundaries for exact accounting, and `read_buffer` is the buffer and receive loop SSE and
//!   TCP share for the same reason. [`publish`]: upstream on an open-model schedule
//!   (coordinated omission, wrk2-style). [`poll_phase`]: each short-polling subscriber's seeded
//!   random phase, so that polls are not locked in phase with the server's ticker.
//! - **What they measure with.** [`wire_counter`]: the byte-counting socket wrapper all of them
//!   run on (an `IoTap`, the same one the tracer's recorder uses); [`tls`]: TLS (`https://`,
//!   `wss://`, `tls://` with `--ca` or `--insecure`), with a counter below TLS and one above it. [`event_stream`]: the
//!   `text/event-stream` parser; [`sequence`]: loss/duplicate/reorder tracking; [`feed_epoch`]:
//!   the feed's identity (`Rtlab-Epoch`), which tells a restarted feed from loss; [`window_seq`]:
//!   which events were published in the window (by seq), the basis of `delivery_ratio`.
//! - **What they produce.** [`sample`]: plain samples; [`recorder`]: a subscriber's sample
//!   buffer; [`histograms`]: the only code touching HdrHistogram; [`tally`]: the plain counters
//!   that simply add up.
//! - **Output.** [`report`]: [`RunReport`], the versioned JSON result; [`printer`]: table,
//!   JSON, `.hgrm`.
//! - **Around the run.** [`network`]: real links on loopback: the profiles (`--network mobile`,
//!   `--rtt 100ms`), the shaper (a TCP relay on its own thread that adds delay, jitter and a
//!   rate limit; standalone as `rtlab shape`), the flags both share, the route through it, its
//!   calibration and its own throughput ceiling. [`control`] (`/stats` and the
//!   window's seqs), [`progress`] (the stderr line), [`source_addr`] (127.0.0.x source addresses
//!   beyond 20 000 connections), [`error`] ([`RunError`]).
//! - [`trace`]: the wire tracer behind `rtlab-client trace`.

pub mod churn;
pub mod cli;
pub mod clock;
pub mod collector;
pub mod command;
pub mod config;
pub mod control;
pub mod dispatch;
pub mod ending;
pub mod ends_printer;
pub mod engine;
pub mod error;
pub mod event_stream;
pub mod feed_epoch;
pub mod histograms;
pub mod network;
pub mod poll_phase;
pub mod printer;
pub mod progress;
pub mod publish;
pub mod recorder;
pub mod report;
pub mod sample;
pub mod sequence;
pub mod shards;
pub mod source_addr;
pub mod subscriber;
pub mod tally;
pub mod tls;
pub mod trace;
pub mod transport;
pub mod window_seq;
pub mod wire_counter;

pub use config::RunConfig;
pub use engine::run;
pub use error::RunError;
pub use printer::{hgrm_from_report, write_hgrm};
pub use report::RunReport;
pub use shards::{ShardProgram, run_sharded};
