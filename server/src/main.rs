//! `rtlab-server`: the binary edge. Parses flags, sets up logging and the runtime, calls
//! [`rtlab_server::run`], and turns an error into a one-line message and exit code 1.
//!
//! Run with `cargo run -p rtlab-server -- --rate 10` and watch with
//! `curl -N 127.0.0.1:8080/sse`. Logs go to stderr (`RUST_LOG=debug` for more).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use rtlab_server::Config;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let config = match Config::try_parse() {
        Ok(config) => config,
        Err(e) if e.use_stderr() => {
            eprintln!("rtlab-server: {}", rtlab_server::config::one_line_error(&e));
            return ExitCode::from(2);
        }
        Err(e) => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(rtlab_server::ServerError::Io)
        .and_then(|runtime| runtime.block_on(rtlab_server::run(config)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rtlab-server: {err}");
            ExitCode::FAILURE
        }
    }
}
