//! What the `rtlab-client` binary does once its command line is parsed: trace one connection,
//! or run a load and print it.
//!
//! This is the binary's edge, kept in the library so that `main.rs` stays three steps (parse,
//! call [`execute`], map the error to an exit code) and so that everything here is reachable
//! from code. Like every binary edge it speaks `anyhow`: its errors are only printed, on one
//! line (`{:#}`), and the one distinction a caller needs, a usage mistake (exit code 2) or a
//! failed run (1), is [`is_usage`]; a run that ended early (3) writes its report first
//! ([`exit_code`]).
//!
//! Run with `rtlab-client --transport ws --clients 100 --duration 10s --json out.json`.

use std::io::Write as _;

use anyhow::Context as _;

use crate::cli::{Cli, Command};
use crate::config::RunConfig;
use crate::error::RunError;
use crate::printer;
use crate::shards::ShardProgram;

/// Sets up logging and a multi-threaded tokio runtime, and does what `cli` asks.
pub fn execute(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    match (&cli.command, cli.run_config()) {
        (Some(Command::Trace(args)), _) => runtime.block_on(crate::trace::run(args.clone())),
        (Some(Command::ShardWorker), _) => runtime
            .block_on(crate::shards::worker::serve_stdio())
            .context("cannot answer the parent process"),
        (None, Some(config)) => runtime.block_on(measure(&cli, config)),
        // clap rejects this command line before it gets here: `--transport` is `required`, and
        // `subcommand_negates_reqs` lifts that only for a subcommand (see the unit test
        // `transport_is_required_except_for_trace` in `cli.rs`).
        (None, None) => unreachable!("clap requires --transport without a subcommand"),
    }
}

/// Whether `e` is a usage mistake (exit code 2) rather than a failed run (exit code 1).
pub fn is_usage(e: &anyhow::Error) -> bool {
    e.downcast_ref::<RunError>().is_some_and(RunError::is_usage)
}

/// The exit code for a run that ended early, its report written all the same.
pub const ENDED_EARLY_EXIT_CODE: u8 = 3;

/// A run that ended before its window did: its report (marked `ended_early`) is written, and
/// the binary exits with [`ENDED_EARLY_EXIT_CODE`] after printing this one line.
#[derive(Debug, thiserror::Error)]
#[error("the run ended early: every subscriber was disconnected before the window's end: {0}")]
pub struct EndedEarlyError(pub String);

/// The exit code for the error `execute` returned: 2 for a usage mistake, 3 for a run that
/// ended early (its report written), 1 for any other failed run.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if is_usage(e) {
        2
    } else if e.downcast_ref::<EndedEarlyError>().is_some() {
        ENDED_EARLY_EXIT_CODE
    } else {
        1
    }
}

/// Runs the load the flags ask for, prints its table (unless `--quiet`), and writes the JSON
/// and `.hgrm` files asked for.
async fn measure(cli: &Cli, config: RunConfig) -> anyhow::Result<()> {
    if config.tls.insecure && config.validate().is_ok() {
        eprintln!("{}", crate::tls::INSECURE_WARNING);
    }
    let run = if cli.shards > 1 {
        let program = ShardProgram::current_exe(&["shard-worker"])
            .context("cannot find this executable to start the shards")?;
        crate::run_sharded(config, cli.shards, program).await
    } else {
        crate::run(config).await
    };
    // A run that ended early (the server shut down, every subscriber dropped) still reports
    // what it measured, marked `ended_early`; the error comes after the files are written.
    let (report, ended_early) = match run {
        Ok(report) => (report, None),
        Err(RunError::AllDisconnected {
            reason,
            partial: Some(partial),
        }) => (*partial, Some(EndedEarlyError(reason))),
        Err(e) => return Err(e.into()),
    };
    if !cli.quiet {
        print!("{}", printer::human(&report));
    }
    if let Some(path) = &cli.json {
        let json = printer::to_json(&report);
        if path.as_os_str() == "-" {
            println!("{json}");
        } else {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    if let Some(path) = &cli.hgrm {
        let text = printer::hgrm_from_report(&report)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(e) = ended_early {
        std::io::stdout().flush().ok();
        return Err(e.into());
    }
    std::io::stdout().flush().ok();
    Ok(())
}
