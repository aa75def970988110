//! The raw-TCP baseline on the wire: nothing but the events.
//!
//! The baseline listener writes every event as its JSON and a `\n` the moment a client connects:
//! no request, no handshake, no headers, one byte of framing per event. It is not a web transport
//! (a browser cannot open it), but it is the floor: whatever a web transport costs beyond these
//! bytes is the price of speaking HTTP and of the browser's security model.

use std::time::Duration;

use tokio::io::AsyncReadExt as _;

use super::hexdump::{escaped, hexdump_head, truncate};
use super::recorder::{Direction, Recording};
use super::tls::TraceLink;
use super::{NO_EVENTS_HINT, Out, Totals, run_capture};
use crate::config::Target;

/// Connects to the baseline listener, reads `lines` events and prints them.
pub async fn trace(
    target: &Target,
    link: &TraceLink,
    lines: usize,
    timeout: Duration,
) -> anyhow::Result<Out> {
    let mut out = Out::default();
    let rec = Recording::new();
    out.line(format!(
        "rtlab trace tcp: one TCP connection to {}; no request is sent, the server just writes",
        target.authority
    ));
    let tcp = link.open(&target.authority, timeout).await?;
    let mut tap = rec.tap(tcp);
    let capture = async {
        let mut buf = [0u8; 4096];
        loop {
            let seen = rec
                .stream(Direction::Received)
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            if seen >= lines {
                break;
            }
            if tap.read(&mut buf).await? == 0 {
                anyhow::bail!("server closed after {seen} lines");
            }
        }
        anyhow::Ok(())
    };
    let note = run_capture(timeout, NO_EVENTS_HINT, capture).await;
    link.describe(&mut out, &rec);
    let received = rec.stream(Direction::Received);
    let mut totals = Totals::default();
    for (i, line) in received
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
        .enumerate()
    {
        totals.events += 1;
        totals.payload_bytes += line.len() - 1;
        totals.framing_bytes += 1;
        if i >= lines {
            continue;
        }
        out.section(&format!(
            "server → client: line {} ({} bytes = {} B of event JSON + 1 B \\n)",
            i + 1,
            line.len(),
            line.len() - 1
        ));
        if i == 0 {
            for row in hexdump_head(line, "  ", 8) {
                out.line(row);
            }
        } else {
            out.line(format!("  \"{}\"", truncate(&escaped(line), 100)));
        }
    }
    out.blank();
    out.line("no handshake and no headers: the only framing is the newline after each event");
    if let Some(n) = note {
        out.line(format!("! {n}"));
        out.failure = (totals.events == 0).then_some(n);
    }
    out.line(totals.line());
    Ok(out)
}
