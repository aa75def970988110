//! Subscribers: one per connection, one trait, one measuring instrument, one driving loop.
//!
//! The pipeline is oha's: the engine spawns one subscriber task per connection; each subscriber
//! produces plain samples and counters; the collector merges them. A subscriber is two halves:
//!
//! - the **protocol half**, under `transport/` (`ws.rs`, `sse.rs`, …): it implements
//!   [`Subscriber`], connects, speaks its protocol, and hands everything it receives to the
//!   meter. It knows nothing of windows, drains or reports;
//! - the **measuring half**, here: [`meter`] (what is measured, the same for all transports;
//!   [`population`] decides which events' latencies are timed),
//!   [`ctx`] (what all subscribers of a run share), [`open`] (a subscriber's own connection:
//!   the dial, then TLS, each timed), and [`drive`], the loop that runs one
//!   subscriber from connect to its end and owns what every subscriber repeats there: the
//!   connect deadline, its POST publisher, closing the meter's books after the drain, and
//!   handing its [`Outcome`] over; and, when a connection drops, [`reconnect`] (with the waits
//!   of [`backoff`]) brings it back, resuming after the last seq seen, which [`resume`] judges
//!   at the seam (and by the feed's epoch).
//!
//! What is measured:
//!
//! - every event goes through `Meter::event`: seq bookkeeping, latency (receive wall clock −
//!   `ts`), payload bytes, the analytic framing the protocol should have cost, and recognition
//!   of the subscriber's own publishes;
//! - the subscriber's bytes are counted at its socket (`WireCounter`) and split in phases by
//!   snapshots the meter takes: **set-up** (the handshake or first response, and anything read
//!   along with it), **warm-up**, the measured **window**, and the **drain** after it (the
//!   window's last events still arriving; counted for delivery and latency, not for bytes).
//!
//! **Why phase changes wait for an idle moment.** For the measured framing to equal the analytic
//! framing *exactly*, every byte of an event must fall in the same phase as the event itself.
//! Bytes are counted when the socket is read; events are counted when they are parsed, a little
//! later, and hyper or tungstenite may already have read the next event into their buffers. So a
//! subscriber crosses a phase boundary only when its parser has just asked for more and been
//! told "nothing yet" (the stream returned `Pending`): at that moment every byte read has been
//! turned into events. The tcp and sse subscribers, which own their buffers, instead subtract
//! the bytes still buffered, which is exact at any moment. A long poll waiting for its answer is
//! idle only until the answer's first bytes arrive; after that the boundary waits for the whole
//! answer and puts all of it on the far side. Under saturation a WebSocket stream may have no
//! idle moment, so its boundary is forced `FORCE_CROSS_AFTER` late (`meter.rs`), and exactness
//! may then be off by the bytes tungstenite had read of the next frame (at most one event:
//! visible with 64 KiB events at saturation, never at the lab's usual sizes and rates).

pub mod backoff;
pub mod ctx;
pub mod drive;
pub mod meter;
pub mod open;
pub mod population;
pub mod reconnect;
pub mod resume;
pub mod stalled;

use std::future::Future;

use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::Meter;
use crate::tally::Tally;
use crate::transport::SubError;

/// A way of receiving the feed: the protocol half of a subscriber.
pub trait Subscriber: Sized + Send {
    /// Whether publishes travel over the subscriber's own connection (WebSocket), rather than
    /// by `POST /publish` on a second one.
    const PUBLISHES_ITSELF: bool = false;

    /// Connects and completes set-up, ending with `Meter::set_up` (or `set_up_idle`).
    fn connect(ctx: &Ctx, meter: &mut Meter)
    -> impl Future<Output = Result<Self, SubError>> + Send;

    /// Receives until the meter's phase is `Phase::Done` (`Ok`; that is after the drain) or
    /// the connection fails. Not called when set-up already ended past the drain; the driving
    /// loop closes the meter afterwards either way.
    fn receive(
        &mut self,
        ctx: &Ctx,
        meter: &mut Meter,
    ) -> impl Future<Output = Result<(), SubError>> + Send;

    /// Bytes read from the socket but not yet turned into events, when receiving stops: they
    /// belong to no phase (see the module docs).
    fn unconsumed(&self) -> usize {
        0
    }

    /// Ends a subscriber that completed its run politely (a WebSocket close frame). Its bytes
    /// fall after the window and are not counted.
    fn close(self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// How one subscriber ended.
#[derive(Debug)]
pub enum End {
    /// Stayed to the end of the window.
    Completed,
    /// Never finished set-up.
    ConnectFailed(SubError),
    /// Lost after set-up.
    Lost(SubError),
    /// A subscriber that stopped reading after its first event (`--stalled`), and how the
    /// server cut it (see [`stalled`]).
    Stalled(crate::ending::StalledEnd),
}

/// One subscriber's result, handed to the collector.
#[derive(Debug)]
pub struct Outcome {
    /// Counters.
    pub tally: Tally,
    /// How it ended.
    pub end: End,
    /// When a subscriber that ended `Lost` lost its connection, ns since the Unix epoch, if not
    /// when its outcome is handed over (it tried to reconnect in between); `None` otherwise.
    pub lost_at_unix_ns: Option<u64>,
}
