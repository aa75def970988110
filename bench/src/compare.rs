//! `rtlab compare A B`: what changed between two runs.
//!
//! Cases are matched by id (scenario, swept value, transport), so two runs of the same suite line
//! up row by row. For each matched case the table shows p50, p99, delivered events/s and bytes per
//! event in A and B and the change in percent. A change is only meaningful if the machines and
//! builds match: the header says when they do not.
//!
//! **Noise.** A change in percent says nothing about whether the runs disagree: one 2 s window
//! can move a p99 by half. When cases ran more than once ([`crate::repeat`]) the values are the
//! medians over the repetitions, and the last column says, per headline figure (p50, p99,
//! events/s, bytes/event, server CPU per 1 000 events), whether the two runs' min–max ranges
//! overlap: `yes` means the runs agree within their own noise, `no` that they disagree beyond it
//! (listed under the table), `n/a` that both measured the case once and there is no range. Each
//! range is first widened by what the instrument cannot resolve (`Figure::resolution`: `/proc`'s
//! 10 ms CPU ticks, a message per connection cut at each window edge), so that two runs are not
//! called apart on a difference the lab cannot measure.

use std::path::Path;

use crate::case_result::CaseResult;
use crate::format;
use crate::repeat::{Figure, headline};
use crate::results::{ResultsError, RunDir, RunInfo};
use crate::table::text_table;

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
    let (mut overlapping, mut apart, mut single) = (0, Vec::new(), 0);
    for a in ca {
        let Some(b) = cb.iter().find(|b| b.id == a.id) else {
            only.push(format!("only in A: {}", a.id));
            continue;
        };
        if a.ok().is_none() || b.ok().is_none() {
            let mut row = vec![
                a.id.clone(),
                format!("{:?} → {:?}", a.status, b.status).to_lowercase(),
            ];
            row.resize(HEADERS.len(), String::new());
            rows.push(row);
            continue;
        }
        let median = |c: &CaseResult, f: Figure| headline(c, f).map_or(f64::NAN, |s| s.median);
        let mut row = vec![a.id.clone(), "ok".into()];
        for f in [Figure::P50, Figure::P99] {
            let (va, vb) = (median(a, f), median(b, f));
            row.extend([
                format::micros(va),
                format::micros(vb),
                format::change(va, vb),
            ]);
        }
        for f in [Figure::EventsPerS, Figure::BytesPerEvent] {
            let (va, vb) = (median(a, f), median(b, f));
            let digits = usize::from(f == Figure::BytesPerEvent);
            row.extend([
                format!("{va:.digits$} → {vb:.digits$}"),
                format::change(va, vb),
            ]);
        }
        let verdicts: Vec<&str> = Figure::ALL
            .iter()
            .map(|&f| match overlap(a, b, f) {
                Overlap::Yes => {
                    overlapping += 1;
                    "yes"
                }
                Overlap::No => {
                    apart.push(format!("{} {}", a.id, f.label()));
                    "no"
                }
                Overlap::Single => {
                    single += 1;
                    "n/a"
                }
                Overlap::Unmeasured => "-",
            })
            .collect();
        row.push(verdicts.join(" "));
        rows.push(row);
    }
    for b in cb.iter().filter(|b| !ca.iter().any(|a| a.id == b.id)) {
        only.push(format!("only in B: {}", b.id));
    }
    out.push_str(&text_table(&HEADERS, &rows));
    out.push_str(&format!(
        "\noverlap (p50 p99 ev/s B/ev cpu): whether the two runs' min–max ranges over their \
         repetitions share a value; yes in {overlapping}, no in {}, n/a in {single} (both runs \
         measured the case once: no spread), - where a figure was not measured.\n",
        apart.len()
    ));
    if !apart.is_empty() {
        out.push_str(&format!(
            "The runs disagree beyond their spread on: {}.\n",
            apart.join(", ")
        ));
    }
    for o in only {
        out.push_str(&o);
        out.push('\n');
    }
    out
}

/// The compare table's columns: medians over repetitions, then one overlap verdict per figure.
const HEADERS: [&str; 13] = [
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
    "overlap p50 p99 ev/s B/ev cpu",
];

/// Whether one figure's ranges in two runs share a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlap {
    /// They do: the runs agree within their noise.
    Yes,
    /// They do not: the runs disagree beyond it.
    No,
    /// Both runs measured it once: there is no range to compare.
    Single,
    /// One of the runs has no value.
    Unmeasured,
}

fn overlap(a: &CaseResult, b: &CaseResult, f: Figure) -> Overlap {
    match (headline(a, f), headline(b, f)) {
        (Some(x), Some(y)) if !x.has_spread() && !y.has_spread() => Overlap::Single,
        // Each range widened by the instrument's own step (`Figure::resolution`): CPU ticks and
        // message bytes at the window's edges are not noise the repetitions can show.
        (Some(x), Some(y))
            if x.widened(f.resolution(a, x.median))
                .overlaps(&y.widened(f.resolution(b, y.median))) =>
        {
            Overlap::Yes
        }
        (Some(_), Some(_)) => Overlap::No,
        _ => Overlap::Unmeasured,
    }
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
        let a = crate::testdata::cases();
        let mut b = a.clone();
        if let Some(r) = b[0].client.as_mut() {
            r.latency_us.p50 *= 2.0;
        }
        b.pop();
        let text = compare(&info(), &a, &info(), &b);
        assert!(text.contains(&a[0].id));
        assert!(text.contains("+100.0%"), "{text}");
        assert!(text.contains("only in A"), "{text}");
        assert!(
            text.contains("n/a n/a n/a n/a"),
            "one run each: no spread\n{text}"
        );
    }

    /// `c` run once per p99 (µs).
    fn repeated(c: &CaseResult, p99s: &[f64]) -> CaseResult {
        crate::testdata::repeated(c, p99s, |r, v| {
            if let Some(rep) = r.client.as_mut() {
                rep.latency_us.p99 = v;
            }
        })
    }

    #[test]
    fn overlap_column_says_whether_the_ranges_meet() {
        let base = crate::testdata::cases().remove(0);
        let a = vec![repeated(&base, &[1_000.0, 1_100.0, 1_200.0])];
        let same = vec![repeated(&base, &[1_150.0, 1_300.0, 1_250.0])];
        let text = compare(&info(), &a, &info(), &same);
        assert!(text.contains("overlap p50 p99 ev/s B/ev cpu"), "{text}");
        let row = text.lines().find(|l| l.starts_with(&base.id)).unwrap();
        assert!(row.ends_with("yes yes yes yes yes"), "{row}");
        assert!(!text.contains("disagree beyond"), "{text}");
        let slower = vec![repeated(&base, &[2_000.0, 2_100.0, 2_200.0])];
        let text = compare(&info(), &a, &info(), &slower);
        let row = text.lines().find(|l| l.starts_with(&base.id)).unwrap();
        assert!(row.ends_with("yes no yes yes yes"), "{row}");
        assert!(
            text.contains(&format!(
                "disagree beyond their spread on: {} p99.",
                base.id
            )),
            "{text}"
        );
    }

    #[test]
    fn cpu_ranges_closer_than_two_clock_ticks_are_not_apart() {
        // 100 clients × 100 events/s × 2 s: 20 000 deliveries, so two 10 ms ticks are ±1 ms per
        // 1 000 events.
        let base = crate::testdata::cases().remove(0);
        assert_eq!(base.params.clients * base.params.rate * 2, 20_000);
        let with_cpu = |cpus: &[f64]| {
            crate::testdata::repeated(&base, cpus, |r, v| {
                if let Some(s) = r.server.as_mut() {
                    s.cpu_ms_per_1000_events = Some(v);
                }
            })
        };
        let a = vec![with_cpu(&[10.0, 10.2, 10.4])];
        let near = vec![with_cpu(&[11.9, 12.0, 12.1])];
        let row = |b: &[CaseResult]| {
            let text = compare(&info(), &a, &info(), b);
            text.lines()
                .find(|l| l.starts_with(&base.id))
                .unwrap()
                .to_owned()
        };
        // 10.4 + 1 meets 11.9 − 1: within the instrument's step.
        assert!(row(&near).ends_with("yes"), "{}", row(&near));
        let far = vec![with_cpu(&[12.5, 12.6, 12.7])];
        assert!(row(&far).ends_with("no"), "{}", row(&far));
    }
}
