//! Opening a subscriber's own connection, timed step by step: the TCP dial, then (over TLS)
//! the TLS handshake, each its own figure in the report's split of time to first event
//! (`tcp_connect_us`, `tls_handshake_us`, then the HTTP set-up and the wait).
//!
//! Every protocol half opens its connections here, so that the two byte counters of a TLS
//! connection (below and above TLS, see `tls.rs`) and the two timings are set up the same way
//! for all of them.

use std::time::Instant;

use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::Meter;
use crate::tls::NetStream;
use crate::transport::SubError;
use crate::wire_counter::WireCounter;

/// Dials the server, records the dial, runs the TLS handshake if the target asks for TLS and
/// records that, and returns the connection with its counters in place: the protocol's bytes
/// into `meter.bytes`, the socket's into `meter.wire`. A subscriber about to stall dials with
/// its small receive buffer ([`Meter::recv_buffer_bytes`]).
pub async fn open_stream(ctx: &Ctx, meter: &mut Meter) -> Result<WireCounter<NetStream>, SubError> {
    let tcp = ctx.dial(meter.recv_buffer_bytes()).await?;
    meter.tcp_connected();
    let started = Instant::now();
    let stream = ctx
        .secure(tcp, meter.bytes.clone(), meter.wire.clone())
        .await?;
    if ctx.tls.is_some() {
        meter.tls_connected(started.elapsed());
    }
    meter.tally.connections += 1;
    Ok(stream)
}
