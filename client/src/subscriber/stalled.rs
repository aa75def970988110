//! A stalled subscriber: one that stops reading after its first event and holds its socket
//! open, the "slow consumer" every fan-out server must survive (`--stalled N`).
//!
//! **What the server should do.** The contract gives each streaming subscriber a bounded queue
//! (`--subscriber-queue` events). A client that stops reading first fills the kernel's buffers
//! (its own receive buffer, the server's send buffer), then the server's queue; when that is
//! full the server cuts it: a WebSocket gets close `1008 lagging`, an SSE stream simply ends.
//! Nobody else should slow down, and the server's memory should stay bounded by the queue.
//!
//! **A small receive window.** Left to the kernel's defaults, the "kernel's buffers" above are
//! huge on loopback: the stalled client's receive buffer autotunes upwards while it still
//! reads, and the server's send buffer grows (`net.ipv4.tcp_wmem`, up to 4 MiB) into the window
//! the client advertised, so some 12 MB are swallowed before the server's queue holds a single
//! event, and at the lab's ~100 KB/s the stalled one is not cut within a minute. A real slow
//! client (a phone on a weak link, a busy browser tab) advertises a small window instead. So the
//! stalled subscriber asks for a [`STALLED_RECV_BUFFER_BYTES`] receive buffer *before it
//! connects* (the SYN's window scale is chosen from it) and announces an Ethernet MSS (the
//! server's kernel sizes its send buffer in multiples of the peer's MSS, 64 KiB on loopback):
//! its window stays a few KiB, the server's send buffer has no window to grow into, and it is
//! the queue bound, not the kernel's buffers, that decides when it is cut. What it received
//! before the cut is what those small buffers held (the server drops its queue at the cut).
//!
//! **How it is observed.** The stalled subscriber connects like any other and reads until its
//! first event; then it reads *nothing* until the window is over (the socket stays open, so the
//! server sees a peer whose window is closed, not a disconnect). After the window it reads what
//! the kernel kept for it, to the end: the events the server managed to send before the cut,
//! then the close frame (or the stream's end). So the report can say whether it was cut, how
//! (its [`end_kind`]), and after how many events, to compare with the queue bound. A stalled
//! subscriber records no latency, connect or first-event sample in the run's histograms (its
//! meter writes to a throwaway shard, see `engine.rs`), and is neither `connected` nor
//! `completed`: the healthy subscribers' figures are theirs alone.

use std::sync::Arc;

use crate::clock::DRAIN_MIN;
use crate::ending::{StalledEnd, end_kind};
use crate::subscriber::ctx::Ctx;
use crate::subscriber::drive::connect_in_time;
use crate::subscriber::meter::Meter;
use crate::subscriber::{End, Outcome, Subscriber};
use crate::tally::Tally;

/// The receive buffer (`SO_RCVBUF`) a stalled subscriber asks for: a slow client's small
/// window (Linux doubles it for its bookkeeping).
pub const STALLED_RECV_BUFFER_BYTES: u32 = 4 * 1024;

/// Runs stalled subscriber `meter.id` of type `S`: connect, first event, stall until the
/// window's end, then read what is buffered until the server's cut (at most [`DRAIN_MIN`]).
pub async fn drive_stalled<S: Subscriber>(ctx: Arc<Ctx>, mut meter: Meter) -> Outcome {
    meter.stop_at_first_event();
    meter.use_recv_buffer(STALLED_RECV_BUFFER_BYTES);
    let (mut sub, mut meter) = match connect_in_time::<S>(&ctx, meter).await {
        Ok(connected) => connected,
        Err(outcome) => return outcome,
    };
    let live = meter.live().clone();
    live.ever_connected
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let end = |cut, meter: &Meter, not_stalled| Outcome {
        tally: Tally::default(),
        end: End::Stalled(StalledEnd {
            cut,
            events: meter.events_seen(),
            last_seq: meter.last_seq(),
            not_stalled,
        }),
        lost_at_unix_ns: None,
    };
    // Read until the first event (the meter stops there), but not past the window.
    if !meter.seen_first_event() {
        let first =
            tokio::time::timeout_at(ctx.clock.window_end.into(), sub.receive(&ctx, &mut meter))
                .await;
        let why = match first {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("lost before its first event: {e}")),
            Err(_) => Some("no event before the window's end".into()),
        };
        if let Some(why) = why {
            return end(None, &meter, Some(why));
        }
    }
    // Stall: the socket stays open and unread for the rest of the window.
    tokio::time::sleep_until(ctx.clock.window_end.into()).await;
    // Then read what the kernel kept, to the server's cut or for at most DRAIN_MIN.
    meter.read_on_after_end();
    let rest = tokio::time::timeout_at(
        (ctx.clock.window_end + DRAIN_MIN).into(),
        sub.receive(&ctx, &mut meter),
    )
    .await;
    // A WebSocket's cut is told by its close frame, code and reason ("1008 lagging", not
    // "1008 ping timeout"); a stream's by how it ended.
    let cut = match rest {
        Ok(Err(e)) => Some(
            meter
                .close_frame()
                .unwrap_or_else(|| end_kind(ctx.transport, &e, None)),
        ),
        Ok(Ok(())) | Err(_) => None,
    };
    end(cut, &meter, None)
}
