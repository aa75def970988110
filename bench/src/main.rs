//! `rtlab`: the lab runner's command line. See the library (`rtlab_bench`) for how it works.
//!
//! Run with `cargo run --release` (the default suite, a few minutes), or
//! `cargo run --release -p rtlab-bench -- run --suite quick` (seconds).

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use rtlab_bench::cli::{Cli, Command, CompareArgs, PlotArgs, RunArgs};
use rtlab_bench::machine::{self, MachineInfo};
use rtlab_bench::report;
use rtlab_bench::results::RunDir;
use rtlab_bench::runner::{self, RunOptions};
use rtlab_bench::server_process::locate_server;
use rtlab_bench::suite::Suite;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RTLAB_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli
        .command
        .unwrap_or_else(|| Command::Run(RunArgs::default()))
    {
        Command::Run(args) => run(args),
        Command::Plot(args) => plot(args),
        Command::Compare(args) => compare(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rtlab: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut suite = Suite::load(&args.suite)?;
    for case in &mut suite.cases {
        if let Some(d) = args.duration {
            case.params.duration_s = d.as_secs_f64();
        }
        if let Some(w) = args.warmup {
            case.params.warmup_s = w.as_secs_f64();
        }
        if let Some(n) = args.repeat {
            case.repeat = n;
        }
    }
    if !args.transports.is_empty() {
        suite.retain_transports(&args.transports);
    }
    if !args.scenarios.is_empty() {
        suite.cases.retain(|c| args.scenarios.contains(&c.scenario));
    }
    anyhow::ensure!(
        !suite.cases.is_empty(),
        "no case left to run after --transports/--scenarios"
    );
    if args.dry_run {
        for c in &suite.cases {
            println!(
                "{:<40} ~{:.1} s{}",
                c.id(),
                c.estimated().as_secs_f64(),
                if c.repeat > 1 {
                    format!(" ({} repetitions)", c.repeat)
                } else {
                    String::new()
                }
            );
        }
        println!(
            "{} cases, estimated {:.0} s ({:.1} min)",
            suite.cases.len(),
            suite.estimated().as_secs_f64(),
            suite.estimated().as_secs_f64() / 60.0
        );
        return Ok(ExitCode::SUCCESS);
    }
    let server_bin = locate_server(args.server_bin.as_deref())?;
    if cfg!(debug_assertions) {
        eprintln!(
            "rtlab: warning: this is a debug build; its numbers show the shape of the trade-offs \
             only (use `cargo run --release`)"
        );
    }
    // Pin before the runtime exists, so that every worker thread inherits the mask.
    let pin = !args.no_pin && machine::pin_self_to_client_cpu();
    machine::raise_fd_limit();
    let info = MachineInfo::collect(pin);
    eprintln!(
        "rtlab: suite {} ({} cases, ~{:.0} s), server {}, {}",
        suite.name,
        suite.cases.len(),
        suite.estimated().as_secs_f64(),
        server_bin.display(),
        if pin {
            "server on CPU 0, client on CPU 1"
        } else {
            "not pinned"
        }
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let opts = RunOptions {
        server_bin,
        pin,
        progress: true,
    };
    let outcome = rt.block_on(async {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let name = stop_signal().await;
            eprintln!(
                "\nrtlab: {name}: stopping the server and writing a partial report (results so far are kept)"
            );
            let _ = tx.send(true);
        });
        runner::run_suite(&suite, &args.out, args.name.as_deref(), info, &opts, rx).await
    })?;
    drop(rt);
    let drawn = report::render(&outcome.dir).context("drawing charts and report")?;
    if let Err(e) = outcome.dir.mark_latest() {
        eprintln!("rtlab: could not update the `latest` link: {e}");
    }
    print!("{}", rtlab_bench::table::case_table(&outcome.cases));
    println!(
        "\nresults: {}\nreport:  {}\ncharts:  {}",
        outcome.dir.path.display(),
        outcome.dir.report_md().display(),
        drawn.len()
    );
    Ok(
        if outcome.info.status == rtlab_bench::results::RunStatus::Interrupted {
            ExitCode::from(130)
        } else if outcome.all_ok() {
            ExitCode::SUCCESS
        } else {
            eprintln!(
                "rtlab: {} case(s) failed; see the report's \"Failed cases\"",
                outcome.info.cases_failed
            );
            ExitCode::from(1)
        },
    )
}

/// Waits for Ctrl-C (SIGINT), SIGTERM or SIGHUP: each stops the run in order, so the server child
/// is never left behind (only SIGKILL, which no process can catch, could do that).
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return "interrupted";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = term.recv() => "terminated (SIGTERM)",
        _ = hup.recv() => "hung up (SIGHUP)",
    }
}

fn plot(args: PlotArgs) -> anyhow::Result<ExitCode> {
    let dir = RunDir { path: args.dir };
    let drawn =
        report::render(&dir).with_context(|| format!("redrawing {}", dir.path.display()))?;
    for d in &drawn {
        println!("{}", d.png.display());
        println!("{}", d.svg.display());
    }
    println!("{}", dir.report_md().display());
    Ok(ExitCode::SUCCESS)
}

fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    print!("{}", rtlab_bench::compare::compare_dirs(&args.a, &args.b)?);
    Ok(ExitCode::SUCCESS)
}
