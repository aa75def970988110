//! `rtlab-server`: the binary edge. Parses flags, starts [`rtlab_server::spawn`], announces the
//! bound addresses on stdout, and shuts down gracefully on SIGINT/SIGTERM.
//!
//! Run with `cargo run -p rtlab-server -- --rate 10` and watch with
//! `curl -N 127.0.0.1:8080/sse`. The one stdout line, `listening http=ADDR tcp=ADDR`, is the
//! machine-readable contract with the lab runner (it starts the server on port 0); everything else
//! goes to stderr through `tracing` (`RUST_LOG=debug` for more).

use std::io::{IsTerminal, Write};

use anyhow::Context;
use clap::Parser;
use rtlab_server::Config;
use rtlab_server::shutdown::ShutdownSignals;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(run(config))
}

async fn run(config: Config) -> anyhow::Result<()> {
    // Listen for signals before announcing ourselves, so an early SIGTERM is still graceful.
    let mut signals = ShutdownSignals::new().context("installing signal handlers")?;
    let server = rtlab_server::spawn(config)
        .await
        .context("starting the server")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "listening http={} tcp={}",
            server.http_addr(),
            server.tcp_addr()
        )?;
        out.flush()?;
    }
    let signal = signals.recv().await;
    tracing::info!(signal, "shutting down");
    server.shutdown().await.context("shutting down")?;
    tracing::info!("bye");
    Ok(())
}
