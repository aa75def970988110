//! Suites: which scenarios the lab runs, read from a TOML file.
//!
//! A suite is a list of **scenarios**. Each scenario asks one question (how fast? how many bytes?
//! how many clients? how much rate? how often to poll? what does publishing cost?) and answers it
//! for every transport, so one scenario becomes one **case** per transport, and a scenario with a
//! `sweep` becomes one case per transport *and* per swept value:
//!
//! ```toml
//! name = "quick"
//! [defaults]            # every scenario starts from these
//! duration = "2s"       # measured window (humantime)
//! warmup = "1s"         # connected but not measured
//! clients = 10
//! rate = 100            # events/s published by the server's ticker
//!
//! [[scenario]]
//! name = "payload"
//! kind = "payload"      # which charts and findings use it
//! sweep.payload_bytes = [16, 1024, 65536]
//! repeat = 3           # each case three times, each with a fresh server (median and range)
//! ```
//!
//! Why sweeps: a single point says little about a trade-off. Overhead per event only means
//! something next to the payload it wraps (16 B vs 64 KiB); a server's cost per connection only
//! shows as the number of connections grows by decades; a transport's ceiling only shows when the
//! rate is pushed past it; a short poll's waste only shows against its interval.
//!
//! Files are read with `#[serde(deny_unknown_fields)]`: a typo is an error, not a silently ignored
//! setting. Errors name the file, the line and the key ([`SuiteError::Parse`]), using the spans
//! the `toml` crate keeps.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rtlab_wire::Transport;
use serde::Deserialize;

use crate::case::{Case, expand};
use crate::scenario::{ScenarioSpec, Settings};

/// The suite shipped as `bench/suites/default.toml`: the lab's full comparison (a few minutes).
pub const DEFAULT_SUITE: &str = include_str!("../suites/default.toml");
/// The suite shipped as `bench/suites/quick.toml`: a smoke run for tests (seconds).
pub const QUICK_SUITE: &str = include_str!("../suites/quick.toml");
/// The suite shipped as `bench/suites/network.toml`: every link profile, and a slow link's
/// bandwidth ceiling (a few minutes).
pub const NETWORK_SUITE: &str = include_str!("../suites/network.toml");

/// What can go wrong while loading a suite.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The file could not be read.
    #[error("cannot read suite {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error. It is in the message, so it is not also a `source()`: printed once.
        cause: std::io::Error,
    },
    /// The file is not a valid suite: bad TOML, an unknown key or a bad value.
    #[error("{path}:{line}:{column}: key `{key}`: {message}")]
    Parse {
        /// The file (or `default`/`quick` for built-in suites).
        path: String,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The key involved, as written in the file.
        key: String,
        /// What was wrong.
        message: String,
    },
    /// The suite parsed but makes no sense (e.g. two scenarios with one name).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
}

/// A suite file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// The suite's name (used in the results folder name).
    pub name: String,
    /// Settings every scenario starts from.
    #[serde(default)]
    pub defaults: Settings,
    /// The scenarios, in running order.
    #[serde(rename = "scenario")]
    pub scenarios: Vec<ScenarioSpec>,
}

/// A loaded suite: its name and its cases in running order.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The suite's name.
    pub name: String,
    /// Where it came from (a path, or `default`/`quick`).
    pub source: String,
    /// The scenarios as written (for the report's descriptions).
    pub scenarios: Vec<ScenarioSpec>,
    /// Every case, in running order.
    pub cases: Vec<Case>,
}

impl Suite {
    /// Loads `default`, `quick`, `network` (the built-in suites) or a path to a TOML file.
    pub fn load(name_or_path: &str) -> Result<Self, SuiteError> {
        match name_or_path {
            "default" => Self::parse(DEFAULT_SUITE, "bench/suites/default.toml"),
            "quick" => Self::parse(QUICK_SUITE, "bench/suites/quick.toml"),
            "network" => Self::parse(NETWORK_SUITE, "bench/suites/network.toml"),
            path => {
                let text = std::fs::read_to_string(path).map_err(|source| SuiteError::Read {
                    path: PathBuf::from(path),
                    cause: source,
                })?;
                Self::parse(&text, path)
            }
        }
    }

    /// Parses suite text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, SuiteError> {
        let file: SuiteFile = toml::from_str(text).map_err(|e| parse_error(text, origin, &e))?;
        let invalid = |message: String| SuiteError::Invalid {
            path: origin.to_owned(),
            message,
        };
        if file.scenarios.is_empty() {
            return Err(invalid("a suite needs at least one [[scenario]]".into()));
        }
        let mut cases = Vec::new();
        for (i, s) in file.scenarios.iter().enumerate() {
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(invalid(format!(
                    "scenario {:?}: names may hold only letters, digits and '-'",
                    s.name
                )));
            }
            if file.scenarios[..i].iter().any(|o| o.name == s.name) {
                return Err(invalid(format!("two scenarios are named {:?}", s.name)));
            }
            cases.extend(
                expand(s, &file.defaults)
                    .map_err(|m| invalid(format!("scenario {:?}: {m}", s.name)))?,
            );
        }
        Ok(Suite {
            name: file.name,
            source: origin.to_owned(),
            scenarios: file.scenarios,
            cases,
        })
    }

    /// Keeps only the cases of these transports.
    pub fn retain_transports(&mut self, keep: &[Transport]) {
        self.cases.retain(|c| keep.contains(&c.transport));
    }

    /// Sum of the cases' estimated wall times, plus the calibration step before them.
    pub fn estimated(&self) -> Duration {
        self.cases.iter().map(Case::estimated).sum::<Duration>() + crate::calibration::ESTIMATED
    }
}

/// Turns a `toml` error into one naming file, line, column and key.
fn parse_error(text: &str, origin: &str, e: &toml::de::Error) -> SuiteError {
    let (line, column, key) = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            let line_text = text.lines().nth(line - 1).unwrap_or("");
            (line, column, key_of(line_text, &text[span.clone()]))
        }
        None => (1, 1, String::from("?")),
    };
    SuiteError::Parse {
        path: origin.to_owned(),
        line,
        column,
        key,
        message: e.message().trim().to_owned(),
    }
}

/// The key written on a line (`foo = 1` → `foo`, `[[scenario]]` → `scenario`), or the spanned text.
fn key_of(line: &str, spanned: &str) -> String {
    let line = line.trim();
    if let Some((k, _)) = line.split_once('=') {
        return k.trim().trim_matches('"').to_owned();
    }
    let header = line.trim_matches(|c| c == '[' || c == ']').trim();
    if !header.is_empty() {
        return header.to_owned();
    }
    spanned.trim().to_owned()
}

/// The path a suite name would load from, for messages (`quick` → `bench/suites/quick.toml`).
pub fn describe(name_or_path: &str) -> String {
    match name_or_path {
        "default" | "quick" | "network" => format!("bench/suites/{name_or_path}.toml"),
        p => Path::new(p).display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why `text` is refused, as `rtlab` would print it.
    fn refusal(text: &str, file: &str) -> String {
        Suite::parse(text, file).unwrap_err().to_string()
    }

    /// Why `text` is refused, which must name `file:line:` first and the `key`.
    fn refusal_at(text: &str, file: &str, line: u32, key: &str) -> String {
        let err = refusal(text, file);
        assert!(err.starts_with(&format!("{file}:{line}:")), "{err}");
        assert!(err.contains(&format!("key `{key}`")), "{err}");
        err
    }

    #[test]
    fn shipped_suites_parse() {
        let d = Suite::load("default").unwrap();
        let q = Suite::load("quick").unwrap();
        let n = Suite::load("network").unwrap();
        assert!(
            n.cases
                .iter()
                .any(|c| c.kind == crate::scenario::Kind::Bandwidth)
        );
        assert!(d.cases.len() > 50);
        assert!(q.cases.len() >= 5);
        for t in Transport::ALL {
            assert!(q.cases.iter().any(|c| c.transport == t));
        }
        // The default suite must finish in under 10 minutes on the reference machine. Its
        // estimate is about its wall time (2026-11-28: estimated 584 s, ran in 584.5 s; the
        // saturation cases overran their estimate by 46 s, the others came in under theirs), so
        // the bound leaves some 15 s for a slow run.
        assert!(
            d.estimated() < Duration::from_secs(585),
            "{:?}",
            d.estimated()
        );
        // The quick suite is the end-to-end test's: every kind once, in little over a minute.
        assert!(
            q.estimated() < Duration::from_secs(85),
            "{:?}",
            q.estimated()
        );
    }

    #[test]
    fn sweep_expands_to_points_times_transports() {
        let s = Suite::parse(
            "name = \"t\"\n[[scenario]]\nname = \"p\"\nkind = \"payload\"\ntransports = [\"ws\", \"tcp\"]\nsweep.payload_bytes = [16, 64, 256]\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(s.cases.len(), 6);
        assert_eq!(s.cases[0].id(), "p-p16-ws");
        assert_eq!(s.cases[5].params.payload_bytes, 256);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "name = \"t\"\n\n[[scenario]]\nname = \"x\"\nkind = \"latency\"\nclinets = 5\n";
        let err = refusal_at(text, "bad.toml", 6, "clinets");
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn bad_value_names_file_line_and_key() {
        let text = "name = \"t\"\n[defaults]\nduration = \"fast\"\n[[scenario]]\nname = \"x\"\nkind = \"latency\"\n";
        refusal_at(text, "d.toml", 3, "duration");

        let text = "name = \"t\"\n[[scenario]]\nname = \"x\"\nkind = \"latency\"\ntransports = [\"ws\", \"carrier-pigeon\"]\n";
        refusal_at(text, "t.toml", 5, "transports");
    }

    #[test]
    fn sweeping_two_settings_is_refused() {
        let text = "name = \"t\"\n[[scenario]]\nname = \"x\"\nkind = \"rate\"\nsweep.rate = [1]\nsweep.clients = [1]\n";
        let err = refusal(text, "t.toml");
        assert!(err.contains("one setting only"), "{err}");
    }

    #[test]
    fn repeat_comes_from_defaults_or_the_scenario_and_is_bounded() {
        let text = "name = \"t\"\n[defaults]\nrepeat = 2\ntransports = [\"ws\"]\n[[scenario]]\nname = \"a\"\nkind = \"latency\"\n[[scenario]]\nname = \"b\"\nkind = \"latency\"\nrepeat = 3\n";
        let s = Suite::parse(text, "t.toml").unwrap();
        assert_eq!(s.cases.iter().map(|c| c.repeat).collect::<Vec<_>>(), [2, 3]);
        // Three runs cost three times one.
        let one = Case {
            repeat: 1,
            ..s.cases[1].clone()
        };
        assert_eq!(s.cases[1].estimated(), one.estimated() * 3);
        for bad in ["0", "1000"] {
            let text = format!(
                "name = \"t\"\n[[scenario]]\nname = \"x\"\nkind = \"latency\"\nrepeat = {bad}\n"
            );
            let err = refusal(&text, "t.toml");
            assert!(err.contains("`repeat`"), "{err}");
        }
        let text = "name = \"t\"\n[[scenario]]\nname = \"x\"\nkind = \"latency\"\nrepeat = -1\n";
        let err = refusal(text, "t.toml");
        assert!(err.contains("key `repeat`"), "{err}");
    }

    #[test]
    fn zero_clients_is_refused() {
        let text = "name = \"t\"\n[[scenario]]\nname = \"x\"\nkind = \"rate\"\nclients = 0\n";
        assert!(Suite::parse(text, "t.toml").is_err());
    }

    #[test]
    fn streams_per_connection_sweeps_over_http2_only() {
        let head = "name = \"t\"\n[[scenario]]\nname = \"m\"\nkind = \"multiplex\"\n\
                    transports = [\"ws\", \"sse\", \"long-poll\"]\nsweep.streams_per_connection = [1, 10]\n";
        let s = Suite::parse(&format!("{head}security = \"tls-h2\"\n"), "t.toml").unwrap();
        // ws is not carried by HTTP/2: two transports at two points.
        let ids: Vec<String> = s.cases.iter().map(|c| c.id()).collect();
        assert_eq!(
            ids,
            ["m-s1-sse", "m-s1-long-poll", "m-s10-sse", "m-s10-long-poll"]
        );
        assert_eq!(s.cases[2].params.streams_per_connection, Some(10));
        let err = refusal(head, "t.toml");
        assert!(err.contains("needs `security = \"tls-h2\"`"), "{err}");
    }
}
