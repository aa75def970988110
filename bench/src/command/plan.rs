//! The suite a run will execute: the loaded suite narrowed by the command line, and the plan
//! `rtlab run --dry-run` prints instead of running it.
//!
//! The command line wins over the suite file (`--duration`, `--warmup`, `--repeat` for every
//! case; `--transports`, `--scenarios` to keep a subset), so one suite file serves a quick look and
//! a full run. A filter that leaves nothing is an error, not an empty report.

use crate::cli::RunArgs;
use crate::suite::Suite;

/// Loads the suite named by `--suite` and applies the command line's overrides and filters.
pub fn narrowed_suite(args: &RunArgs) -> anyhow::Result<Suite> {
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
    Ok(suite)
}

/// The `--dry-run` output: each case with its estimated time, then the total.
pub fn dry_run(suite: &Suite) -> String {
    let mut out = String::new();
    for c in &suite.cases {
        out += &format!(
            "{:<40} ~{:.1} s{}\n",
            c.id(),
            c.estimated().as_secs_f64(),
            if c.repeat > 1 {
                format!(" ({} repetitions)", c.repeat)
            } else {
                String::new()
            }
        );
    }
    out += &format!(
        "{} cases, estimated {:.0} s ({:.1} min)\n",
        suite.cases.len(),
        suite.estimated().as_secs_f64(),
        suite.estimated().as_secs_f64() / 60.0
    );
    out
}
