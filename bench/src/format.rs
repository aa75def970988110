//! Numbers and units as the lab writes them, in one place for every sentence, table and chart.
//!
//! A figure should read the same wherever it appears: a latency is always [`micros`] (`850 µs`,
//! `1.25 ms`), a size always [`bytes`] (`64 KiB`), a share always [`percent`]. Two families:
//!
//! - **prose and tables**: [`num`] writes a count with thin thousands separators (12 345), because
//!   a sentence states the exact figure; [`micros`], [`percent`], [`share`] and [`change`] add
//!   their unit.
//! - **chart axes and labels**: [`compact`] writes 1.5k or 20M, because a tick label has a few
//!   characters of room; [`bytes`] and [`millis`] build on it.
//!
//! Unknown or unmeasured values are written `n/a` (or `-` in a table cell) by the callers that
//! know which; these functions only format numbers.

/// A count or measurement for prose: `12 345` (thin spaces), `42`, `3.5`.
pub fn num(v: f64) -> String {
    if v >= 100.0 {
        let s = format!("{v:.0}");
        // Thin thousands separators for readability: 12 345.
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push('\u{202f}');
            }
            out.push(ch);
        }
        out
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A number short enough for an axis tick: `950`, `1.5k`, `20k`, `3M`, `1e-3`.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if a > 0.0 && a < 0.01 {
        return format!("{v:.0e}");
    }
    let (x, unit) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = if x.fract().abs() < 1e-9 || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s}{unit}")
}

/// Bytes with a binary unit: `16 B`, `4 KiB`, `64 KiB`, `1.5 MiB`.
pub fn bytes(v: f64) -> String {
    if v >= 1024.0 * 1024.0 {
        format!("{} MiB", compact(v / 1024.0 / 1024.0))
    } else if v >= 1024.0 {
        format!("{} KiB", compact(v / 1024.0))
    } else {
        format!("{} B", compact(v))
    }
}

/// A latency given in microseconds, in the unit that reads best: `850 µs`, `1.25 ms`, `2.50 s`;
/// `n/a` when it is not a number.
pub fn micros(us: f64) -> String {
    if !us.is_finite() {
        "n/a".into()
    } else if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

/// An interval given in milliseconds, for an axis: `250 ms`, `2 s`.
pub fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", compact(ms / 1000.0))
    } else {
        format!("{} ms", compact(ms))
    }
}

/// A ratio as a whole percent: `0.734` → `73 %`.
pub fn percent(ratio: f64) -> String {
    format!("{:.0} %", ratio * 100.0)
}

/// A delivered or published share: floored to the whole percent below, so that 99.6 % does not
/// read "100 %" next to a sentence that says something was missing; `n/a` when unknown.
pub fn share(ratio: Option<f64>) -> String {
    match ratio {
        Some(v) if v >= 1.0 => "100 %".into(),
        Some(v) => format!("{:.0} %", (v * 100.0).floor()),
        None => "n/a".into(),
    }
}

/// The relative change from `a` to `b`: `+12.5%`, `-3.0%`; `-` when `a` is zero or either is not
/// a number (no change can be stated).
pub fn change(a: f64, b: f64) -> String {
    if a.abs() < f64::EPSILON || !a.is_finite() || !b.is_finite() {
        "-".into()
    } else {
        format!("{:+.1}%", (b - a) / a * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_numbers_have_thin_thousands_separators() {
        for (n, want) in [
            (12_345.0, "12\u{202f}345"),
            (1_000_000.0, "1\u{202f}000\u{202f}000"),
            (100.0, "100"),
            (42.0, "42"),
            (3.54, "3.5"),
        ] {
            assert_eq!(num(n), want);
        }
    }

    #[test]
    fn compact_numbers_fit_a_tick() {
        for (v, want) in [
            (1500.0, "1.5k"),
            (10_000.0, "10k"),
            (950.0, "950"),
            (3e6, "3M"),
            (0.5, "0.5"),
            (0.001, "1e-3"),
            (0.0, "0"),
        ] {
            assert_eq!(compact(v), want);
        }
    }

    #[test]
    fn bytes_take_a_binary_unit() {
        for (b, want) in [
            (65_536.0, "64 KiB"),
            (16.0, "16 B"),
            (1.5 * 1024.0 * 1024.0, "1.5 MiB"),
        ] {
            assert_eq!(bytes(b), want);
        }
    }

    #[test]
    fn formats_microseconds() {
        for (us, want) in [
            (850.0, "850 µs"),
            (1250.0, "1.25 ms"),
            (2_500_000.0, "2.50 s"),
            (f64::NAN, "n/a"),
        ] {
            assert_eq!(micros(us), want);
        }
    }

    #[test]
    fn milliseconds_switch_to_seconds_at_one_second() {
        for (ms, want) in [(250.0, "250 ms"), (2000.0, "2 s"), (1500.0, "1.5 s")] {
            assert_eq!(millis(ms), want);
        }
    }

    #[test]
    fn percents_and_shares() {
        for (formatted, want) in [
            (percent(0.734), "73 %"),
            (percent(1.0), "100 %"),
            (share(Some(0.996)), "99 %"),
            (share(Some(1.04)), "100 %"),
            (share(None), "n/a"),
        ] {
            assert_eq!(formatted, want);
        }
    }

    #[test]
    fn changes_are_signed_and_refuse_a_zero_base() {
        for (from, to, want) in [
            (100.0, 200.0, "+100.0%"),
            (200.0, 150.0, "-25.0%"),
            (0.0, 5.0, "-"),
            (1.0, f64::NAN, "-"),
        ] {
            assert_eq!(change(from, to), want);
        }
    }
}
