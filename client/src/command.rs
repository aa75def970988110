//! What the `rtlab-client` binary does once its command line is parsed: trace one connection,
//! or run a load and print it.
//!
//! This is the binary's edge, kept in the library so that `main.rs` stays three steps (parse,
//! call [`execute`], map the error to an exit code) and so that everything here is reachable
//! from code. Like every binary edge it speaks `anyhow`: its errors are only printed, on one
//! line (`{:#}`), and the one distinction a caller needs, a usage mistake (exit code 2) or a
//! failed run (1), is [`is_usage`].
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
    let report = match run {
        Ok(report) => report,
        Err(e) => {
            // Show what was measured before every subscriber was lost, then fail.
            if let RunError::AllDisconnected {
                partial: Some(partial),
                ..
            } = &e
                && !cli.quiet
            {
                print!("{}", printer::human(partial));
            }
            return Err(e.into());
        }
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
    std::io::stdout().flush().ok();
    Ok(())
}
