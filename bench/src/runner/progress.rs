//! Progress on stderr: a bar with the time left on a terminal, and one line per finished case
//! (through the bar on a terminal, plainly otherwise, so CI logs and pipes get them too).

use indicatif::{ProgressBar, ProgressStyle};

use crate::calibration::Calibration;
use crate::case_result::{CaseResult, CaseStatus};
use crate::format;

/// A bar over `total_ms` of estimated case time, or a hidden one.
pub fn bar(total_ms: u64, show: bool) -> ProgressBar {
    let bar = if show {
        ProgressBar::new(total_ms)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {percent:>3}% {elapsed} elapsed, ETA {eta}  {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Prints the line of a finished case: through the bar on a terminal, plainly otherwise.
pub fn println(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// The calibration's line: the inputs every model of the report takes.
pub fn calibration_line(c: &Calibration) -> String {
    // The shaper's ceiling is a check of the instrument: beside the inputs, when measured.
    let ceiling = c.shaper_ceiling_bps.map_or(String::new(), |bps| {
        format!(", shaper ceiling {:.0} Mbit/s", bps / 1e6)
    });
    format!(
        "calibration: HTTP round trip {}, one-way delay {}, poll request {:.0} B, answer head {:.0} B{ceiling}",
        format::micros(c.rtt_us),
        format::micros(c.one_way_delay_us),
        c.request_bytes,
        c.response_head_bytes
    )
}

/// One line per case for the progress output.
pub fn case_line(i: usize, n: usize, r: &CaseResult) -> String {
    let width = n.to_string().len();
    match (r.status, r.ok()) {
        // An idle feed (keep-alive): no latency to show, only what the connections spent.
        (CaseStatus::Ok, Some(c)) if c.latency_us.count == 0 => format!(
            "[{i:>width$}/{n}] {:<34} ok   no events timed; {} B down, {} B up in the window",
            r.id,
            format::num(c.wire.bytes_down as f64),
            format::num(c.wire.bytes_up as f64),
        ),
        (CaseStatus::Ok, Some(c)) => format!(
            "[{i:>width$}/{n}] {:<34} ok   p50 {:>9}  p99 {:>9}  {:>10} ev/s{}",
            r.id,
            format::micros(c.latency_us.p50),
            format::micros(c.latency_us.p99),
            format!("{:.0}", c.events_per_s),
            if c.lost > 0 {
                format!("  LOST {}", c.lost)
            } else {
                String::new()
            },
        ),
        (status, _) => format!(
            "[{i:>width$}/{n}] {:<34} {}: {}",
            r.id,
            format!("{status:?}").to_uppercase(),
            r.error
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calibration_line_shows_the_shaper_ceiling_when_measured() {
        let mut c = crate::testdata::calibration();
        c.shaper_ceiling_bps = Some(3.7e9);
        let line = calibration_line(&c);
        assert!(
            line.ends_with("answer head 150 B, shaper ceiling 3700 Mbit/s"),
            "{line}"
        );
        c.shaper_ceiling_bps = None;
        assert!(calibration_line(&c).ends_with("answer head 150 B"));
    }
}
