//! Short-polling subscriber: ask on a timer, whether or not anything happened.
//!
//! **What it costs.** The simplest thing that works anywhere: `GET /poll/short?after=N` every
//! `--poll-interval`, answered at once with whatever is newer (often `[]`). Latency is the wait
//! for the next poll, about half the interval on average plus a round trip, and every poll pays
//! a full request and response head whether it carries events or not: with events rarer than
//! polls most requests are wasted (the *empty-poll share*), with events more frequent each answer
//! carries a batch. The interval trades latency against requests, linearly; the lab's sweep shows
//! both.
//!
//! **How.** The same keep-alive hyper connection as long polling ([`HttpClient`]); polls start
//! on a fixed grid (`tokio::time::interval_at`, skipping missed ticks, as `setInterval` would);
//! the first poll, without `after`, is the set-up (it returns the latest event, which tells
//! where the feed is). The grid is *not* anchored at the subscriber's connect: each subscriber
//! has its own random phase, drawn from the run's seed ([`crate::poll_phase`]), because timers
//! that all start right after a burst of connects poll in lockstep with the server's ticker and
//! measure that coincidence instead of half an interval.

use bytes::Bytes;
use http::{Method, StatusCode};
use rtlab_wire::{Seq, paths};
use std::time::Instant;

use tokio::time::MissedTickBehavior;

use crate::subscriber::Subscriber;
use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::Meter;
use crate::transport::SubError;
use crate::transport::http::HttpClient;
use crate::transport::long_poll::{answer, open, open_first};

/// A subscriber on `GET /poll/short`.
pub struct ShortPollSubscriber {
    client: HttpClient,
    body: Vec<u8>,
    after: Seq,
}

impl Subscriber for ShortPollSubscriber {
    async fn connect(ctx: &Ctx, meter: &mut Meter) -> Result<Self, SubError> {
        let client = open_first(ctx, meter).await?;
        meter.connected();
        let mut s = Self {
            client,
            body: Vec::new(),
            after: 0,
        };
        // The first poll of a run asks for the latest event, which says where the feed is;
        // after a drop, the events after the last seq seen.
        let resume = meter.resume_after();
        let path = match resume {
            Some(n) => format!("{}?after={n}", ctx.target.path(paths::SHORT_POLL)),
            None => ctx.target.path(paths::SHORT_POLL),
        };
        let first = s
            .client
            .answer(Method::GET, &path, Bytes::new(), &mut s.body)
            .await?;
        if first.status != StatusCode::OK {
            return Err(SubError::Status(first.status.as_u16()));
        }
        meter.answered(first.epoch)?;
        s.after = answer(&s.body, meter, Default::default())?.max(resume.unwrap_or(0));
        if resume.is_none() && s.after > 0 {
            meter.expect_after(s.after);
        }
        meter.set_up_idle(0);
        Ok(s)
    }

    async fn receive(&mut self, ctx: &Ctx, meter: &mut Meter) -> Result<(), SubError> {
        let boundary = tokio::time::sleep_until(meter.boundary().into());
        tokio::pin!(boundary);
        // This subscriber's grid: the run's start + its phase + k × interval. `Skip` keeps missed
        // ticks on the same grid, so a busy moment does not shift the phase either.
        let first = ctx
            .poll_phases
            .next_poll(meter.id, ctx.clock.start, Instant::now());
        let mut ticks = tokio::time::interval_at(first.into(), ctx.poll_interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let base = ctx.target.path(paths::SHORT_POLL);
        loop {
            tokio::select! {
                biased;
                () = &mut boundary => {
                    if meter.cross(0) {
                        return Ok(());
                    }
                    boundary.as_mut().reset(meter.boundary().into());
                }
                _ = ticks.tick() => {
                    // A poll the server never answers must not outlive the run.
                    let deadline = meter.clock().late_answer_deadline();
                    let poll = self.poll(ctx, &base, meter);
                    match tokio::time::timeout_at(deadline.into(), poll).await {
                        Ok(Ok(true)) => return Ok(()),
                        Ok(Ok(false)) => {}
                        Ok(Err(e)) => return Err(e),
                        Err(_) => return Err(SubError::Closed("poll not answered".into())),
                    }
                }
            }
        }
    }
}

impl ShortPollSubscriber {
    /// One poll; `Ok(true)` when it crossed the end of the window.
    async fn poll(&mut self, ctx: &Ctx, base: &str, meter: &mut Meter) -> Result<bool, SubError> {
        if self.client.is_closed() {
            self.client = open(ctx, meter).await?;
            meter.tally.reconnects += 1;
        }
        let path = format!("{base}?after={}", self.after);
        let before = meter.bytes.snapshot();
        match self
            .client
            .answer(Method::GET, &path, Bytes::new(), &mut self.body)
            .await
            .map(|a| (a.status, a.epoch))
        {
            Ok((StatusCode::OK, epoch)) => {
                meter.answered(epoch)?;
                let spent = meter.bytes.snapshot().since(before);
                // An answer read after the boundary belongs to the next phase.
                let done = Instant::now() >= meter.boundary()
                    && meter.cross(usize::try_from(spent.down).unwrap_or(usize::MAX));
                self.after = answer(&self.body, meter, spent)?.max(self.after);
                // Draining: stop as soon as the window's last event is in.
                Ok(done || (meter.overdue() && meter.cross(0)))
            }
            Ok((status, _))
                if status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                meter.tally.error(format!("http {}", status.as_u16()));
                Ok(false)
            }
            Ok((status, _)) => Err(SubError::Status(status.as_u16())),
            // The connection closed under the poll; the next tick opens another and asks for
            // what was missed (`after`). That is a drop, timed to the next answer.
            Err(SubError::Closed(_)) if self.client.is_closed() => {
                meter.dropped();
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
