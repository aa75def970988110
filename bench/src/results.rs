//! The results folder: a versioned, self-describing format that charts and reports are drawn from.
//!
//! ```text
//! results/20261122T031500Z-default/
//!   run.json              what ran, where, when: suite, git commit, machine, times, status
//!   cases/<case>.json     one per scenario × swept value × transport: the client's RunReport,
//!                         the server's CPU and memory, ok/failed and the server's last words
//!   hgrm/<case>.hgrm      latency percentile distribution (HdrHistogram text, ms)
//!   summary.csv           one row per case, for spreadsheets
//!   charts/*.png, *.svg   the trade-offs, drawn
//!   report.md             findings in sentences, charts embedded
//! results/latest -> 20261122T031500Z-default
//! ```
//!
//! Every JSON file carries `schema_version` and is described by a JSON Schema in `bench/schema/`,
//! which the tests validate against. Charts and the report are drawn *only* from these files
//! (`rtlab plot DIR`), so an old run can be redrawn after the drawing code improves.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::case_result::CaseResult;
use crate::machine::MachineInfo;
use crate::scenario::Kind;

/// Errors reading or writing a results folder.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error. It is in the message, so it is not also a `source()`: printed once.
        cause: std::io::Error,
    },
    /// A JSON file did not match the format.
    #[error("{path}: {cause}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The JSON error. It is in the message, so it is not also a `source()`: printed once.
        cause: serde_json::Error,
    },
    /// `--name reference` from a tree that is not a clean commit.
    #[error(
        "refusing to write the {REFERENCE_RUN} run from commit {commit}: the reference must be \
         reproducible, so commit (or stash) your changes first"
    )]
    UnreproducibleReference {
        /// What [`crate::machine::git_commit`] said: `<sha>-dirty` or `unknown`.
        commit: String,
    },
}

/// The run name the README and the guide quote figures from (`results/reference`).
pub const REFERENCE_RUN: &str = "reference";

/// Refuses to name a run [`REFERENCE_RUN`] unless it measures a clean commit: a reference whose
/// `git_commit` is `-dirty` (or `unknown`) names code that cannot reproduce it.
pub fn check_reference_provenance(name: Option<&str>, commit: &str) -> Result<(), ResultsError> {
    let clean = commit != "unknown" && !commit.ends_with("-dirty");
    if name == Some(REFERENCE_RUN) && !clean {
        return Err(ResultsError::UnreproducibleReference {
            commit: commit.to_owned(),
        });
    }
    Ok(())
}

/// How a whole run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Still running (or the runner was killed hard).
    Running,
    /// Every case ran (some may have failed).
    Complete,
    /// Stopped by Ctrl-C: the results are partial.
    Interrupted,
}

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// [`SCHEMA_VERSION`](crate::case_result::SCHEMA_VERSION).
    pub schema_version: u32,
    /// Suite name.
    pub suite: String,
    /// Where the suite came from.
    pub suite_source: String,
    /// `git rev-parse HEAD`, or `unknown`.
    pub git_commit: String,
    /// The machine.
    pub machine: MachineInfo,
    /// Start, RFC 3339 UTC.
    pub started: String,
    /// End, RFC 3339 UTC (absent while running).
    pub finished: Option<String>,
    /// How the run ended.
    pub status: RunStatus,
    /// Case ids in running order (the planned ones).
    pub cases: Vec<String>,
    /// Cases that ran and succeeded.
    pub cases_ok: usize,
    /// Cases that failed.
    pub cases_failed: usize,
    /// The scenarios' questions, by scenario name, for the report.
    pub scenarios: Vec<ScenarioInfo>,
}

/// A scenario as the report describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// The question it answers.
    pub about: Option<String>,
}

/// A results folder and the names of the files in it.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The folder.
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `<root>/<UTC timestamp>-<suite>/` (or `<root>/<name>/`) with its sub-folders. An
    /// earlier run of the same name is replaced; a folder that is not a run is never touched.
    pub fn create(root: &Path, suite: &str, name: Option<&str>) -> Result<Self, ResultsError> {
        let folder = match name {
            Some(n) if n.is_empty() || n.starts_with('.') || n.contains('/') => {
                return Err(ResultsError::Io {
                    path: root.join(n),
                    cause: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "a run name is one folder name (no `/`, not starting with `.`)",
                    ),
                });
            }
            Some(n) => n.to_owned(),
            None => {
                let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                    .to_string()
                    .replace(['-', ':'], "");
                format!("{stamp}-{suite}")
            }
        };
        let dir = RunDir {
            path: root.join(folder),
        };
        if dir.path.exists() {
            // A results folder holds the figures of a run: run.json for the comparison suites,
            // the reliability and cluster suites' own JSON for theirs.
            let figures = ["run.json", "reliability.json", "cluster.json"];
            if !figures.iter().any(|f| dir.path.join(f).is_file()) {
                return Err(ResultsError::Io {
                    path: dir.path.clone(),
                    cause: std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "exists and is not a results folder (no run.json, reliability.json or cluster.json); not replacing it",
                    ),
                });
            }
            std::fs::remove_dir_all(&dir.path).map_err(|source| ResultsError::Io {
                path: dir.path.clone(),
                cause: source,
            })?;
        }
        for sub in ["cases", "hgrm", "charts"] {
            let p = dir.path.join(sub);
            std::fs::create_dir_all(&p).map_err(|source| ResultsError::Io {
                path: p,
                cause: source,
            })?;
        }
        Ok(dir)
    }

    /// `run.json`.
    pub fn run_json(&self) -> PathBuf {
        self.path.join("run.json")
    }
    /// `cases/<id>.json`.
    pub fn case_json(&self, id: &str) -> PathBuf {
        self.path.join("cases").join(format!("{id}.json"))
    }
    /// `hgrm/<id>.hgrm`.
    pub fn hgrm(&self, id: &str) -> PathBuf {
        self.path.join("hgrm").join(format!("{id}.hgrm"))
    }
    /// `charts/`.
    pub fn charts(&self) -> PathBuf {
        self.path.join("charts")
    }
    /// `summary.csv`.
    pub fn summary_csv(&self) -> PathBuf {
        self.path.join("summary.csv")
    }
    /// `report.md`.
    pub fn report_md(&self) -> PathBuf {
        self.path.join("report.md")
    }

    /// Writes any serializable value as pretty JSON.
    pub fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), ResultsError> {
        let text = serde_json::to_string_pretty(value).map_err(|source| ResultsError::Json {
            path: path.to_path_buf(),
            cause: source,
        })?;
        write_file(path, text.as_bytes())
    }

    /// Reads `run.json` and every case file, in running order.
    pub fn read(&self) -> Result<(RunInfo, Vec<CaseResult>), ResultsError> {
        let info: RunInfo = read_json(&self.run_json())?;
        let mut cases = Vec::new();
        for id in &info.cases {
            let p = self.case_json(id);
            if p.is_file() {
                cases.push(read_json(&p)?);
            }
        }
        Ok((info, cases))
    }

    /// Points `<root>/latest` at this folder (a relative symlink).
    pub fn mark_latest(&self) -> Result<(), ResultsError> {
        let (Some(root), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Ok(());
        };
        let link = root.join("latest");
        if link.symlink_metadata().is_ok() {
            std::fs::remove_file(&link).map_err(|source| ResultsError::Io {
                path: link.clone(),
                cause: source,
            })?;
        }
        std::os::unix::fs::symlink(name, &link).map_err(|source| ResultsError::Io {
            path: link,
            cause: source,
        })
    }
}

/// Writes a file, naming it in the error.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    std::fs::write(path, bytes).map_err(|source| ResultsError::Io {
        path: path.to_path_buf(),
        cause: source,
    })
}

/// Reads and parses a JSON file, naming it in the error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ResultsError> {
    let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Io {
        path: path.to_path_buf(),
        cause: source,
    })?;
    serde_json::from_str(&text).map_err(|source| ResultsError::Json {
        path: path.to_path_buf(),
        cause: source,
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_reference_run_needs_a_clean_commit() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert!(check_reference_provenance(Some("reference"), sha).is_ok());
        for commit in [format!("{sha}-dirty"), "unknown".to_owned()] {
            let err = check_reference_provenance(Some("reference"), &commit).unwrap_err();
            assert!(err.to_string().contains(&commit), "{err}");
        }
        // Any other run may measure work in progress: it says so in its git_commit.
        assert!(check_reference_provenance(Some("mine"), &format!("{sha}-dirty")).is_ok());
        assert!(check_reference_provenance(None, "unknown").is_ok());
    }

    use super::*;
    use crate::case_result::{CaseStatus, SCHEMA_VERSION};

    fn validator(name: &str) -> jsonschema::Validator {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("schema")
                .join(name),
        )
        .unwrap();
        jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
    }

    #[test]
    fn case_files_match_the_schema() {
        let v = validator("case.schema.json");
        let mut cases = crate::testdata::cases();
        let mut failed = cases[0].clone();
        failed.status = CaseStatus::Failed;
        failed.error = Some("server died".into());
        failed.client = None;
        cases.push(failed.clone());
        // A case that ran three times (one repetition failed) stores every repetition's figures.
        let repeated = crate::repeat::fold(vec![cases[0].clone(), failed, cases[0].clone()])
            .expect("three repetitions");
        assert_eq!(repeated.repeats.len(), 3);
        cases.push(repeated.clone());
        for c in &cases {
            let doc = serde_json::to_value(c).unwrap();
            let errors: Vec<String> = v
                .iter_errors(&doc)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", c.id);
        }
        let mut bad = serde_json::to_value(&cases[0]).unwrap();
        bad["transport"] = "carrier-pigeon".into();
        assert!(!v.is_valid(&bad));
        // A repetition without its figures, or a single-entry `repeats`, is not the format.
        let mut bad = serde_json::to_value(&repeated).unwrap();
        bad["repeats"][1].as_object_mut().unwrap().remove("p99_us");
        assert!(!v.is_valid(&bad));
        let mut bad = serde_json::to_value(&repeated).unwrap();
        bad["repeats"].as_array_mut().unwrap().truncate(1);
        assert!(!v.is_valid(&bad));
        // An old case file (no `repeats`) is still valid.
        assert!(
            serde_json::to_value(&cases[0])
                .unwrap()
                .get("repeats")
                .is_none()
        );
    }

    #[test]
    fn run_json_matches_the_schema_and_round_trips() {
        let info = RunInfo {
            schema_version: SCHEMA_VERSION,
            suite: "quick".into(),
            suite_source: "bench/suites/quick.toml".into(),
            git_commit: "unknown".into(),
            machine: MachineInfo::collect(false),
            started: "2026-11-22T03:00:00Z".into(),
            finished: Some("2026-11-22T03:01:00Z".into()),
            status: RunStatus::Complete,
            cases: vec!["latency-ws".into()],
            cases_ok: 1,
            cases_failed: 0,
            scenarios: vec![ScenarioInfo {
                name: "latency".into(),
                kind: Kind::Latency,
                about: None,
            }],
        };
        let doc = serde_json::to_value(&info).unwrap();
        assert!(validator("run.schema.json").is_valid(&doc));
        let back: RunInfo = serde_json::from_value(doc).unwrap();
        assert_eq!(back, info);
    }

    #[test]
    fn folder_layout_write_read_and_latest() {
        let root = std::env::temp_dir().join(format!("rtlab-results-{}", std::process::id()));
        let dir = RunDir::create(&root, "t", None).unwrap();
        let cases = crate::testdata::cases();
        for c in &cases[..3] {
            dir.write_json(&dir.case_json(&c.id), c).unwrap();
        }
        let info = RunInfo {
            schema_version: SCHEMA_VERSION,
            suite: "t".into(),
            suite_source: "t".into(),
            git_commit: "unknown".into(),
            machine: MachineInfo::default(),
            started: "x".into(),
            finished: None,
            status: RunStatus::Interrupted,
            cases: cases.iter().map(|c| c.id.clone()).collect(),
            cases_ok: 3,
            cases_failed: 0,
            scenarios: Vec::new(),
        };
        dir.write_json(&dir.run_json(), &info).unwrap();
        let (back, read) = dir.read().unwrap();
        assert_eq!(back.status, RunStatus::Interrupted);
        assert_eq!(read.len(), 3, "only the cases that ran");
        dir.mark_latest().unwrap();
        dir.mark_latest().unwrap();
        assert_eq!(
            std::fs::canonicalize(root.join("latest")).unwrap(),
            std::fs::canonicalize(&dir.path).unwrap()
        );
        let csv = crate::summary::summary_csv(&read);
        assert_eq!(csv.lines().count(), 4);
        assert!(csv.lines().all(|l| l.split(',').count() == 33), "{csv}");
        let named = RunDir::create(&root, "t", Some("reference")).unwrap();
        named.write_json(&named.run_json(), &info).unwrap();
        assert!(
            RunDir::create(&root, "t", Some("reference")).is_ok(),
            "a run is replaced"
        );
        std::fs::create_dir_all(root.join("keep")).unwrap();
        assert!(
            RunDir::create(&root, "t", Some("keep")).is_err(),
            "a non-run is not"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
