//! Which protocol half a subscriber task runs, chosen once per task by transport (and, for
//! SSE, HTTP version): the one `match` that the engine's steady run and churn's cycles share.
//!
//! Every protocol half implements the same `Subscriber` trait (`subscriber/mod.rs`), so the
//! choice is only which type the shared driving loop (`subscriber/drive.rs`) or the stalled
//! loop (`subscriber/stalled.rs`) is instantiated with. Keeping it here, below both callers,
//! lets `churn.rs` start subscribers without reaching back into the engine that runs it.

use std::sync::Arc;

use rtlab_wire::Transport;

use crate::config::HttpVersion;
use crate::subscriber::Outcome;
use crate::subscriber::ctx::Ctx;
use crate::subscriber::drive::drive;
use crate::subscriber::meter::Meter;
use crate::subscriber::stalled::drive_stalled;
use crate::transport::long_poll::LongPollSubscriber;
use crate::transport::short_poll::ShortPollSubscriber;
use crate::transport::sse::SseSubscriber;
use crate::transport::sse_h2::SseH2Subscriber;
use crate::transport::tcp::TcpSubscriber;
use crate::transport::ws::WsSubscriber;

/// Failed connects, with none succeeding, after which a run (or a churn) stops early with an
/// error instead of ramping thousands of doomed connections.
pub const FAIL_FAST_AFTER: u64 = 50;

/// One stalled subscriber task (`--stalled`; ws and sse only, as `RunConfig::validate` says).
pub(crate) async fn stalled_subscriber(ctx: Arc<Ctx>, meter: Meter) -> Outcome {
    match ctx.transport {
        Transport::Sse => drive_stalled::<SseSubscriber>(ctx, meter).await,
        _ => drive_stalled::<WsSubscriber>(ctx, meter).await,
    }
}

/// One subscriber task: the transport's protocol half driven by the shared loop.
pub(crate) async fn subscriber(ctx: Arc<Ctx>, meter: Meter) -> Outcome {
    match ctx.transport {
        Transport::Ws => drive::<WsSubscriber>(ctx, meter).await,
        Transport::Sse if ctx.http == HttpVersion::Http2 => {
            drive::<SseH2Subscriber>(ctx, meter).await
        }
        Transport::Sse => drive::<SseSubscriber>(ctx, meter).await,
        Transport::LongPoll => drive::<LongPollSubscriber>(ctx, meter).await,
        Transport::ShortPoll => drive::<ShortPollSubscriber>(ctx, meter).await,
        Transport::Tcp => drive::<TcpSubscriber>(ctx, meter).await,
    }
}
