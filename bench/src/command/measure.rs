//! `rtlab run`: the whole measurement, from the suite file to the report and the exit code.
//!
//! In order: narrow the suite ([`super::plan`]), find the server binary, warn about a debug
//! build, pin this process to the client's core *before* the tokio runtime exists (so that every
//! worker thread inherits the mask), raise the open-files limit, run every case
//! ([`crate::runner`]) while watching for stop signals ([`super::signals`]), draw charts and
//! report, point `latest` at the folder, print the final table, and decide the exit code
//! ([`super::exit`]).

use anyhow::Context;

use super::exit::Exit;
use super::{plan, signals};
use crate::cli::RunArgs;
use crate::machine::{self, MachineInfo};
use crate::report;
use crate::runner::{self, RunOptions};
use crate::server_process::locate_server;
use crate::table::case_table;

/// Runs `rtlab run` with these arguments.
pub fn run(args: RunArgs) -> anyhow::Result<Exit> {
    if args.suite == super::reliability::SUITE_NAME {
        return super::reliability::run(args);
    }
    if args.suite == super::cluster_suite::SUITE_NAME {
        return super::cluster_suite::run(args);
    }
    let suite = plan::narrowed_suite(&args)?;
    if args.dry_run {
        print!("{}", plan::dry_run(&suite));
        return Ok(Exit::Success);
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
        client_shards: args.client_shards,
        tls: None,
    };
    let outcome = rt.block_on(async {
        let stop = signals::watch_stop_signals();
        runner::run_suite(&suite, &args.out, args.name.as_deref(), info, &opts, stop).await
    })?;
    drop(rt);
    let drawn = report::render(&outcome.dir).context("drawing charts and report")?;
    if let Err(e) = outcome.dir.mark_latest() {
        eprintln!("rtlab: could not update the `latest` link: {e}");
    }
    print!("{}", case_table(&outcome.cases));
    println!(
        "\nresults: {}\nreport:  {}\ncharts:  {}",
        outcome.dir.path.display(),
        outcome.dir.report_md().display(),
        drawn.len()
    );
    let exit = Exit::of_run(&outcome);
    if exit == Exit::CasesFailed {
        eprintln!(
            "rtlab: {} case(s) failed; see the report's \"Failed cases\"",
            outcome.info.cases_failed
        );
    }
    Ok(exit)
}
