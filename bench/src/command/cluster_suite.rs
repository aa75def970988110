//! `rtlab run --suite cluster`: the cluster suite ([`crate::cluster_suite`]), its
//! `cluster.json` and a `report.md` with every figure.
//!
//! Like the reliability suite, not a TOML suite: its cases start several processes each (nodes,
//! nginx, nats-server) and kill some of them. `--transports` narrows every case's transports,
//! `--dry-run` prints the plan and its estimate. Exit 0 when the run completed (the report
//! judges each case), 2 on an error.

use anyhow::Context;

use super::exit::Exit;
use crate::cli::RunArgs;
use crate::cluster_suite::lab::Lab;
use crate::cluster_suite::{self, ClusterReport, Scale, section};
use crate::machine;
use crate::plot;
use crate::plot::chart::Drawn;
use crate::plot::panel::PanelRow;
use crate::results::{RunDir, write_file};
use crate::server_process::locate_server;

/// The suite's name on the command line.
pub const SUITE_NAME: &str = "cluster";
/// The figures, as JSON, in the run's folder.
pub const CLUSTER_JSON: &str = "cluster.json";

/// The full scale, narrowed to `--transports` if given.
pub fn narrowed_scale(args: &RunArgs) -> anyhow::Result<Scale> {
    let mut scale = Scale::full();
    if !args.transports.is_empty() {
        for list in [
            &mut scale.proxy_transports,
            &mut scale.scale_out_transports,
            &mut scale.failover_transports,
            &mut scale.connections_transports,
        ] {
            list.retain(|t| args.transports.contains(t));
        }
    }
    Ok(scale)
}

/// The `--dry-run` plan.
pub fn plan(scale: &Scale) -> String {
    let list =
        |ts: &[rtlab_wire::Transport]| ts.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
    let est = scale.estimated().as_secs_f64();
    format!(
        "through a proxy: {} (direct, lab, naive; {} clients at {} events/s)\n\
         idle streams: {}\n\
         scale-out: {} (embedded; 1 node on the broker; 1..{} nodes behind the lab proxy; {} clients)\n\
         failover: {} ({} nodes, {} clients, one killed halfway)\n\
         connections: {} ({} concurrent, {} nodes)\n\
         estimated {est:.0} s ({:.1} min)\n",
        list(&scale.proxy_transports),
        scale.proxy_clients,
        scale.proxy_rate,
        if scale.idle {
            "sse, ws (about 90 s)"
        } else {
            "skipped"
        },
        list(&scale.scale_out_transports),
        scale.max_nodes,
        scale.scale_out_clients,
        list(&scale.failover_transports),
        scale.failover_nodes,
        scale.failover_clients,
        list(&scale.connections_transports),
        scale.connections,
        cluster_suite::connections::nodes_for(scale.connections, scale.connections_per_node),
        est / 60.0
    )
}

/// The whole `report.md` of a cluster run, with the charts [`draw`] makes.
pub fn report_md(r: &ClusterReport) -> String {
    let charts: String = charts(r)
        .iter()
        .map(|c| format!("![{}](charts/{}.png)\n\n", c.title, c.name))
        .collect();
    format!(
        "# rtlab cluster\n\nThe `cluster` suite (`rtlab run --suite cluster`); the figures are in \
         `{CLUSTER_JSON}`.\n\n{charts}{}",
        section::markdown(r)
    )
}

/// The charts the report has data for.
fn charts(r: &ClusterReport) -> Vec<PanelRow> {
    [
        plot::cluster::proxy_chart(r),
        plot::cluster::scale_out_chart(r),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Draws the charts into `dir`'s `charts/` (PNG and SVG).
pub fn draw(dir: &RunDir, r: &ClusterReport) -> anyhow::Result<Vec<Drawn>> {
    anyhow::ensure!(
        plot::font::ensure_registered(),
        "{}",
        plot::chart::PlotError::Font
    );
    let out = dir.path.join("charts");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    charts(r)
        .iter()
        .map(|c| plot::chart::save(&out, c).map_err(anyhow::Error::from))
        .collect()
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
    };
    let report = rt.block_on(cluster_suite::run(&lab, &scale));
    drop(rt);
    let dir = RunDir::create(&args.out, SUITE_NAME, args.name.as_deref())?;
    dir.write_json(&dir.path.join(CLUSTER_JSON), &report)?;
    draw(&dir, &report)?;
    write_file(&dir.report_md(), report_md(&report).as_bytes())?;
    if let Err(e) = dir.mark_latest() {
        eprintln!("rtlab: could not update the `latest` link: {e}");
    }
    print!("{}", section::markdown(&report));
    println!(
        "\nresults: {}\nreport:  {}",
        dir.path.display(),
        dir.report_md().display()
    );
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_narrow_every_case_and_the_plan_states_the_estimate() {
        let args = RunArgs {
            suite: SUITE_NAME.into(),
            transports: vec![rtlab_wire::Transport::Sse],
            ..RunArgs::default()
        };
        let scale = narrowed_scale(&args).unwrap();
        assert_eq!(scale.failover_transports, [rtlab_wire::Transport::Sse]);
        let plan = plan(&scale);
        assert!(
            plan.contains("connections: sse (100000 concurrent, 6 nodes)"),
            "{plan}"
        );
        assert!(plan.contains("estimated"), "{plan}");
    }
}
