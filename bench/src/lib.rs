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
//! Each module depends only on modules listed above it (tests aside), and the groups go
//! downward: plain data first, then what reads it, then what runs it. No module imports one that
//! imports it back.
//!
//! **What a run is made of** (plain data):
//! - [`link`]: the network a case runs over (loopback, a profile, or its values).
//! - [`security`]: how a case's connections are carried: plain, TLS, TLS with HTTP/2.
//! - [`scenario`]: a scenario as a suite writes it, and its [`Kind`](scenario::Kind).
//! - [`case`]: a scenario expanded into cases (scenario × swept value × transport).
//! - [`suite`]: suites in TOML, with errors that name file, line and key.
//! - [`cli`]: the command line (`run`, `plot`, `compare`, `shape`).
//!
//! **Measuring:**
//! - [`proc_sampler`]: a process's CPU time and memory from `/proc`.
//! - [`machine`]: machine facts for `run.json`, and pinning to cores.
//! - [`server_process`]: the server as a supervised child process.
//! - [`certificate`]: the run's self-signed TLS certificate, for the cases over TLS.
//! - [`cluster`]: a broker, N server nodes and an nginx proxy in front (`rtlab cluster`).
//! - [`reliability`]: the `reliability` suite: the contract's reliability promises under load.
//! - [`connection_memory`]: memory per idle connection, as the slope of RSS against connections.
//! - [`client_run`]: a case's settings become the client library's config; its report comes back.
//! - [`hgrm`]: latency histograms and HdrHistogram `.hgrm` files.
//!
//! **What a run leaves behind:**
//! - [`case_result`]: one stored case (`cases/<id>.json`) and its per-repetition figures.
//! - [`results`]: the results folder (`run.json`, the case files, the `latest` link).
//! - [`spread`]: median and min–max of a repeated figure; "lower" only when ranges do not overlap.
//! - [`repeat`]: the headline figures of a case over its repetitions, and folding them into one.
//! - [`summary`]: writes `summary.csv`, one row per case.
//!
//! **Reading it:**
//! - [`format`](mod@format): numbers and units as every sentence, table and chart writes them.
//! - [`model`]: the analytic models measurements are checked against.
//! - [`predict`]: the models applied to stored cases (dashed lines, flagged deviations).
//! - [`keep_up`]: the one rule for "kept up" (by seq, bounded p99, no loss).
//! - [`table`]: the final table, the text/Markdown tables and their cells.
//! - [`capacity`]: each transport's ceiling (saturation) and memory per connection, with sentences.
//! - [`findings`]: each scenario's numbers turned into sentences, one file per family.
//! - [`plot`]: the charts, one file per chart, plus their style, axes, series and legend.
//! - [`report`]: `report.md`, and rendering a whole results folder.
//! - [`compare`]: differences between two runs.
//!
//! **Running it:**
//! - [`runner`]: runs the cases, with progress, Ctrl-C handling and failure isolation.
//! - [`command`]: what each `rtlab` command does; the binary only parses and maps exit codes.

pub mod calibration;
pub mod capacity;
pub mod case;
pub mod case_result;
pub mod certificate;
pub mod cli;
pub mod client_run;
pub mod cluster;
pub mod command;
pub mod compare;
pub mod connection_memory;
pub mod findings;
pub mod format;
pub mod hgrm;
pub mod keep_up;
pub mod link;
pub mod machine;
pub mod model;
pub mod plot;
pub mod predict;
pub mod proc_sampler;
pub mod reliability;
pub mod repeat;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod security;
pub mod server_process;
pub mod spread;
pub mod suite;
pub mod summary;
pub mod table;

// Synthetic results every test module draws on.
#[cfg(test)]
pub(crate) mod testdata;

// The client's result types, stored as-is under `client` in every case file.
pub use rtlab_client::report::{LatencySummary, PublishReport, RunReport, WireReport};
