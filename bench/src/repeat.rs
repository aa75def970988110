//! Repeats: a case measured several times, each with a fresh server, stored in one case file.
//!
//! With `repeat = N` (in a suite) or `--repeat N` (on `rtlab run`) the runner runs each case N
//! times, the repetitions spread over the run (a first pass over every case, then a pass per
//! further repetition), so that their range includes the machine's drift over the run. The case file `cases/<id>.json` keeps its format: its top level is still one
//! complete measurement (the first repetition that succeeded: client report, server cost,
//! histogram), so everything that reads one run — charts of distributions, the `.hgrm` file,
//! `rtlab plot` of an old folder — works unchanged. Beside it, `repeats` holds a short
//! [`Repeat`] per repetition (the first one included) with the **headline figures** only: p50,
//! p99, delivered events/s, bytes per event and server CPU per 1 000 events. Old folders have no
//! `repeats`; [`headline`] then reads the single measurement, so they are a run of N = 1.
//!
//! Why not one file per repetition (`<id>-rep2.json`): every reader matches cases by id, so
//! extra files would show up as extra cases in `rtlab compare` and the tables, or need a second
//! naming rule everywhere. A summary per repetition is enough for a median and a range; a full
//! histogram per repetition would be needed to merge distributions, which the lab does not do.

use crate::case_result::{CaseResult, CaseStatus, Repeat};
use crate::spread::Spread;

/// The figures the report, the charts and `rtlab compare` show with their spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Median latency.
    P50,
    /// 99th-percentile latency.
    P99,
    /// Delivered events per second.
    EventsPerS,
    /// Bytes per delivered event.
    BytesPerEvent,
    /// Server CPU ms per 1 000 events.
    CpuPer1000,
}

impl Figure {
    /// Every headline figure, in table order.
    pub const ALL: [Figure; 5] = [
        Figure::P50,
        Figure::P99,
        Figure::EventsPerS,
        Figure::BytesPerEvent,
        Figure::CpuPer1000,
    ];

    /// Short name for table headers.
    pub const fn label(self) -> &'static str {
        match self {
            Figure::P50 => "p50",
            Figure::P99 => "p99",
            Figure::EventsPerS => "ev/s",
            Figure::BytesPerEvent => "B/ev",
            Figure::CpuPer1000 => "cpu",
        }
    }

    /// This figure in one repetition, if it was measured.
    pub fn of(self, r: &Repeat) -> Option<f64> {
        if r.status != CaseStatus::Ok {
            return None;
        }
        match self {
            Figure::P50 => r.p50_us,
            Figure::P99 => r.p99_us,
            Figure::EventsPerS => r.events_per_s,
            Figure::BytesPerEvent => r.bytes_per_event,
            Figure::CpuPer1000 => r.cpu_ms_per_1000_events,
        }
    }
}

impl Figure {
    /// How finely the lab can measure this figure in `c`, as an absolute amount (0 where the
    /// figure is read exactly enough): a min–max range over a few repetitions says nothing about
    /// the instrument's own steps, so two ranges closer than this are not apart.
    ///
    /// - server CPU per 1 000 events: `/proc` counts CPU in 10 ms ticks, read at both ends of the
    ///   window, so the window's CPU is known to ±20 ms: ±20 ms ÷ the window's deliveries;
    /// - bytes per event: each window edge may fall inside one message per connection, so the
    ///   bytes are known to ±2 messages per connection: ±2 × clients × bytes/event ÷ deliveries;
    /// - latency and events/s are read from HdrHistograms (3 significant digits) and seq counts:
    ///   0 here, their noise is what the ranges show.
    pub fn resolution(self, c: &CaseResult, value: f64) -> f64 {
        let deliveries =
            c.params.clients as f64 * crate::predict::event_rate(c) * c.params.duration_s;
        if deliveries <= 0.0 {
            return 0.0;
        }
        match self {
            Figure::CpuPer1000 => 2.0 * TICK_MS / deliveries * 1_000.0,
            Figure::BytesPerEvent => 2.0 * c.params.clients as f64 * value / deliveries,
            _ => 0.0,
        }
    }
}

/// One `/proc` clock tick, in ms (`USER_HZ` = 100).
const TICK_MS: f64 = 10.0;

/// A headline figure of a case over its repetitions; the single measurement when the case ran
/// once (or comes from a folder written before repeats existed).
pub fn headline(c: &CaseResult, figure: Figure) -> Option<Spread> {
    if c.repeats.is_empty() {
        return figure.of(&Repeat::of(c)).map(Spread::single);
    }
    Spread::of(c.repeats.iter().filter_map(|r| figure.of(r)))
}

/// How many repetitions a case ran (1 for a folder without repeats).
pub fn count(c: &CaseResult) -> usize {
    c.repeats.len().max(1)
}

/// The report's one paragraph on repetitions: how many cases ran how often, and what the
/// figures in parentheses are, or that no figure has a spread.
pub fn note(cases: &[CaseResult]) -> String {
    let repeated: Vec<usize> = cases.iter().map(count).filter(|&n| n > 1).collect();
    let (Some(lo), Some(hi)) = (repeated.iter().min(), repeated.iter().max()) else {
        return "Each case ran once, so no figure has a spread: a difference between two \
                transports may be the noise of one measured window (`rtlab run --repeat N` \
                runs every case N times)."
            .into();
    };
    let times = if lo == hi {
        format!("{lo} times")
    } else {
        format!("{lo} to {hi} times")
    };
    let once = cases.len() - repeated.len();
    format!(
        "{} of {} cases ran {times}, each repetition with a fresh server: for them p50, p99, \
         events/s, bytes/event and server CPU per 1 000 events are the median over the \
         repetitions with the min–max range in parentheses, and a finding says one transport's \
         figure is lower than another's only where the two ranges do not overlap (otherwise it \
         says the difference is within noise).{}",
        repeated.len(),
        cases.len(),
        if once > 0 {
            format!(" The other {once} ran once and have no spread.")
        } else {
            String::new()
        }
    )
}

/// Folds the repetitions of one case into the one result stored: the first that succeeded (else
/// the first) at the top level, every repetition's figures in `repeats`, the wall times summed.
/// One repetition is stored as it is, without `repeats`, exactly as before repeats existed.
pub fn fold(mut runs: Vec<CaseResult>) -> Option<CaseResult> {
    if runs.len() <= 1 {
        return runs.pop();
    }
    let repeats: Vec<Repeat> = runs.iter().map(Repeat::of).collect();
    let wall: f64 = runs.iter().map(|r| r.wall_s).sum();
    let main = runs
        .iter()
        .position(|r| r.status == CaseStatus::Ok)
        .unwrap_or(0);
    let mut result = runs.swap_remove(main);
    result.repeats = repeats;
    result.wall_s = wall;
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    fn with_p99(c: &CaseResult, p99: f64) -> CaseResult {
        let mut c = c.clone();
        if let Some(r) = c.client.as_mut() {
            r.latency_us.p99 = p99;
        }
        c
    }

    #[test]
    fn folding_keeps_every_repetition_and_the_first_success() {
        let base = testdata::cases().remove(0);
        let mut failed = base.clone();
        failed.status = CaseStatus::Failed;
        failed.client = None;
        let runs = vec![
            failed,
            with_p99(&base, 3_000.0),
            with_p99(&base, 1_000.0),
            with_p99(&base, 2_000.0),
        ];
        let walls: f64 = runs.iter().map(|r| r.wall_s).sum();
        let c = fold(runs).expect("a result");
        assert_eq!(c.status, CaseStatus::Ok);
        assert_eq!(c.ok().map(|r| r.latency_us.p99), Some(3_000.0));
        assert_eq!(c.repeats.len(), 4);
        assert_eq!(c.repeats[0].status, CaseStatus::Failed);
        assert!((c.wall_s - walls).abs() < 1e-9);
        // The failed repetition has no figures: the spread is over the three that ran.
        let p99 = headline(&c, Figure::P99).expect("a spread");
        assert_eq!(
            (p99.median, p99.min, p99.max, p99.n),
            (2_000.0, 1_000.0, 3_000.0, 3)
        );
        assert_eq!(count(&c), 4);
    }

    #[test]
    fn one_repetition_is_stored_as_before() {
        let base = testdata::cases().remove(0);
        let c = fold(vec![base.clone()]).expect("a result");
        assert_eq!(c, base);
        assert!(c.repeats.is_empty());
        let p50 = headline(&c, Figure::P50).expect("measured");
        assert!(!p50.has_spread());
        assert_eq!(Some(p50.median), c.ok().map(|r| r.latency_us.p50));
        assert_eq!(fold(Vec::new()), None);
    }

    #[test]
    fn the_note_counts_repeated_cases_or_says_there_is_no_spread() {
        let cases = testdata::cases();
        assert!(note(&cases).starts_with("Each case ran once, so no figure has a spread"));
        let mut some = cases.clone();
        some[0] = fold(vec![cases[0].clone(), cases[0].clone(), cases[0].clone()]).unwrap();
        some[1] = fold(vec![cases[1].clone(), cases[1].clone()]).unwrap();
        let text = note(&some);
        assert!(
            text.starts_with(&format!("2 of {} cases ran 2 to 3 times", cases.len())),
            "{text}"
        );
        assert!(
            text.contains(&format!("The other {} ran once", cases.len() - 2)),
            "{text}"
        );
    }

    #[test]
    fn an_old_case_file_without_repeats_still_reads() {
        let base = testdata::cases().remove(0);
        let mut doc = serde_json::to_value(&base).expect("json");
        doc.as_object_mut().expect("object").remove("repeats");
        let back: CaseResult = serde_json::from_value(doc).expect("reads");
        assert!(back.repeats.is_empty());
        assert_eq!(count(&back), 1);
    }
}
