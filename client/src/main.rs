//! `rtlab-client`: the thin binary around the `rtlab_client` library.
//!
//! Parse the command line, build a multi-threaded tokio runtime, call [`rtlab_client::run`],
//! print. Every failure is one line on stderr: exit code 2 for a usage mistake (a bad flag,
//! `--clients 0`, a malformed URL or duration), 1 for a run that could not be measured.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use rtlab_client::cli::{Cli, Command};
use rtlab_client::{RunConfig, printer};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // clap's message spans several lines (what was wrong, possible values, usage, a
            // hint); keep what was wrong, on one line.
            let rendered = e.to_string();
            let what: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("{} (see --help)", what.join(" "));
            return ExitCode::from(2);
        }
        Err(e) => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };

    if let Some(Command::Trace(args)) = cli.command {
        return match runtime.block_on(rtlab_client::trace::run(args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    let Some(config) = cli.run_config() else {
        eprintln!("error: --transport is required (see --help)");
        return ExitCode::from(2);
    };
    match runtime.block_on(measure(&cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e
                .downcast_ref::<rtlab_client::RunError>()
                .is_some_and(|r| r.is_usage());
            eprintln!("error: {e:#}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

async fn measure(cli: &Cli, config: RunConfig) -> anyhow::Result<()> {
    let report = match rtlab_client::run(config).await {
        Ok(report) => report,
        Err(e) => {
            // Show what was measured before every subscriber was lost, then fail.
            if let rtlab_client::RunError::AllDisconnected {
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
