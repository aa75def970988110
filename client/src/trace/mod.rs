//! Wire tracer (placeholder: being written). Opens one real connection and prints, annotated,
//! every byte that crossed.

use rtlab_wire::Transport;

/// Arguments of `rtlab-client trace`.
#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// Transport to trace.
    pub transport: Transport,
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
}

/// Runs the tracer.
pub async fn run(args: TraceArgs) -> anyhow::Result<()> {
    anyhow::bail!("trace {} is not written yet", args.transport)
}
