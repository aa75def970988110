//! `rtlab`: the lab runner's command line. See the library (`rtlab_bench`) for how it works, and
//! [`rtlab_bench::command`] for what each command does.
//!
//! Run with `cargo run --release` (the default suite, a few minutes), or
//! `cargo run --release -p rtlab-bench -- run --suite quick` (seconds).

use std::process::ExitCode;

use clap::Parser;
use rtlab_bench::cli::Cli;
use rtlab_bench::command::{self, exit::ERROR_CODE};

fn main() -> ExitCode {
    let cli = Cli::parse();
    command::init_logging();
    match command::run(cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("rtlab: {e:#}");
            ExitCode::from(ERROR_CODE)
        }
    }
}
