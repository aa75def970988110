//! Long-polling subscriber: ask, wait for the answer, ask again at once.
//!
//! **Why it re-requests.** Plain HTTP cannot push: the server may only answer a request. Long
//! polling makes the server *hold* the request (park it) until it has something newer than the
//! `after` the client names, answers, and the client immediately asks again with the newest seq
//! it has. Nothing is lost between two requests, because the server keeps a history and `after`
//! says where to resume, and latency stays near one network round trip when events are rare.
//! When events are frequent, every few events pay a full request and response head (hundreds of
//! bytes), and while a request is in flight back to the client, new events wait for the next
//! request: under load, answers carry batches. The timeout (`timeout_ms`) answers `[]` now and
//! then so that idle connections and proxies stay healthy.
//!
//! **How.** A keep-alive hyper connection over the counted socket ([`HttpClient`]), HTTP/1.1
//! or HTTP/2 (each poll a new stream, its head HPACK-compressed); the bytes of each
//! request/response pair are a snapshot difference. There is no set-up beyond the TCP
//! connect: the first request (without `after`) waits for the next new event, which may be
//! the subscribers' own publish, so it cannot be a precondition of the run.

use std::pin::pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use rtlab_wire::{Seq, paths};

use crate::config::HttpVersion;
use crate::subscriber::Subscriber;
use crate::subscriber::ctx::Ctx;
use crate::subscriber::meter::{Meter, Phase};
use crate::subscriber::open::open_stream;
use crate::tls::ALPN_H2;
use crate::transport::http::HttpClient;
use crate::transport::{SubError, parse_event};
use crate::wire_counter::Bytes2;

/// Pause before retrying after the server refused a poll (429, 503).
const BACKOFF: Duration = Duration::from_millis(50);
/// How soon a boundary is looked at again while an answer is arriving.
const RECHECK: Duration = Duration::from_millis(1);

/// A subscriber on `GET /poll/long`.
pub struct LongPollSubscriber {
    client: HttpClient,
    body: Vec<u8>,
    /// Newest seq received; `None` until the first event (then polls ask for "the next new
    /// event", as the contract's `after`-less request does).
    after: Option<Seq>,
    /// The next poll is the first after a reconnect: it asks with `timeout_ms=0`, so that its
    /// answer (and the feed epoch in it) comes at once, even from a restarted server whose feed
    /// has not reached `after` and would park the poll for the whole timeout.
    probe: bool,
}

impl Subscriber for LongPollSubscriber {
    async fn connect(ctx: &Ctx, meter: &mut Meter) -> Result<Self, SubError> {
        let client = open_first(ctx, meter).await?;
        // No handshake: the first poll (without `after`) may wait for an event that only the
        // subscribers' own publishes will create, so it is part of the steady state.
        meter.set_up_idle(0);
        // After a drop, resume after the last seq seen.
        let after = meter.resume_after();
        Ok(Self {
            client,
            body: Vec::new(),
            after,
            probe: after.is_some(),
        })
    }

    async fn receive(&mut self, ctx: &Ctx, meter: &mut Meter) -> Result<(), SubError> {
        let boundary = tokio::time::sleep_until(meter.boundary().into());
        tokio::pin!(boundary);
        let base = ctx.target.path(paths::LONG_POLL);
        loop {
            let timeout_ms = if std::mem::take(&mut self.probe) {
                0
            } else {
                ctx.long_poll_timeout.as_millis()
            };
            if self.client.is_closed() {
                self.client = open(ctx, meter).await?;
                meter.tally.reconnects += 1;
            }
            let path = match self.after {
                Some(after) => format!("{base}?after={after}&timeout_ms={timeout_ms}"),
                None => format!("{base}?timeout_ms={timeout_ms}"),
            };
            let before = meter.bytes.snapshot();
            let result = {
                let mut request =
                    pin!(
                        self.client
                            .answer(Method::GET, &path, Bytes::new(), &mut self.body)
                    );
                loop {
                    tokio::select! {
                        biased;
                        r = &mut request => break r,
                        // A parked request is an idle moment: cross the boundary now, the
                        // answer will fall in the new phase with its events. But once the
                        // answer has started to arrive (a 64 KiB event takes several reads) it
                        // is not idle: its first bytes would fall before the boundary and its
                        // events after. Then wait for the whole answer, which crosses below
                        // with all its bytes on the far side.
                        () = &mut boundary => {
                            let answering = meter.bytes.snapshot().down > before.down;
                            if answering && meter.phase() != Phase::Drain {
                                let retry = tokio::time::Instant::now() + RECHECK;
                                boundary.as_mut().reset(retry);
                                continue;
                            }
                            if meter.cross(0) {
                                return Ok(());
                            }
                            boundary.as_mut().reset(meter.boundary().into());
                        }
                    }
                }
            };
            match result.map(|a| (a.status, a.epoch)) {
                Ok((StatusCode::OK, epoch)) => {
                    meter.answered(epoch)?;
                    let spent = meter.bytes.snapshot().since(before);
                    // An answer read after the boundary belongs to the next phase: cross
                    // first, leaving its bytes on the far side.
                    let done = Instant::now() >= meter.boundary()
                        && meter.cross(usize::try_from(spent.down).unwrap_or(usize::MAX));
                    let highest = answer(&self.body, meter, spent)?;
                    if highest > 0 {
                        self.after = Some(highest.max(self.after.unwrap_or(0)));
                    }
                    if done {
                        return Ok(());
                    }
                }
                Ok((status, _))
                    if status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::SERVICE_UNAVAILABLE =>
                {
                    meter.tally.error(format!("http {}", status.as_u16()));
                    tokio::time::sleep(BACKOFF).await;
                }
                Ok((status, _)) => return Err(SubError::Status(status.as_u16())),
                Err(SubError::Closed(_)) if !self.client.is_closed() => {
                    return Err(SubError::Closed("poll connection failed".into()));
                }
                // The connection closed under the poll: open another next time round, and ask
                // for what was missed (`after`). That is a drop, timed to the next answer.
                Err(SubError::Closed(_)) => meter.dropped(),
                Err(e) => return Err(e),
            }
            if meter.overdue() && meter.cross(0) {
                return Ok(());
            }
        }
    }
}

/// Opens this subscriber's first poll connection (or its first after a drop): its own, or with
/// `--streams-per-connection` above 1 a stream on its group's HTTP/2 connection (`h2_pool.rs`).
pub(crate) async fn open_first(ctx: &Ctx, meter: &mut Meter) -> Result<HttpClient, SubError> {
    // Reconnecting after a drop, it opens its own: the group's connection is likely the one
    // that dropped (as for any connection re-opened after the server closed it).
    if !ctx.h2_pool.is_shared() || meter.in_outage() {
        return open(ctx, meter).await;
    }
    let id = meter.id;
    let shared = ctx.h2_pool.client(id, || open(ctx, meter));
    let (client, _owner) = tokio::time::timeout(ctx.connect_timeout, shared)
        .await
        .unwrap_or(Err(SubError::ConnectTimeout))?;
    Ok(client)
}

/// Opens a poll connection of this subscriber's own: dial, TLS, and hyper's handshake for the
/// run's HTTP version (HTTP/2 only if the server agreed to it in ALPN).
pub(crate) async fn open(ctx: &Ctx, meter: &mut Meter) -> Result<HttpClient, SubError> {
    let open = async {
        let io = open_stream(ctx, meter).await?;
        if ctx.http == HttpVersion::Http2 && io.get_ref().alpn() != Some(ALPN_H2) {
            return Err(SubError::Protocol(
                "the server did not agree to HTTP/2 (ALPN h2)".into(),
            ));
        }
        HttpClient::handshake(io, &ctx.target, ctx.http).await
    };
    tokio::time::timeout(ctx.connect_timeout, open)
        .await
        .unwrap_or(Err(SubError::ConnectTimeout))
}

/// Decodes a poll answer (a JSON array of events), records its events and bytes, and returns
/// the highest seq in it (0 when empty).
pub(crate) fn answer(body: &[u8], meter: &mut Meter, spent: Bytes2) -> Result<Seq, SubError> {
    let raw: Vec<&serde_json::value::RawValue> = serde_json::from_slice(body).map_err(|e| {
        SubError::Protocol(format!("poll answer is not a JSON array of events: {e}"))
    })?;
    meter.poll_answered(spent, body.len(), raw.len());
    let mut highest = 0;
    for r in raw {
        let json = r.get().as_bytes();
        let ev = parse_event(json, "an event of a poll answer")?;
        highest = highest.max(ev.seq);
        meter.event(&ev, json.len(), None);
    }
    Ok(highest)
}
