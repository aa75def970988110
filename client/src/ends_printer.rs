//! The human-readable lines for how a run and its subscribers ended: a run that ended early,
//! the stalled subscribers (`--stalled`), a churn (`--churn`). Apart from `printer.rs` because
//! these are about the run's *ends*, not its steady-state figures, and most runs print none.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::RunReport;

/// `1001: 20, end of stream: 3`.
fn counts(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    let list: Vec<String> = m.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    list.join(", ")
}

/// The lines (each ending in a newline) for the run's ends; empty for an ordinary run.
pub fn ends_lines(r: &RunReport) -> String {
    let mut o = String::new();
    if let Some(e) = &r.ended_early {
        let _ = writeln!(
            o,
            "  ENDED EARLY  at {:.2}s into the run ({:.2}s of the {:.1}s window measured): {}",
            e.at_s, r.duration_s, e.planned_duration_s, e.reason
        );
        let _ = writeln!(
            o,
            "  ends         {}; highest seq {}; {} subscribers ended behind it ({} events), {} with gaps",
            counts(&e.close_codes),
            e.highest_seq,
            e.subscribers_behind,
            e.events_behind,
            e.subscribers_with_gaps
        );
    }
    if let Some(s) = &r.stalled {
        let _ = writeln!(
            o,
            "  stalled      {} asked, {} stalled, {} cut ({}); events before the cut {:?}; not cut {:?}",
            s.asked,
            s.stalled,
            s.cut,
            counts(&s.close_codes),
            s.events_before_cut,
            s.events_not_cut
        );
        if !s.failed.is_empty() {
            let _ = writeln!(o, "  stalled      did not stall: {}", counts(&s.failed));
        }
    }
    if let Some(c) = &r.churn {
        let _ = writeln!(
            o,
            "  churn        {} of {} cycles done, {} failed, in {:.2}s: {:.1} cycles/s",
            c.cycles_done, c.cycles_asked, c.cycles_failed, c.elapsed_s, c.cycles_per_s
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ChurnReport, EndedEarly};

    #[test]
    fn an_ordinary_run_prints_no_end_lines_and_an_early_end_says_when_and_how() {
        assert_eq!(ends_lines(&RunReport::default()), "");
        let r = RunReport {
            duration_s: 1.5,
            ended_early: Some(EndedEarly {
                reason: "closed by server (1001 server shutting down)".into(),
                at_s: 3.5,
                planned_duration_s: 10.0,
                close_codes: BTreeMap::from([("1001".into(), 4)]),
                highest_seq: 70,
                subscribers_behind: 1,
                events_behind: 2,
                subscribers_with_gaps: 0,
            }),
            churn: Some(ChurnReport {
                cycles_asked: 10,
                cycles_done: 9,
                cycles_failed: 1,
                elapsed_s: 2.0,
                cycles_per_s: 4.5,
            }),
            ..RunReport::default()
        };
        let text = ends_lines(&r);
        assert!(text.contains("ENDED EARLY  at 3.50s into the run (1.50s of the 10.0s window"));
        assert!(text.contains("1001: 4; highest seq 70; 1 subscribers ended behind it (2 events)"));
        assert!(text.contains("9 of 10 cycles done, 1 failed, in 2.00s: 4.5 cycles/s"));
    }
}
