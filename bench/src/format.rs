//! Numbers as the report writes them, in one place for every sentence that states a figure.
//!
//! A count reads best with thin thousands separators (12 345), a small value with one decimal at
//! most; both come from [`num`], so a figure reads the same in every finding.

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
