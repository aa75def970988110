//! What each `rtlab` command does, as a library: the binary only parses the command line, calls
//! [`run`], and turns the answer into an exit code.
//!
//! This is the binary's edge moved into the library (as mini-redis's `server::run`), so the same
//! steps can be read and tested without a process: errors here are `anyhow` errors with context
//! for a person at a terminal, while the modules below keep their typed `thiserror` errors.
//!
//! | file | part |
//! |---|---|
//! | [`measure`] | `rtlab run`: load, narrow, pin, run, draw, print, decide the exit |
//! | [`reliability`] | `rtlab run --suite reliability`: the reliability suite and its report |
//! | [`cluster_suite`] | `rtlab run --suite cluster`: the proxy, scale-out, failover and many-connections cases |
//! | [`plan`] | the suite as `--duration`/`--transports`/… narrow it, and the `--dry-run` plan |
//! | [`signals`] | Ctrl-C, SIGTERM and SIGHUP stop the run in order |
//! | [`cluster`] | `rtlab cluster`: a broker, N nodes and a proxy, in the foreground until stopped |
//! | [`shape`] | `rtlab shape`: the client's network shaper on its own, in front of a server |
//! | [`exit`] | the exit policy: 0 all ok, 1 a case failed, 2 an error, 130 interrupted |
//!
//! `rtlab plot DIR` and `rtlab compare A B` are a few lines each and live here, as do two hidden
//! ones: `rtlab client-shard`, one shard of a case's client, started by the runner itself when
//! `--client-shards` is above 1 (see `client_run.rs`), and `rtlab hostile-clients`, the
//! reliability suite's hostile connections in a process of their own.

pub mod cluster;
pub mod cluster_suite;
pub mod exit;
pub mod measure;
pub mod plan;
pub mod reliability;
pub mod shape;
pub mod signals;

use anyhow::Context;

pub use exit::Exit;

use crate::cli::{Cli, Command, CompareArgs, HostileClientsArgs, PlotArgs, RunArgs};
use crate::reliability::hostile_clients;
use crate::report;
use crate::results::RunDir;

/// Runs the command the user asked for (plain `rtlab` is `rtlab run` with the default suite).
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli
        .command
        .unwrap_or_else(|| Command::Run(RunArgs::default()))
    {
        Command::Run(args) => measure::run(args),
        Command::Plot(args) => plot(args),
        Command::Compare(args) => compare(args),
        Command::Shape(args) => shape::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::ClientShard => client_shard(),
        Command::HostileClients(args) => hostile_clients(args),
    }
}

/// `rtlab hostile-clients`: the reliability suite's hostile connections, in their own process
/// (see `reliability::hostile_clients`).
fn hostile_clients(args: HostileClientsArgs) -> anyhow::Result<Exit> {
    crate::machine::raise_fd_limit();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?
        .block_on(hostile_clients::serve(
            args.http,
            args.idle,
            std::time::Duration::from_millis(args.within_ms),
        ))
        .context("cannot answer the hostile case")?;
    Ok(Exit::Success)
}

/// `rtlab client-shard`: reads a shard spec on stdin, runs that part of a case's client, and
/// answers on stdout (see `rtlab_client::shards`).
fn client_shard() -> anyhow::Result<Exit> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?
        .block_on(rtlab_client::shards::worker::serve_stdio())
        .context("cannot answer the runner")?;
    Ok(Exit::Success)
}

/// Logs to stderr, `warn` and above unless `RTLAB_LOG` says otherwise (`RTLAB_LOG=debug`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RTLAB_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// `rtlab plot DIR`: redraws the charts and rewrites the report of a results folder (for the
/// reliability and cluster suites, the report from their JSON).
fn plot(args: PlotArgs) -> anyhow::Result<Exit> {
    let dir = RunDir { path: args.dir };
    let reliability_json = dir.path.join(reliability::RELIABILITY_JSON);
    let cluster_json = dir.path.join(cluster_suite::CLUSTER_JSON);
    let md = if reliability_json.is_file() {
        Some(reliability::report_md(&read_json(&reliability_json)?))
    } else if cluster_json.is_file() {
        let report = read_json(&cluster_json)?;
        for d in cluster_suite::draw(&dir, &report)? {
            println!("{}", d.png.display());
            println!("{}", d.svg.display());
        }
        Some(cluster_suite::report_md(&report))
    } else {
        None
    };
    if let Some(md) = md {
        crate::results::write_file(&dir.report_md(), md.as_bytes())?;
        println!("{}", dir.report_md().display());
        return Ok(Exit::Success);
    }
    let drawn =
        report::render(&dir).with_context(|| format!("redrawing {}", dir.path.display()))?;
    for d in &drawn {
        println!("{}", d.png.display());
        println!("{}", d.svg.display());
    }
    println!("{}", dir.report_md().display());
    Ok(Exit::Success)
}

/// A suite's figures, read back from its JSON.
fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// `rtlab compare A B`: prints the differences between two runs.
fn compare(args: CompareArgs) -> anyhow::Result<Exit> {
    print!("{}", crate::compare::compare_dirs(&args.a, &args.b)?);
    Ok(Exit::Success)
}
