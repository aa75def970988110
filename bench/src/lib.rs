//! # rtlab-bench: the lab runner
//!
//! One command, `rtlab run`, answers the lab's question — *what does each real-time transport
//! really cost?* — by running a **suite** of scenarios against every transport (WebSocket, SSE,
//! long polling, short polling, and a raw-TCP baseline), each case against a **fresh server
//! process** pinned to its own core, and leaving behind a results folder with the raw numbers,
//! charts and a report that states each finding with its numbers, the theory drawn beside the
//! measurement.
//!
//! ```text
//! suite.toml ─► cases ─► for each: start rtlab-server ─► rtlab_client::run ─► stop server
//!                                   └─ /proc sampler (CPU, RSS) ─┘
//!            ─► results/<stamp>-<suite>/{run.json, cases/*.json, hgrm/, summary.csv}
//!            ─► charts (plotters, PNG + SVG) ─► report.md
//! ```
//!
//! Run with `cargo run --release` (the default suite, about 9 minutes on 2 cores) or
//! `cargo run --release -p rtlab-bench -- run --suite quick`; redraw with `rtlab plot DIR`;
//! compare with `rtlab compare A B`. Test with `cargo build -p rtlab-server && cargo nextest run
//! -p rtlab-bench` (the end-to-end tests run the real binaries).
//!
//! # Layout
//! - [`cli`]: the command line (`run`, `plot`, `compare`).
//! - [`client_run`]: a case's settings become the client library's config; its report comes back.
//! - [`suite`]: suites in TOML, with errors that name file, line and key.
//! - [`case`]: a scenario expanded into cases (scenario × swept value × transport).
//! - [`server_process`]: the server as a supervised child process.
//! - [`proc_sampler`]: the server's CPU time and memory from `/proc`.
//! - [`connection_memory`]: memory per idle connection, as the slope of RSS against connections.
//! - [`machine`]: machine facts for `run.json`, and pinning to cores.
//! - [`runner`]: runs the cases, with progress, Ctrl-C handling and failure isolation.
//! - [`results`]: the results folder format (`run.json`, case files, the `latest` link).
//! - [`summary`]: writes `summary.csv`, one row per case.
//! - [`table`]: the final table and the table helpers.
//! - [`hgrm`]: latency histograms and HdrHistogram `.hgrm` files.
//! - [`model`]: the analytic models measurements are checked against.
//! - [`predict`]: the models applied to stored cases (dashed lines, flagged deviations).
//! - [`plot`]: the charts.
//! - [`report`]: `report.md`, tables, rendering a results folder.
//! - [`keep_up`]: the one rule for "kept up" (by seq, bounded p99, no loss).
//! - [`capacity`]: each transport's ceiling (saturation) and memory per connection, with sentences.
//! - [`spread`]: median and min–max of a repeated figure; "lower" only when ranges do not overlap.
//! - [`repeat`]: a case run several times, stored as one case file with `repeats`.
//! - [`findings`]: each scenario's numbers turned into sentences.
//! - [`format`](mod@format): numbers as the report's sentences write them.
//! - [`compare`]: differences between two runs.

pub mod capacity;
pub mod case;
pub mod case_result;
pub mod cli;
pub mod client_run;
pub mod command;
pub mod compare;
pub mod connection_memory;
pub mod findings;
pub mod format;
pub mod hgrm;
pub mod keep_up;
pub mod machine;
pub mod model;
pub mod plot;
pub mod predict;
pub mod proc_sampler;
pub mod repeat;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod server_process;
pub mod spread;
pub mod suite;
pub mod summary;
pub mod table;

// The client's result types, stored as-is under `client` in every case file.
pub use rtlab_client::report::{LatencySummary, PublishReport, RunReport, WireReport};
