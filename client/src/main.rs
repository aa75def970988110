//! `rtlab-client`: the thin binary around the `rtlab_client` library.
//!
//! Parse the command line, hand it to [`rtlab_client::command::execute`], map its error to an
//! exit code. Every failure is one line on stderr: exit code 2 for a usage mistake (a bad flag,
//! `--clients 0`, a malformed URL or duration), 1 for a run that could not be measured, 3 for
//! a run that ended early (the server shut down; its report is written, marked `ended_early`).

use std::process::ExitCode;

use clap::Parser;
use rtlab_client::cli::{Cli, one_line_error};
use rtlab_client::command::{execute, exit_code};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            eprintln!("{}", one_line_error(&e));
            return ExitCode::from(2);
        }
        Err(e) => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}
