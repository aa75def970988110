//! Tables: the final table `rtlab run` prints, and the small text/Markdown table helpers (and
//! the cells both the final table and the report's "at a glance" table show) that the report and
//! `rtlab compare` share.

use std::fmt::Write;

use crate::case_result::CaseResult;
use crate::format::{self, num};
use crate::repeat::{Figure, headline};

/// A plain-text table with aligned columns (first column left, others right).
pub fn text_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w.saturating_sub(c.chars().count());
            if i == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(headers.to_vec());
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// A Markdown table.
pub fn md_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!(
        "| {} |\n|{}\n",
        headers.join(" | "),
        headers.iter().map(|_| "---|").collect::<String>()
    );
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

/// A case's total bytes per delivered event, `-` unless it succeeded.
pub fn bytes_per_event_cell(c: &CaseResult) -> String {
    c.total_bytes_per_event()
        .map_or("-".into(), |b| format!("{b:.1}"))
}

/// The server's CPU time per 1 000 events, in ms, `-` when it was not measured.
pub fn server_cpu_cell(c: &CaseResult) -> String {
    c.server
        .as_ref()
        .and_then(|s| s.cpu_ms_per_1000_events)
        .map_or("-".into(), |v| format!("{v:.2}"))
}

/// A headline figure as the report's tables write it: `median (min–max)` over the case's
/// repetitions, just the value for one, `-` when it was not measured.
pub fn headline_cell(c: &CaseResult, figure: Figure) -> String {
    headline(c, figure).map_or("-".into(), |s| s.cell(|v| figure_text(figure, v)))
}

/// One value of a headline figure, in that figure's unit and precision.
pub fn figure_text(figure: Figure, v: f64) -> String {
    match figure {
        Figure::P50 | Figure::P99 => format::micros(v),
        Figure::EventsPerS => num(v),
        Figure::BytesPerEvent => format!("{v:.1}"),
        Figure::CpuPer1000 => format!("{v:.2}"),
    }
}

/// The client's share of its core in the window, marked when the case is client-bound (its
/// figures may then be the load generator's, not the server's).
pub fn client_cpu_cell(c: &CaseResult) -> String {
    match c.client_cpu_utilisation {
        Some(u) if c.client_bound() => format!("{} bound", format::percent(u)),
        Some(u) => format::percent(u),
        None => "-".into(),
    }
}

/// One row per case: the final table `rtlab run` prints. Figures of a repeated case are the
/// median over its repetitions with their range, as in the report.
pub fn case_table(cases: &[CaseResult]) -> String {
    let rows: Vec<Vec<String>> = cases
        .iter()
        .map(|c| match c.ok() {
            Some(r) => vec![
                c.id.clone(),
                "ok".into(),
                headline_cell(c, Figure::P50),
                headline_cell(c, Figure::P99),
                headline_cell(c, Figure::EventsPerS),
                format!("{:.3}", r.delivery_ratio),
                headline_cell(c, Figure::BytesPerEvent),
                headline_cell(c, Figure::CpuPer1000),
                client_cpu_cell(c),
            ],
            None => vec![
                c.id.clone(),
                format!("{:?}", c.status).to_lowercase(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ],
        })
        .collect();
    text_table(
        &[
            "case",
            "status",
            "p50",
            "p99",
            "events/s",
            "delivered",
            "bytes/event",
            "cpu ms/1k ev",
            "client cpu",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = text_table(&["a", "bb"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "a    bb\n---  --\nxyz   1\n");
        let m = md_table(&["a", "b"], &[vec!["1".into(), "2".into()]]);
        assert_eq!(m, "| a | b |\n|---|---|\n| 1 | 2 |\n");
    }

    #[test]
    fn headline_cells_show_the_spread_of_repeats() {
        let base = crate::testdata::cases().remove(0);
        let p99 = |v: f64| {
            let mut c = base.clone();
            if let Some(r) = c.client.as_mut() {
                r.latency_us.p99 = v;
            }
            c
        };
        assert_eq!(headline_cell(&p99(2_000.0), Figure::P99), "2.00 ms");
        let c = crate::repeat::fold(vec![p99(2_000.0), p99(1_000.0), p99(3_000.0)]).expect("three");
        assert_eq!(headline_cell(&c, Figure::P99), "2.00 ms (1.00 ms–3.00 ms)");
    }

    #[test]
    fn the_case_table_marks_client_bound_cases_and_idle_latency() {
        let mut cases = crate::testdata::cases();
        cases.truncate(2);
        cases[0].client_cpu_utilisation = Some(0.97);
        cases[1].client_cpu_utilisation = Some(0.40);
        // The second case timed no event (an idle feed): no latency, not "0 µs".
        cases[1].client.as_mut().unwrap().latency_us = Default::default();
        let table = case_table(&cases);
        let rows: Vec<&str> = table.lines().skip(2).collect();
        assert!(rows[0].ends_with("97 % bound"), "{table}");
        assert!(rows[1].ends_with("40 %"), "{table}");
        assert!(!rows[1].contains("0 µs"), "{table}");
        assert_eq!(client_cpu_cell(&cases[1]), "40 %");
    }
}
