//! Reconnecting after a dropped connection, until it works or it is time to give up.
//!
//! Real clients do not die with their connection: a browser's `EventSource` reconnects by itself
//! and sends `Last-Event-ID`, and every serious WebSocket or polling client library has a retry
//! loop. A load generator that stops at the first drop measures something no user sees, and
//! cannot measure the thing users do see when a server restarts or a node behind a proxy dies:
//! how long until events flow again, and whether any were lost on the way. So by default a
//! subscriber whose connection drops (the server closes or resets it, answers an error status,
//! or refuses the next connect) comes back here: it waits a jittered, growing time
//! (`backoff.rs`), connects again through its transport's ordinary `connect`, which asks to
//! resume after the last seq seen (`resume.rs`), and carries on receiving. It gives up after
//! `--reconnect-give-up-ms` without success, or when the run is over, and is then lost exactly
//! as it would have been without reconnecting (`--no-reconnect`).
//!
//! What is *not* a drop: the end of the run, a churn cycle's own disconnect, a stalled
//! subscriber (none of them return an error from `receive`); and a server that does not speak
//! the contract (a protocol error) or a TLS failure, which a retry cannot mend.
//!
//! A new connection that finds the feed restarted (another epoch, `feed_epoch.rs`) is not a
//! failure either: the subscriber subscribes again at once, live, without waiting.

use std::time::Instant;

use crate::clock::DRAIN_MAX;
use crate::subscriber::Subscriber;
use crate::subscriber::backoff::Backoff;
use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::Meter;
use crate::transport::SubError;

/// Whether a subscriber that ended with `e` should try to reconnect: a connection that broke or
/// was refused, yes; a server that does not speak the contract, or a TLS failure, no.
pub fn worth_reconnecting(e: &SubError) -> bool {
    !matches!(e, SubError::Protocol(_) | SubError::Tls(_))
}

/// After the connection of subscriber `meter.id` dropped with `dropped`: reconnects with
/// backoff and returns the new connection, or gives up and returns the error the outage began
/// with (the reason the subscriber is lost, as without reconnecting).
pub async fn reconnect<S: Subscriber>(
    ctx: &Ctx,
    meter: &mut Meter,
    dropped: SubError,
) -> Result<S, SubError> {
    let Some(give_up) = ctx.reconnect_give_up else {
        return Err(dropped);
    };
    meter.dropped();
    let connections_before = meter.tally.connections;
    let result = attempt::<S>(ctx, meter, give_up, &dropped).await;
    meter.tally.resume.connections += meter.tally.connections - connections_before;
    match result {
        Some(sub) => Ok(sub),
        None => {
            meter.tally.resume.gave_up += 1;
            Err(dropped)
        }
    }
}

/// Waits and connects until a connection is back (`Some`) or it is time to give up (`None`).
async fn attempt<S: Subscriber>(
    ctx: &Ctx,
    meter: &mut Meter,
    give_up: std::time::Duration,
    dropped: &SubError,
) -> Option<S> {
    // Not past the give-up time, nor past the run: the window's last events may still be
    // worth a reconnect during the drain, but not after its longest possible end.
    let deadline = (Instant::now() + give_up).min(ctx.clock.window_end + DRAIN_MAX);
    let mut backoff = Backoff::new(ctx.run_id ^ meter.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // A feed that restarted under a live connection is answered at once, without waiting.
    let mut wait_first = !matches!(dropped, SubError::FeedRestarted);
    loop {
        if wait_first {
            let at = Instant::now() + backoff.next_wait();
            if at >= deadline {
                break;
            }
            tokio::time::sleep_until(at.into()).await;
        }
        wait_first = true;
        let connect_by = (Instant::now() + ctx.connect_timeout).min(deadline);
        match tokio::time::timeout_at(connect_by.into(), S::connect(ctx, meter)).await {
            Ok(Ok(sub)) => {
                meter.reconnected();
                return Some(sub);
            }
            // The feed restarted: subscribe again now, live (the meter has started over).
            Ok(Err(SubError::FeedRestarted)) => wait_first = false,
            Ok(Err(e)) if !worth_reconnecting(&e) => {
                meter.tally.error(e.kind());
                break;
            }
            Ok(Err(e)) => meter.tally.error(e.kind()),
            Err(_) => meter.tally.error(SubError::ConnectTimeout.kind()),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_retry_can_mend_is_retried_and_nothing_else() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for e in [
            SubError::Closed("connection reset by peer".into()),
            SubError::Connect(refused),
            SubError::ConnectTimeout,
            SubError::Status(502),
            SubError::Lagging,
            SubError::FeedRestarted,
        ] {
            assert!(worth_reconnecting(&e), "{e}");
        }
        for e in [
            SubError::Protocol("binary frame".into()),
            SubError::Tls("unknown issuer".into()),
        ] {
            assert!(!worth_reconnecting(&e), "{e}");
        }
    }
}
