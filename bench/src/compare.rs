//! `rtlab compare A B`: what changed between two runs.
//!
//! Cases are matched by id (scenario, swept value, transport), so two runs of the same suite line
//! up row by row. For each matched case the table shows p50, p99, delivered events/s and bytes per
//! event in A and B and the change in percent. A change is only meaningful if the machines and
//! builds match: the header says when they do not.

use std::path::Path;

use crate::report::{fmt_us, text_table};
use crate::results::{CaseResult, ResultsError, RunDir, RunInfo};

/// Compares two results folders; returns the text to print.
pub fn compare_dirs(a: &Path, b: &Path) -> Result<String, ResultsError> {
    let (ia, ca) = RunDir {
        path: a.to_path_buf(),
    }
    .read()?;
    let (ib, cb) = RunDir {
        path: b.to_path_buf(),
    }
    .read()?;
    Ok(compare(&ia, &ca, &ib, &cb))
}

fn change(a: f64, b: f64) -> String {
    if a.abs() < f64::EPSILON || !a.is_finite() || !b.is_finite() {
        "-".into()
    } else {
        format!("{:+.1}%", (b - a) / a * 100.0)
    }
}

/// The comparison table of two loaded runs.
pub fn compare(ia: &RunInfo, ca: &[CaseResult], ib: &RunInfo, cb: &[CaseResult]) -> String {
    let mut out = format!(
        "A: {} suite, {} ({} build, {} cores, {}), commit {}\nB: {} suite, {} ({} build, {} cores, {}), commit {}\n",
        ia.suite,
        ia.started,
        ia.machine.build_profile,
        ia.machine.cores,
        ia.machine.cpu_model,
        ia.git_commit,
        ib.suite,
        ib.started,
        ib.machine.build_profile,
        ib.machine.cores,
        ib.machine.cpu_model,
        ib.git_commit,
    );
    if ia.machine.build_profile != ib.machine.build_profile
        || ia.machine.cpu_model != ib.machine.cpu_model
    {
        out.push_str(
            "warning: different machines or build profiles; differences are not only the code's\n",
        );
    }
    out.push('\n');
    let mut rows = Vec::new();
    let mut only = Vec::new();
    for a in ca {
        let Some(b) = cb.iter().find(|b| b.id == a.id) else {
            only.push(format!("only in A: {}", a.id));
            continue;
        };
        let (Some(ra), Some(rb)) = (a.ok(), b.ok()) else {
            rows.push(vec![
                a.id.clone(),
                format!("{:?} → {:?}", a.status, b.status).to_lowercase(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        };
        let (ba, bb) = (
            a.total_bytes_per_event().unwrap_or(f64::NAN),
            b.total_bytes_per_event().unwrap_or(f64::NAN),
        );
        rows.push(vec![
            a.id.clone(),
            "ok".into(),
            fmt_us(ra.latency_us.p50),
            fmt_us(rb.latency_us.p50),
            change(ra.latency_us.p50, rb.latency_us.p50),
            fmt_us(ra.latency_us.p99),
            fmt_us(rb.latency_us.p99),
            change(ra.latency_us.p99, rb.latency_us.p99),
            format!("{:.0} → {:.0}", ra.events_per_s, rb.events_per_s),
            change(ra.events_per_s, rb.events_per_s),
            format!("{ba:.1} → {bb:.1}"),
            change(ba, bb),
        ]);
    }
    for b in cb.iter().filter(|b| !ca.iter().any(|a| a.id == b.id)) {
        only.push(format!("only in B: {}", b.id));
    }
    out.push_str(&text_table(
        &[
            "case",
            "status",
            "p50 A",
            "p50 B",
            "Δp50",
            "p99 A",
            "p99 B",
            "Δp99",
            "events/s",
            "Δev/s",
            "bytes/event",
            "Δbytes",
        ],
        &rows,
    ));
    for o in only {
        out.push_str(&o);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RunStatus;

    fn info() -> RunInfo {
        RunInfo {
            schema_version: 1,
            suite: "s".into(),
            suite_source: "s".into(),
            git_commit: "c".into(),
            machine: Default::default(),
            started: "t".into(),
            finished: None,
            status: RunStatus::Complete,
            cases: Vec::new(),
            cases_ok: 0,
            cases_failed: 0,
            scenarios: Vec::new(),
        }
    }

    #[test]
    fn matches_cases_by_id_and_shows_changes() {
        let a = crate::plot::testdata::cases();
        let mut b = a.clone();
        if let Some(r) = b[0].client.as_mut() {
            r.latency_us.p50 *= 2.0;
        }
        b.pop();
        let text = compare(&info(), &a, &info(), &b);
        assert!(text.contains(&a[0].id));
        assert!(text.contains("+100.0%"), "{text}");
        assert!(text.contains("only in A"), "{text}");
    }
}
