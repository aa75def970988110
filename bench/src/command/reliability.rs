//! `rtlab run --suite reliability`: the reliability suite ([`crate::reliability`]), its
//! `reliability.json` and a `report.md` whose "Reliability" section states every figure.
//!
//! Not a TOML suite: its cases are not scenario × transport × swept value with one client run
//! each, but runs with a fault beside them (a stalled subscriber, churn, a SIGTERM, hostile
//! connections) and a baseline without. `--scenarios` keeps some of its cases ([`CASES`]:
//! `slow-subscriber`, `churn`, `shutdown`, `hostile`), `--transports` narrows every case's and
//! `--dry-run` prints the plan and its estimated time; the window flags of the comparison
//! suites do not apply. Exit 0 when every promise held, 1 when one failed (the report says
//! which), 2 on an error.

use anyhow::Context;

use super::exit::Exit;
use crate::cli::RunArgs;
use crate::machine;
use crate::reliability::lab::Lab;
use crate::reliability::{self, ReliabilityReport, Scale, section};
use crate::results::{RunDir, write_file};
use crate::server_process::locate_server;

/// The suite's name on the command line.
pub const SUITE_NAME: &str = "reliability";
/// The figures, as JSON, in the run's folder.
pub const RELIABILITY_JSON: &str = "reliability.json";

/// The suite's cases, as `--scenarios` names them.
pub const CASES: [&str; 4] = ["slow-subscriber", "churn", "shutdown", "hostile"];

/// The full scale, narrowed to `--scenarios` (the [`CASES`]) and `--transports` if given.
pub fn narrowed_scale(args: &RunArgs) -> anyhow::Result<Scale> {
    let mut scale = Scale::full();
    if let Some(unknown) = args.scenarios.iter().find(|s| !CASES.contains(&s.as_str())) {
        anyhow::bail!(
            "unknown reliability case {unknown:?} (the cases: {})",
            CASES.join(", ")
        );
    }
    if !args.scenarios.is_empty() {
        // In the order of `CASES`.
        let lists = [
            &mut scale.slow_transports,
            &mut scale.churn_transports,
            &mut scale.shutdown_transports,
            &mut scale.hostile_transports,
        ];
        for (case, list) in CASES.into_iter().zip(lists) {
            if !args.scenarios.iter().any(|s| s == case) {
                list.clear();
            }
        }
    }
    if !args.transports.is_empty() {
        for list in [
            &mut scale.slow_transports,
            &mut scale.churn_transports,
            &mut scale.shutdown_transports,
            &mut scale.hostile_transports,
        ] {
            list.retain(|t| args.transports.contains(t));
        }
    }
    anyhow::ensure!(
        scale.slow_transports.len()
            + scale.churn_transports.len()
            + scale.shutdown_transports.len()
            + scale.hostile_transports.len()
            > 0,
        "no case left to run after --scenarios and --transports"
    );
    Ok(scale)
}

/// The `--dry-run` plan: each case to run with its transports, then the estimated time.
pub fn plan(scale: &Scale) -> String {
    let list =
        |ts: &[rtlab_wire::Transport]| ts.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
    let rates = scale
        .shutdown_rates
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" and ");
    let cases = [
        (
            &scale.slow_transports,
            format!(
                "slow subscriber: {} ({} healthy, {} events/s, {:.0} s windows, {} runs with the \
                 fault between {} without)",
                list(&scale.slow_transports),
                scale.clients,
                scale.slow_rate,
                scale.slow_window.as_secs_f64(),
                scale.p99_faulted_runs,
                scale.p99_faulted_runs + 1,
            ),
        ),
        (
            &scale.churn_transports,
            format!(
                "churn: {} ({} cycles each)",
                list(&scale.churn_transports),
                scale.churn_cycles
            ),
        ),
        (
            &scale.shutdown_transports,
            format!(
                "shutdown under load: {} ({} clients, at {rates} events/s)",
                list(&scale.shutdown_transports),
                scale.clients
            ),
        ),
        (
            &scale.hostile_transports,
            format!(
                "hostile clients: {} ({} idle connections and a slow-headers client, the same \
                 runs)",
                list(&scale.hostile_transports),
                scale.idle_connections
            ),
        ),
    ];
    let mut plan: String = cases
        .into_iter()
        .filter(|(transports, _)| !transports.is_empty())
        .map(|(_, line)| line + "\n")
        .collect();
    let est = scale.estimated().as_secs_f64();
    plan.push_str(&format!("estimated {est:.0} s ({:.1} min)\n", est / 60.0));
    plan
}

/// The whole `report.md` of a reliability run.
pub fn report_md(r: &ReliabilityReport) -> String {
    format!(
        "# rtlab reliability\n\nThe `reliability` suite (`rtlab run --suite reliability`); the \
         figures are in `{RELIABILITY_JSON}`.\n\n{}",
        section::markdown(r)
    )
}

/// Runs the suite and writes its folder.
pub fn run(args: RunArgs) -> anyhow::Result<Exit> {
    let scale = narrowed_scale(&args)?;
    if args.dry_run {
        print!("{}", plan(&scale));
        return Ok(Exit::Success);
    }
    let server_bin = locate_server(args.server_bin.as_deref())?;
    if cfg!(debug_assertions) {
        eprintln!(
            "rtlab: warning: this is a debug build; its numbers show the shape of the figures \
             only (use `cargo run --release`)"
        );
    }
    let pin = !args.no_pin && machine::pin_self_to_client_cpu();
    machine::raise_fd_limit();
    eprintln!(
        "rtlab: suite {SUITE_NAME} (~{:.0} s), server {}",
        scale.estimated().as_secs_f64(),
        server_bin.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let rtlab_bin = std::env::current_exe().context("cannot find this executable")?;
    let lab = Lab {
        server_bin,
        rtlab_bin,
        pin,
    };
    let report = rt.block_on(reliability::run(&lab, &scale));
    drop(rt);
    let dir = RunDir::create(&args.out, SUITE_NAME, args.name.as_deref())?;
    dir.write_json(&dir.path.join(RELIABILITY_JSON), &report)?;
    let md = report_md(&report);
    write_file(&dir.report_md(), md.as_bytes())?;
    if let Err(e) = dir.mark_latest() {
        eprintln!("rtlab: could not update the `latest` link: {e}");
    }
    print!("{}", section::markdown(&report));
    println!(
        "\nresults: {}\nreport:  {}",
        dir.path.display(),
        dir.report_md().display()
    );
    Ok(if report.all_held() {
        Exit::Success
    } else {
        eprintln!("rtlab: a reliability promise failed; see the report's \"Reliability\" section");
        Exit::CasesFailed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_narrow_every_case_and_the_plan_states_the_estimate() {
        let args = RunArgs {
            suite: SUITE_NAME.into(),
            transports: vec![rtlab_wire::Transport::Ws],
            ..RunArgs::default()
        };
        let scale = narrowed_scale(&args).unwrap();
        assert_eq!(scale.churn_transports, [rtlab_wire::Transport::Ws]);
        assert_eq!(scale.slow_transports, [rtlab_wire::Transport::Ws]);
        let plan = plan(&scale);
        assert!(plan.contains("churn: ws (100000 cycles each)"), "{plan}");
        assert!(plan.contains("estimated"), "{plan}");
        let none = RunArgs {
            transports: vec![rtlab_wire::Transport::LongPoll],
            ..args
        };
        // Long polls are only in churn and shutdown: still something to run.
        assert!(narrowed_scale(&none).is_ok());
    }

    #[test]
    fn scenarios_keep_the_named_cases_and_an_unknown_one_is_an_error() {
        let args = RunArgs {
            suite: SUITE_NAME.into(),
            scenarios: vec!["slow-subscriber".into()],
            ..RunArgs::default()
        };
        let scale = narrowed_scale(&args).unwrap();
        assert_eq!(scale.slow_transports, Scale::full().slow_transports);
        assert!(scale.churn_transports.is_empty() && scale.hostile_transports.is_empty());
        assert!(scale.shutdown_transports.is_empty());
        let plan = plan(&scale);
        assert!(plan.starts_with("slow subscriber: ws, sse"), "{plan}");
        assert!(!plan.contains("churn"), "{plan}");
        let wrong = RunArgs {
            scenarios: vec!["slow".into()],
            ..args.clone()
        };
        let e = narrowed_scale(&wrong).unwrap_err().to_string();
        assert!(e.contains("unknown reliability case \"slow\""), "{e}");
        // Hostile clients are healthy ws and sse subscribers: nothing left with tcp alone.
        let nothing = RunArgs {
            scenarios: vec!["hostile".into()],
            transports: vec![rtlab_wire::Transport::Tcp],
            ..args
        };
        assert!(narrowed_scale(&nothing).is_err());
    }
}
