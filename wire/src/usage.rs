//! A usage mistake on one line, the same from every binary of the lab (with the `clap` feature).
//!
//! clap's message spans several lines: what was wrong, the possible values, the usage block and a
//! hint. Scripts and people reading a terminal want the first part on one line and a pointer to
//! `--help`, so `rtlab-server` and `rtlab-client` both print [`one_line_error`] and exit 2.

/// A clap error as one line: what was wrong, without the usage block, then `(see --help)`.
pub fn one_line_error(e: &clap::Error) -> String {
    let rendered = e.to_string();
    let what: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    format!("{} (see --help)", what.join(" "))
}
