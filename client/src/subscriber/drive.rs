//! The driving loop: one subscriber from its connect to the hand-over of its results.
//!
//! Every transport's subscriber does the same things around its protocol: it must connect
//! within the connect timeout, start its POST publisher if it publishes over a second
//! connection, receive until the meter says the drain is over, close the meter's books (the
//! window's bytes, the undecided seqs, the seq verdicts) whether it ended well or not, wait for
//! its publisher and add what it sent, and turn the way it ended into an [`Outcome`]. [`drive`]
//! does all of that once, generically; the protocol halves under `transport/` only connect and
//! receive. A connection that drops is, by default, not the end: the loop hands it to
//! `reconnect.rs` and carries on receiving on the new one. This is the `tokio::select!` loop's
//! other half in actix's chat examples: the per-connection task, with the protocol factored out.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::task::JoinHandle;

use crate::ending::end_kind;
use crate::publish::PostPublisher;
use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::{Meter, Phase};
use crate::subscriber::reconnect::{reconnect, worth_reconnecting};
use crate::subscriber::{End, Outcome, Subscriber};
use crate::tally::PublishTally;
use crate::transport::SubError;

/// Connects subscriber `meter.id` of type `S` within the connect timeout (and before the window
/// ends), or hands back the failed subscriber's outcome.
pub(crate) async fn connect_in_time<S: Subscriber>(
    ctx: &Ctx,
    mut meter: Meter,
) -> Result<(S, Meter), Outcome> {
    let deadline = (Instant::now() + ctx.connect_timeout).min(ctx.clock.window_end);
    match tokio::time::timeout_at(deadline.into(), S::connect(ctx, &mut meter)).await {
        Ok(Ok(s)) => Ok((s, meter)),
        Ok(Err(e)) => Err(failed(meter, e)),
        Err(_) => Err(failed(meter, SubError::ConnectTimeout)),
    }
}

/// Runs subscriber `meter.id` of type `S` from connect to the end of its drain, reconnecting
/// after drops (`reconnect.rs`) unless the run says not to.
pub async fn drive<S: Subscriber>(ctx: Arc<Ctx>, meter: Meter) -> Outcome {
    let (mut sub, mut meter) = match connect_in_time::<S>(&ctx, meter).await {
        Ok(connected) => connected,
        Err(outcome) => return outcome,
    };
    let live = meter.live().clone();
    live.connected.fetch_add(1, Ordering::Relaxed);
    live.ever_connected.fetch_add(1, Ordering::Relaxed);

    let publisher = if S::PUBLISHES_ITSELF {
        None
    } else {
        spawn_post_publisher(&ctx, &meter)
    };

    let mut lost_at = None;
    let result = loop {
        // Set-up may have ended past the whole drain (a subscriber connecting very late).
        let received = if meter.phase() == Phase::Done {
            Ok(())
        } else {
            sub.receive(&ctx, &mut meter).await
        };
        let Err(e) = received else { break Ok(()) };
        // Every drop is counted by kind, whether the subscriber comes back from it or not.
        meter.tally.error(e.kind());
        if ctx.reconnect_give_up.is_none() || !worth_reconnecting(&e) {
            break Err(e);
        }
        let dropped_at = Instant::now();
        live.connected.fetch_sub(1, Ordering::Relaxed);
        match reconnect::<S>(&ctx, &mut meter, e).await {
            Ok(new) => {
                live.connected.fetch_add(1, Ordering::Relaxed);
                sub = new;
            }
            Err(e) => {
                // It is lost since the drop, not since it gave up.
                lost_at = Some(meter.clock().unix_nanos(dropped_at));
                live.connected.fetch_add(1, Ordering::Relaxed);
                break Err(e);
            }
        }
    };
    meter.finish(sub.unconsumed());
    if result.is_ok() {
        sub.close().await;
    }
    live.connected.fetch_sub(1, Ordering::Relaxed);
    if let Some(p) = publisher
        && let Some(t) = join_publisher(&ctx, p, result.is_err()).await
    {
        meter.tally.publish.sent += t.sent;
        meter.tally.publish.bytes_up += t.bytes_up;
        for (k, v) in t.errors {
            *meter.tally.errors.entry(k).or_default() += v;
        }
    }
    // Where this subscriber's stream ended, and how (see `ending.rs`).
    *meter.tally.last_seqs.entry(meter.last_seq()).or_default() += 1;
    if meter.tally.lost > 0 {
        meter.tally.subscribers_with_gaps += 1;
    }
    let end = match result {
        Ok(()) => End::Completed,
        Err(e) => {
            let kind = end_kind(ctx.transport, &e, meter.close_code());
            *meter.tally.close_codes.entry(kind).or_default() += 1;
            End::Lost(e)
        }
    };
    Outcome {
        tally: std::mem::take(&mut meter.tally),
        end,
        lost_at_unix_ns: lost_at,
    }
}

/// Starts this subscriber's `POST /publish` publisher on a second connection, if the run
/// publishes and has an HTTP side.
fn spawn_post_publisher(ctx: &Ctx, meter: &Meter) -> Option<JoinHandle<PublishTally>> {
    let (target, addr) = ctx.control.as_ref()?;
    let schedule = ctx.publish_schedule(meter.id)?;
    let p = PostPublisher {
        target: target.clone(),
        addr: *addr,
        conn_index: ctx.next_conn_index(),
        conn_total: ctx.conn_total(),
        handshake: ctx.handshake,
        tls: ctx.control_tls.clone(),
        prefix: meter.own_prefix().unwrap_or_default().to_owned(),
        schedule,
        window: (ctx.clock.window_start, ctx.clock.window_end),
        clock: ctx.clock,
    };
    Some(tokio::spawn(p.run()))
}

/// Waits for the publisher (stopping it first if the subscriber was lost), but not past the
/// clock's late-answer deadline.
async fn join_publisher(
    ctx: &Ctx,
    mut p: JoinHandle<PublishTally>,
    lost: bool,
) -> Option<PublishTally> {
    if lost {
        p.abort();
    }
    let deadline = ctx.clock.late_answer_deadline();
    match tokio::time::timeout_at(deadline.into(), &mut p).await {
        Ok(joined) => joined.ok(),
        Err(_) => {
            p.abort();
            None
        }
    }
}

/// The outcome of a subscriber that never finished set-up.
pub(crate) fn failed(mut meter: Meter, e: SubError) -> Outcome {
    meter.finish(0);
    meter.tally.error(e.kind());
    Outcome {
        tally: std::mem::take(&mut meter.tally),
        end: End::ConnectFailed(e),
        lost_at_unix_ns: None,
    }
}
