//! Polling on the wire: the same two heads, again and again.
//!
//! A poll is an ordinary request/response pair on a keep-alive connection:
//!
//! ```text
//! GET /poll/long?after=41&timeout_ms=10000 HTTP/1.1   ┐ request head: paid on every poll
//! Host: 127.0.0.1:8080                                ┘
//! HTTP/1.1 200 OK                                     ┐ response head: paid on every poll
//! Content-Length: 52 …                                ┘
//! [{"seq":42,"ts":…,"data":"…"}]                      ← the events, as a JSON array
//! ```
//!
//! **Long polling** parks the request on the server until an event after `after` exists, so an
//! event is delivered about as fast as on a stream, but each answer costs a full round trip of
//! heads, and the events published while the next request is on its way are batched into it.
//! **Short polling** answers at once, usually `[]`: latency is up to one interval, and the heads
//! are paid even for empty answers. The trace shows both heads of several consecutive polls, with
//! the time each one waited, so the cost is plain to see.

use std::time::Duration;

use rtlab_wire::{EventView, Transport};

use super::hexdump::{escaped, truncate};
use super::http::{BodyFraming, Conn, Head, parse_chunk, print_head};
use super::recorder::{Direction, Recording};
use super::tls::TraceLink;
use super::{Out, Totals, TraceError, run_capture};
use crate::config::Target;

/// The long-poll timeout the tracer asks for (well under the contract's maximum of 60 000 ms).
pub const LONG_POLL_TIMEOUT_MS: u64 = 10_000;

/// One response found in a received byte stream.
#[derive(Debug, Clone)]
pub struct Response {
    /// Its head.
    pub head: Head,
    /// Offset of the head in the stream.
    pub start: usize,
    /// The decoded body.
    pub body: Vec<u8>,
    /// Bytes of chunk framing in the body (0 with `Content-Length`).
    pub chunk_framing: usize,
    /// Bytes of the whole response on the wire.
    pub len: usize,
}

/// Splits a stream of back-to-back HTTP responses (keep-alive) into responses. Stops at the first
/// incomplete one.
pub fn split_responses(stream: &[u8]) -> Result<Vec<Response>, TraceError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(head) = Head::parse(&stream[pos..])? {
        let body_start = pos + head.len;
        let (body, chunk_framing, end) = match head.body_framing() {
            BodyFraming::None => (Vec::new(), 0, body_start),
            BodyFraming::ContentLength(n) => match stream.get(body_start..body_start + n) {
                Some(b) => (b.to_vec(), 0, body_start + n),
                None => break,
            },
            BodyFraming::Chunked => {
                let mut at = body_start;
                let mut body = Vec::new();
                let mut framing = 0;
                let mut done = false;
                while let Some(c) = parse_chunk(&stream[at..])? {
                    body.extend_from_slice(&stream[at + c.data.start..at + c.data.end]);
                    framing += c.overhead();
                    at += c.len;
                    if c.size == 0 {
                        done = true;
                        break;
                    }
                }
                if !done {
                    break;
                }
                (body, framing, at)
            }
            BodyFraming::UntilClose => (stream[body_start..].to_vec(), 0, stream.len()),
        };
        out.push(Response {
            head,
            start: pos,
            body,
            chunk_framing,
            len: end - pos,
        });
        pos = end;
        if pos >= stream.len() {
            break;
        }
    }
    Ok(out)
}

/// Splits a stream of back-to-back GET request heads (no bodies).
pub fn split_requests(stream: &[u8]) -> Result<Vec<(usize, Head)>, TraceError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(head) = Head::parse(&stream[pos..])? {
        let len = head.len;
        out.push((pos, head));
        pos += len;
    }
    Ok(out)
}

/// Payload and framing of a poll body: the events' JSON bytes and the array's `[`, `,`, `]`.
/// Returns `(events, payload_bytes, array_bytes)`.
pub fn body_bytes(body: &[u8]) -> Result<(usize, usize, usize), TraceError> {
    let events = EventView::parse_array(body).map_err(|e| TraceError::Http(e.to_string()))?;
    let overhead = rtlab_wire::framing::json_array_overhead(events.len());
    Ok((
        events.len(),
        body.len().saturating_sub(overhead),
        overhead.min(body.len()),
    ))
}

/// Runs `polls` polls of `kind` on one keep-alive connection and prints both heads of each,
/// annotated, with the time each answer took.
pub async fn trace(
    target: &Target,
    link: &TraceLink,
    kind: Transport,
    polls: usize,
    interval: Duration,
    timeout: Duration,
) -> anyhow::Result<Out> {
    let long = kind == Transport::LongPoll;
    let mut out = Out::default();
    let rec = Recording::new();
    out.line(format!(
        "rtlab trace {kind}: {polls} polls on one keep-alive connection to {}; every byte below crossed the socket",
        target.authority
    ));
    if long {
        out.line(format!(
            "each request parks on the server until an event after `after` exists (or {LONG_POLL_TIMEOUT_MS} ms pass)"
        ));
    } else {
        out.line(format!(
            "one request every {interval:?}; the server answers at once, with whatever is new"
        ));
    }
    let mut conn = Conn::open(&target.authority, link, rec.clone(), timeout).await?;
    let path = target.path(if long {
        rtlab_wire::paths::LONG_POLL
    } else {
        rtlab_wire::paths::SHORT_POLL
    });
    let capture = async {
        let mut after: Option<u64> = None;
        for i in 0..polls {
            let path = match (long, after) {
                (true, Some(a)) => {
                    format!("{path}?after={a}&timeout_ms={LONG_POLL_TIMEOUT_MS}")
                }
                (true, None) => format!("{path}?timeout_ms={LONG_POLL_TIMEOUT_MS}"),
                (false, Some(a)) => format!("{path}?after={a}"),
                (false, None) => path.clone(),
            };
            if !long && i > 0 {
                tokio::time::sleep(interval).await;
            }
            let (status, body) = conn.get_all(&path).await?;
            if status != 200 {
                anyhow::bail!(
                    "{path} answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            let events = EventView::parse_array(&body)?;
            if let Some(last) = events.last() {
                after = Some(last.seq);
            } else if after.is_none() && !long {
                after = Some(0);
            }
        }
        anyhow::Ok(())
    };
    let note = run_capture(timeout, "", capture).await;
    link.describe(&mut out, &rec);

    let sent = rec.stream(Direction::Sent);
    let received = rec.stream(Direction::Received);
    let requests = split_requests(&sent)?;
    let responses = split_responses(&received)?;
    let mut totals = Totals::default();
    let mut empty = 0;
    for (i, (req_at, req)) in requests.iter().enumerate() {
        out.blank();
        out.line(format!("════ poll {} of {} ════", i + 1, requests.len()));
        print_head(&mut out, "client → server: request head", req);
        totals.head_bytes += req.len;
        let Some(resp) = responses.get(i) else {
            out.line("  (no complete response)");
            continue;
        };
        let t_req = rec.time_of(Direction::Sent, *req_at).unwrap_or_default();
        let t_resp = rec
            .time_of(Direction::Received, resp.start)
            .unwrap_or_default();
        print_head(&mut out, "server → client: response head", &resp.head);
        totals.head_bytes += resp.head.len;
        totals.framing_bytes += resp.chunk_framing;
        let (events, payload, array) = body_bytes(&resp.body).unwrap_or((0, 0, resp.body.len()));
        if events == 0 {
            empty += 1;
        }
        totals.events += events;
        totals.payload_bytes += payload;
        totals.framing_bytes += array;
        out.section(&format!(
            "body: {} bytes = {events} event(s), {payload} B of event JSON + {array} B of [ , ]",
            resp.body.len()
        ));
        out.line(format!("  \"{}\"", truncate(&escaped(&resp.body), 100)));
        out.line(format!(
            "  answered {:.1} ms after the request was sent{}",
            t_resp.saturating_sub(t_req).as_secs_f64() * 1e3,
            if long && events > 0 {
                ": the request was parked until the event existed"
            } else if long {
                ": nothing happened before the timeout"
            } else {
                ""
            }
        ));
        out.line(format!(
            "  this poll: {} B of heads for {payload} B of events",
            req.len + resp.head.len
        ));
    }
    out.blank();
    out.line(format!(
        "{} requests, {} empty answers: every poll pays both heads again ({} B per poll on average)",
        requests.len(),
        empty,
        totals.head_bytes.checked_div(requests.len()).unwrap_or(0)
    ));
    if let Some(n) = note {
        out.line(format!("! {n}"));
        out.failure = Some(n);
    }
    out.line(totals.line());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_to_back_responses_split() {
        let stream = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[{},{\r\n2\r\n}]\r\n0\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n[";
        let rs = split_responses(stream).unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].body, b"[]");
        assert_eq!(rs[1].body, b"[{},{}]");
        // "5\r\n" + "\r\n", "2\r\n" + "\r\n", and the last chunk "0\r\n\r\n".
        assert_eq!(rs[1].chunk_framing, 5 + 5 + 5);
        assert_eq!(rs[1].start, rs[0].len);
    }

    #[test]
    fn requests_split() {
        let stream = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        let rs = split_requests(stream).unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[1].0, 28);
        assert_eq!(rs[1].1.start_line, "GET /b HTTP/1.1");
    }

    #[test]
    fn body_accounting() {
        let body = br#"[{"seq":1,"ts":2,"data":"a"},{"seq":2,"ts":2,"data":"b"}]"#;
        let (n, payload, array) = body_bytes(body).unwrap();
        assert_eq!((n, array), (2, 3));
        assert_eq!(payload, body.len() - 3);
        assert_eq!(body_bytes(b"[]").unwrap(), (0, 0, 2));
        assert!(body_bytes(b"nope").is_err());
    }
}
