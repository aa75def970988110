//! The harness of the browser tests: run a script of `server/tests/browser/` with node, which
//! drives Debian's Chromium through playwright-core (CDP, no browser download), and read back the
//! one JSON report it prints last. The assertions stay in the tests, on that report.
//!
//! Needs `/usr/bin/chromium` (or `RTLAB_CHROMIUM`) and `server/tests/browser/node_modules`;
//! `scripts/setup-test-deps` installs both. When they are missing a test fails with one line
//! saying so ([`require_setup`]): a silently skipped browser test would let a broken page land.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;

/// How long the whole browser run may take before it is killed (it takes ~5 s when healthy).
pub const NODE_TIMEOUT: Duration = Duration::from_secs(120);
/// The directory of the node scripts and their `node_modules`.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// The Chromium the scripts drive: `RTLAB_CHROMIUM`, else Debian's.
pub fn chromium() -> PathBuf {
    std::env::var_os("RTLAB_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fails (never skips) with one line naming the setup script when a prerequisite is missing.
pub fn require_setup() {
    const FIX: &str = "run `scripts/setup-test-deps` (as root) to install them";
    let chromium = chromium();
    assert!(
        chromium.exists(),
        "browser test needs Chromium at {} and it is missing: {FIX}",
        chromium.display()
    );
    let module = browser_dir().join("node_modules/playwright-core/package.json");
    assert!(
        module.exists(),
        "browser test needs playwright-core in {} and it is missing: {FIX}",
        browser_dir().join("node_modules").display()
    );
}

/// Runs `node <script> <args>` in the browser directory, killed after [`NODE_TIMEOUT`]: the JSON
/// report it printed last, its stderr and its exit status.
pub async fn run_node(
    script: &str,
    args: impl IntoIterator<Item = OsString>,
) -> (Value, String, ExitStatus) {
    let mut node = tokio::process::Command::new("node");
    node.arg(browser_dir().join(script))
        .args(args)
        .current_dir(browser_dir())
        .env("RTLAB_CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = match node.spawn() {
        Ok(child) => child,
        Err(e) => panic!(
            "browser test cannot start `node` ({e}): run `scripts/setup-test-deps` (as root)"
        ),
    };
    let output = tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the browser run took longer than {NODE_TIMEOUT:?}; killed"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report: Value = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "the browser script printed no JSON report (exit {:?})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                output.status.code()
            )
        });
    (report, stderr, output.status)
}

/// The report's value at the JSON `pointer`, failing the test when it is absent.
pub fn check<'a>(report: &'a Value, pointer: &str) -> &'a Value {
    report
        .pointer(pointer)
        .unwrap_or_else(|| panic!("browser report has no {pointer}: {report:#}"))
}
