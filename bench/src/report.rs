//! `report.md`: the findings, each a sentence with its numbers, and the charts that show them.
//!
//! The report is written from the stored results alone (as the charts are), so `rtlab plot DIR`
//! rewrites it for any run. It opens with the machine and the build (a debug build or an unpinned
//! run is called out), then one section per scenario kind: the question, the chart, and findings
//! such as "At 16 B of payload an event costs ws 63 B on the wire (73 % payload) and short-poll
//! 1 520 B (4 %)". It closes with every place where measurement departs from theory by more than
//! 10 %, and the likely reason, and with any failed cases and their server's last words.

use std::fmt::Write;
use std::path::Path;

use crate::case_result::{CaseResult, CaseStatus};
use crate::findings;
use crate::format;
use crate::plot::{self, Drawn};
use crate::predict;
use crate::results::{ResultsError, RunDir, RunInfo, RunStatus, write_file};
use crate::scenario::Kind;
use crate::summary::summary_csv;
use crate::table::md_table;

/// Rewrites `summary.csv`, the charts and `report.md` of a results folder from its stored files.
pub fn render(dir: &RunDir) -> Result<Vec<Drawn>, RenderError> {
    let (info, cases) = dir.read()?;
    write_file(&dir.summary_csv(), summary_csv(&cases).as_bytes())?;
    let drawn = plot::draw_all(&dir.charts(), &cases)?;
    let text = report_markdown(&info, &cases, &drawn, &dir.path);
    write_file(&dir.report_md(), text.as_bytes())?;
    Ok(drawn)
}

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Reading or writing files.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// Drawing.
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

/// A report section: the scenario kind, its heading, and its charts (file stem, alt text).
type Section = (Kind, &'static str, &'static [(&'static str, &'static str)]);

/// The Markdown of the report.
pub fn report_markdown(
    info: &RunInfo,
    cases: &[CaseResult],
    drawn: &[Drawn],
    dir: &Path,
) -> String {
    let mut s = String::new();
    let m = &info.machine;
    let _ = writeln!(s, "# rtlab report — `{}` suite\n", info.suite);
    let _ = writeln!(
        s,
        "Measured {} → {} on {} cores ({}), {:.1} GiB, {} / Linux {}, {}, **{} build**, git `{}`. {}\n",
        info.started,
        info.finished.as_deref().unwrap_or("(unfinished)"),
        m.cores,
        m.cpu_model,
        m.memory_bytes as f64 / (1u64 << 30) as f64,
        m.os,
        m.kernel,
        m.rustc,
        m.build_profile,
        short_commit(&info.git_commit),
        if m.pinned {
            "The server ran pinned to CPU 0 and the client to CPU 1, so each one's cost is its own."
        } else {
            "Server and client were **not** pinned to separate cores: they shared the CPUs."
        }
    );
    if m.build_profile != "release" {
        s.push_str("> **Debug build**: these numbers show the shape of the trade-offs only; run `cargo run --release` for real figures.\n\n");
    }
    let failed: Vec<&CaseResult> = cases
        .iter()
        .filter(|c| c.status != CaseStatus::Ok)
        .collect();
    match info.status {
        RunStatus::Interrupted => {
            let _ = writeln!(
                s,
                "> **Partial results**: the run was interrupted after {} of {} cases.\n",
                cases.len(),
                info.cases.len()
            );
        }
        RunStatus::Running => {
            s.push_str("> **Unfinished run**: the runner stopped before writing its end.\n\n")
        }
        RunStatus::Complete => {}
    }
    let _ = writeln!(
        s,
        "{} cases ran in {:.1} minutes: {} ok, {} failed or interrupted. Every case started a fresh \
         `rtlab-server` process; the client ran in the runner's process. Raw numbers: `summary.csv`, \
         `cases/*.json` (schema in `bench/schema/`), latency distributions in `hgrm/`.\n",
        cases.len(),
        cases.iter().map(|c| c.wall_s).sum::<f64>() / 60.0,
        cases.len() - failed.len(),
        failed.len()
    );

    s.push_str(&crate::repeat::note(cases));
    s.push_str("\n\n");

    s.push_str("## At a glance\n\n");
    s.push_str(&findings::glance_table(cases));
    s.push('\n');

    let chart = |s: &mut String, name: &str, alt: &str| {
        if let Some(d) = drawn.iter().find(|d| d.name == name) {
            let rel = |p: &Path| p.strip_prefix(dir).unwrap_or(p).display().to_string();
            let _ = writeln!(
                s,
                "![{alt}]({})\n\n(SVG: [{}]({}))\n",
                rel(&d.png),
                rel(&d.svg),
                rel(&d.svg)
            );
        }
    };
    let sections: [Section; 13] = [
        (
            Kind::Latency,
            "Latency, and what set-up costs",
            &[("latency-percentiles", "latency percentile curves")],
        ),
        (
            Kind::Payload,
            "Bytes per event",
            &[
                ("bytes-per-event", "stacked bytes per event"),
                ("payload-efficiency", "overhead and efficiency vs payload"),
            ],
        ),
        (
            Kind::Fanout,
            "Fan-out",
            &[
                ("fanout-throughput", "throughput and p99 vs clients"),
                ("fanout-server-cost", "server CPU and memory vs clients"),
            ],
        ),
        (
            Kind::Rate,
            "Rate sweep: where each transport stops keeping up",
            &[("rate-saturation", "delivery and p99 vs rate")],
        ),
        (
            Kind::PollInterval,
            "Short-poll interval",
            &[(
                "short-poll-interval",
                "short-poll latency and waste vs interval",
            )],
        ),
        (
            Kind::RoundTrip,
            "Round trip (clients publishing)",
            &[("round-trip", "round trip and upstream bytes")],
        ),
        (
            Kind::Saturation,
            "Saturation: each transport's ceiling beside the raw-TCP floor",
            &[(
                "capacity",
                "delivered vs offered, and RSS vs idle connections",
            )],
        ),
        (Kind::Memory, "Memory per idle connection", &[]),
        (
            Kind::KeepAlive,
            "Keep-alive: the cost of an idle connection",
            &[],
        ),
        (
            Kind::Network,
            "Real links: latency in transits, round trips to the first event",
            &[
                (
                    "network-latency",
                    "latency vs round-trip time, with the models",
                ),
                ("first-event", "time to first event, stacked by round trip"),
            ],
        ),
        (
            Kind::Bandwidth,
            "A slow link: bytes per event as a ceiling",
            &[(
                "bandwidth",
                "delivered vs offered on a slow link, with each ceiling",
            )],
        ),
        (
            Kind::Security,
            "Security: what TLS costs, what HTTP/2 gives back",
            &[(
                "security",
                "bytes per event above and below TLS, per transport and way of carrying it",
            )],
        ),
        (
            Kind::Multiplex,
            "HTTP/2 multiplexing: many streams on one connection",
            &[],
        ),
    ];
    for (kind, heading, charts) in sections {
        let findings = findings::for_kind(kind, cases);
        if findings.is_empty() {
            continue;
        }
        let _ = writeln!(s, "## {heading}\n");
        for sc in info.scenarios.iter().filter(|sc| sc.kind == kind) {
            if let Some(about) = &sc.about {
                let _ = writeln!(s, "*{about}* (scenario `{}`)\n", sc.name);
            }
        }
        for (name, alt) in charts {
            chart(&mut s, name, alt);
        }
        for f in findings {
            let _ = writeln!(s, "- {f}");
        }
        s.push('\n');
        if let Some(table) = findings::table_for(kind, cases) {
            s.push_str(&table);
            s.push('\n');
        }
    }

    s.push_str("## Theory vs measurement\n\n");
    s.push_str(&models_paragraph(cases));
    let devs = predict::deviations(cases);
    if devs.is_empty() {
        s.push_str("Every modelled quantity is within 10 % of its model.\n\n");
    } else {
        let _ = writeln!(
            s,
            "{} measurements depart from their model by more than 10 %:\n",
            devs.len()
        );
        let rows: Vec<Vec<String>> = devs
            .iter()
            .map(|d| {
                vec![
                    format!("`{}`", d.case_id),
                    d.quantity.into(),
                    format!("{:.2}", d.measured),
                    format!("{:.2}", d.model),
                    format!("{:+.0} %", d.relative() * 100.0),
                    d.reason.clone(),
                ]
            })
            .collect();
        s.push_str(&md_table(
            &[
                "case",
                "quantity",
                "measured",
                "model",
                "deviation",
                "what this run shows",
            ],
            &rows,
        ));
        s.push('\n');
    }

    if !failed.is_empty() {
        s.push_str("## Failed cases\n\n");
        for c in failed {
            let _ = writeln!(
                s,
                "- `{}` ({:?}): {}",
                c.id,
                c.status,
                c.error
                    .as_deref()
                    .unwrap_or("no reason recorded")
                    .lines()
                    .next()
                    .unwrap_or("")
            );
            if let Some(tail) = c
                .server_stderr_tail
                .as_deref()
                .filter(|t| !t.trim().is_empty())
            {
                let _ = writeln!(
                    s,
                    "\n  ```text\n{}\n  ```",
                    tail.lines()
                        .map(|l| format!("  {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
        s.push('\n');
    }
    s
}

/// The models and their inputs: the case settings and the run's calibration, with its values.
fn models_paragraph(cases: &[CaseResult]) -> String {
    let inputs = match cases.iter().find_map(|c| c.calibration.as_ref()) {
        Some(c) => format!(
            "The calibration step measured, on an idle server with one client before the first case: \
             HTTP round trip {}, one-way delay {} (p50 of one WebSocket subscriber), poll request {:.0} B, \
             poll answer head {:.0} B.",
            format::micros(c.rtt_us),
            format::micros(c.one_way_delay_us),
            c.request_bytes,
            c.response_head_bytes
        ),
        None => "This run has no calibration, so the models that need one (poll bytes, long-poll \
                 batching, short-poll latency) are left out."
            .to_owned(),
    };
    format!(
        "Dashed lines in the charts are the analytic models (`bench/src/model.rs`, applied in \
         `bench/src/predict.rs`), fed only with each case's settings and the run's calibration, never \
         with the case's own measurements. Streaming framing bytes per event: `rtlab_wire::framing` \
         (settings). Short-poll requests per event: `1/min(rate × interval, batch)` (settings). \
         Long-poll requests per event: `1/max(1, rate × round trip)` for the periodic ticker (settings, calibrated round trip). \
         Poll bytes per event: requests per event × (answer head + request) (calibrated sizes). \
         Short-poll mean latency: `max(interval, round trip)/2 + transit + one-way delay` (settings, \
         calibrated delay). Over a shaped link, a transit is half the round trip the client timed \
         through its shaper before the case (the link's calibration); a pushed event is one transit \
         behind, a long-polled one one transit when events are sparser than a round trip and two on \
         average (three at worst, RFC 6202 §2.2) when they are denser; a slow link carries at most \
         its rate ÷ the bytes per event measured. {inputs}\n\n"
    )
}

fn short_commit(c: &str) -> &str {
    c.get(..12).unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_every_transport_and_states_findings() {
        let cases = crate::testdata::cases();
        let info = RunInfo {
            schema_version: 1,
            suite: "synthetic".into(),
            suite_source: "test".into(),
            git_commit: "unknown".into(),
            machine: Default::default(),
            started: "2026-01-01T00:00:00Z".into(),
            finished: None,
            status: RunStatus::Complete,
            cases: cases.iter().map(|c| c.id.clone()).collect(),
            cases_ok: cases.len(),
            cases_failed: 0,
            scenarios: Vec::new(),
        };
        let md = report_markdown(&info, &cases, &[], Path::new("."));
        for t in rtlab_wire::Transport::ALL {
            assert!(md.contains(t.as_str()), "{t} missing");
        }
        assert!(md.contains("Each case ran once, so no figure has a spread"));
        let mut repeated = cases.clone();
        repeated[0] = crate::repeat::fold(vec![cases[0].clone(), cases[0].clone()]).unwrap();
        let md2 = report_markdown(&info, &repeated, &[], Path::new("."));
        assert!(md2.contains("1 of ") && md2.contains("cases ran 2 times"));
        assert!(!md2.contains("Each case ran once"));
        for h in [
            "## Latency",
            "## Bytes per event",
            "## Fan-out",
            "## Rate sweep",
            "## Short-poll interval",
            "## Round trip",
            "## Theory vs measurement",
        ] {
            assert!(md.contains(h), "{h} missing:\n{md}");
        }
    }
}
