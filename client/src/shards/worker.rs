//! The shard's side: read a [`ShardSpec`] on stdin, measure that part of the run, answer on
//! stdout.
//!
//! This is what `rtlab-client shard-worker` (and the lab runner's `rtlab client-shard`) run. The
//! shard does exactly what one unsharded process does for its subscribers, through the same
//! [`measure`] (`engine.rs`), and stops short of the report: it answers with the raw material
//! ([`ShardOutcome`]) so that the parent can merge exactly. Every failure, even an unreadable
//! spec, is an answer too (`Err` with one line), so the parent can always say why; stdout
//! carries nothing else.

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::protocol::{ShardAnswer, ShardOutcome, ShardSpec};
use crate::engine::measure;

/// Reads a spec from `input` (to its end), runs it, and writes the answer to `output`. Fails
/// only when the answer cannot be written.
pub async fn serve(
    mut input: impl AsyncRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let answer = answer(&mut input).await;
    let mut json = serde_json::to_vec(&answer).map_err(std::io::Error::other)?;
    json.push(b'\n');
    output.write_all(&json).await?;
    output.flush().await
}

/// [`serve`] on this process's stdin and stdout.
pub async fn serve_stdio() -> std::io::Result<()> {
    serve(tokio::io::stdin(), tokio::io::stdout()).await
}

async fn answer(input: &mut (impl AsyncRead + Unpin)) -> ShardAnswer {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("cannot read the shard spec on stdin: {e}"))?;
    let spec: ShardSpec =
        serde_json::from_slice(&bytes).map_err(|e| format!("bad shard spec on stdin: {e}"))?;
    measure(&spec.config, spec.part)
        .await
        .map(ShardOutcome::from)
        .map_err(|e| e.to_string())
}
