//! Server-Sent Events on the wire: one response that never ends, in chunks, in lines.
//!
//! An SSE stream (WHATWG HTML §9.2) is a plain HTTP response with `Content-Type:
//! text/event-stream`. Its body is UTF-8 lines; a blank line dispatches the event built from the
//! lines before it:
//!
//! ```text
//! id: 42\n                                   ← remembered; sent back as Last-Event-ID on reconnect
//! data: {"seq":42,"ts":…,"data":"…"}\n     ← the event (several data: lines are joined by \n)
//! \n                                         ← dispatch
//! :\n\n                                      ← a comment: the heartbeat, ignored by EventSource
//! ```
//!
//! Because the response has no end, HTTP/1.1 sends it with chunked transfer coding, so each write
//! the server makes arrives as `<size in hex>\r\n<bytes>\r\n` (see [`super::http`]). The tracer
//! therefore shows two layers: the chunk framing (HTTP's) and the field lines (SSE's), and counts
//! each separately. Over HTTP/2 the chunk layer disappears (DATA frames take its place).

use std::time::Duration;

use http_body_util::BodyExt as _;

use super::hexdump::{escaped, truncate};
use super::http::{BodyFraming, Conn, Head, parse_chunk, print_head};
use super::recorder::{Direction, Recording};
use super::{NO_EVENTS_HINT, Out, Totals, TraceError, run_capture};
use crate::config::Target;

/// What one SSE line is, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `id: …`
    Id,
    /// `data: …`
    Data,
    /// `event: …`
    Event,
    /// `retry: …`
    Retry,
    /// `:…`, a comment (heartbeat).
    Comment,
    /// The empty line that dispatches an event.
    Dispatch,
    /// Anything else (ignored by EventSource).
    Other,
}

/// Classifies one SSE line (without its line end).
pub fn classify(line: &[u8]) -> LineKind {
    if line.is_empty() {
        LineKind::Dispatch
    } else if line.starts_with(b":") {
        LineKind::Comment
    } else if line.starts_with(b"data:") {
        LineKind::Data
    } else if line.starts_with(b"id:") {
        LineKind::Id
    } else if line.starts_with(b"event:") {
        LineKind::Event
    } else if line.starts_with(b"retry:") {
        LineKind::Retry
    } else {
        LineKind::Other
    }
}

/// The annotation printed beside a line of `kind`.
pub fn line_note(kind: LineKind) -> &'static str {
    match kind {
        LineKind::Id => "id field: EventSource keeps it and resends it as Last-Event-ID",
        LineKind::Data => "data field: the event JSON",
        LineKind::Event => "event type (default \"message\")",
        LineKind::Retry => "reconnection delay in ms for EventSource",
        LineKind::Comment => "comment: the heartbeat; EventSource ignores it",
        LineKind::Dispatch => "empty line: dispatch the event",
        LineKind::Other => "not an SSE field: ignored",
    }
}

/// Byte accounting of a decoded SSE body: payload (the JSON after `data: `), SSE field framing
/// (everything else belonging to an event), comments (heartbeats), and complete events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SseTally {
    /// Event JSON bytes.
    pub payload: usize,
    /// `id: N\n`, `data: `, `\n`, the dispatching `\n`.
    pub framing: usize,
    /// Comment lines (heartbeats) with their line ends and blank lines.
    pub comments: usize,
    /// Events dispatched (blocks with a `data:` line, ended by a blank line).
    pub events: usize,
}

/// Tallies a decoded (de-chunked) SSE body. Only complete lines count; a trailing partial line is
/// left out.
pub fn tally(decoded: &[u8]) -> SseTally {
    let mut t = SseTally::default();
    let mut block_has_data = false;
    let mut block_bytes = 0;
    let mut rest = decoded;
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..nl];
        let len = nl + 1;
        rest = &rest[len..];
        match classify(line) {
            LineKind::Data => {
                let value = line.get(5..).unwrap_or_default();
                let value = value.strip_prefix(b" ").unwrap_or(value);
                t.payload += value.len();
                block_bytes += len - value.len();
                block_has_data = true;
            }
            LineKind::Comment => t.comments += len,
            LineKind::Dispatch => {
                if block_has_data {
                    t.framing += block_bytes + len;
                    t.events += 1;
                } else {
                    t.comments += block_bytes + len;
                }
                block_has_data = false;
                block_bytes = 0;
            }
            _ => block_bytes += len,
        }
    }
    t
}

/// Annotates the chunked body of an SSE response chunk by chunk, showing at most `max_events`
/// event chunks in full (heartbeat chunks are always shown). Returns the chunk framing bytes and
/// the decoded body (for [`tally`]).
pub fn annotate_chunked(
    out: &mut Out,
    body: &[u8],
    max_events: usize,
) -> Result<(usize, Vec<u8>), TraceError> {
    let mut pos = 0;
    let mut decoded = Vec::new();
    let mut chunk_framing = 0;
    let mut shown_events = 0;
    let mut hidden = 0;
    let mut n = 0;
    while let Some(chunk) = parse_chunk(&body[pos..])? {
        n += 1;
        let raw = &body[pos..pos + chunk.len];
        let data = &raw[chunk.data.clone()];
        chunk_framing += chunk.overhead();
        decoded.extend_from_slice(data);
        pos += chunk.len;
        let has_event = data
            .split(|&b| b == b'\n')
            .any(|l| classify(l) == LineKind::Data);
        if has_event && shown_events >= max_events {
            hidden += 1;
            continue;
        }
        if has_event {
            shown_events += 1;
        }
        if chunk.size == 0 {
            out.section(&format!("chunk {n}: the last chunk ({} bytes)", chunk.len));
            out.line("  \"0\\r\\n\\r\\n\"  ← size 0: the body (and the stream) ends here");
            break;
        }
        out.section(&format!(
            "chunk {n}: {} bytes on the wire = {} B size line + {} B of SSE + 2 B CRLF",
            chunk.len,
            chunk.size_line.len(),
            chunk.size
        ));
        out.line(format!(
            "  {:<24}  ← chunk size in hex: 0x{:x} = {} bytes follow",
            format!("\"{}\"", escaped(&raw[chunk.size_line.clone()])),
            chunk.size,
            chunk.size
        ));
        let mut rest = data;
        while !rest.is_empty() {
            let (line, len) = match rest.iter().position(|&b| b == b'\n') {
                Some(nl) => (&rest[..nl], nl + 1),
                None => (rest, rest.len()),
            };
            let shown = format!("\"{}\"", truncate(&escaped(&rest[..len]), 70));
            let note = if len > line.len() {
                line_note(classify(line)).to_owned()
            } else {
                "(line continues in the next chunk)".to_owned()
            };
            out.line(format!("  {shown:<24}  ← {note}"));
            rest = &rest[len..];
        }
        out.line(format!("  {:<24}  ← end of chunk", "\"\\r\\n\""));
    }
    if hidden > 0 {
        out.blank();
        out.line(format!(
            "  … and {hidden} more event chunk(s) in the bytes already read, counted in the total"
        ));
    }
    Ok((chunk_framing, decoded))
}

/// Counts the complete events (blocks with a `data:` line ended by a blank line) in a decoded SSE
/// body; used to know when enough events have arrived.
pub fn count_events(decoded: &[u8]) -> usize {
    tally(decoded).events
}

/// Opens one SSE stream, reads `events` events, and prints every byte annotated.
pub async fn trace(target: &Target, events: usize, timeout: Duration) -> anyhow::Result<Out> {
    let mut out = Out::default();
    let rec = Recording::new();
    out.line(format!(
        "rtlab trace sse: one GET {} to {}; every byte below crossed the socket",
        target.path(rtlab_wire::paths::SSE),
        target.authority
    ));
    let mut conn = Conn::open(&target.authority, rec.clone(), timeout).await?;
    let capture = async {
        let resp = conn
            .get(
                &target.path(rtlab_wire::paths::SSE),
                &[
                    ("Accept", "text/event-stream"),
                    ("Cache-Control", "no-cache"),
                ],
            )
            .await?;
        if !resp.status().is_success() {
            anyhow::bail!("server answered {}", resp.status());
        }
        let mut body = resp.into_body();
        let mut decoded = Vec::new();
        while count_events(&decoded) < events {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        decoded.extend_from_slice(data);
                    }
                }
                Some(Err(e)) => anyhow::bail!("stream failed: {e}"),
                None => anyhow::bail!("server ended the stream"),
            }
        }
        anyhow::Ok(())
    };
    let note = run_capture(timeout, NO_EVENTS_HINT, capture).await;

    let sent = rec.stream(Direction::Sent);
    let received = rec.stream(Direction::Received);
    let mut totals = Totals::default();
    if let Some(request) = Head::parse(&sent)? {
        print_head(&mut out, "client → server: HTTP request head", &request);
        totals.head_bytes += request.len;
    }
    let Some(response) = Head::parse(&received)? else {
        out.line("  (no complete response head)");
        out.failure = note.or(Some("no response".into()));
        return Ok(out);
    };
    print_head(&mut out, "server → client: HTTP response head", &response);
    totals.head_bytes += response.len;
    let body = &received[response.len..];
    let (chunk_framing, decoded) = match response.body_framing() {
        BodyFraming::Chunked => annotate_chunked(&mut out, body, events)?,
        _ => {
            out.section("body (not chunked: HTTP/1.0 style, delimited by the connection)");
            for line in body.split_inclusive(|&b| b == b'\n').take(events * 3) {
                out.line(format!("  \"{}\"", truncate(&escaped(line), 90)));
            }
            (0, body.to_vec())
        }
    };
    let t = tally(&decoded);
    totals.framing_bytes += chunk_framing + t.framing;
    totals.control_bytes += t.comments;
    totals.payload_bytes += t.payload;
    totals.events += t.events;
    out.blank();
    out.line(format!(
        "per event: {} B SSE fields + {} B chunk framing around {} B of JSON (averages over {} events)",
        t.framing.checked_div(t.events).unwrap_or(0),
        chunk_framing.checked_div(t.events.max(1)).unwrap_or(0),
        t.payload.checked_div(t.events).unwrap_or(0),
        t.events
    ));
    if let Some(n) = note {
        out.line(format!("! {n}"));
        out.failure = (t.events == 0).then_some(n);
    }
    out.line(totals.line());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"id: 7\ndata: {\"seq\":7}\n\n:\n\nid: 8\ndata: {\"seq\":8}\n\nid: 9\nda";

    #[test]
    fn tally_splits_payload_framing_and_heartbeats() {
        let t = tally(BODY);
        assert_eq!(t.events, 2);
        assert_eq!(t.payload, 2 * br#"{"seq":7}"#.len());
        // Per event: "id: 7\n" (6) + "data: " (6) + "\n" (1) + "\n" (1) = 14 = 13 + digits(7).
        assert_eq!(t.framing, 2 * rtlab_wire::framing::sse_frame_overhead(7));
        assert_eq!(t.comments, 3);
    }

    #[test]
    fn lines_are_classified() {
        assert_eq!(classify(b"id: 1"), LineKind::Id);
        assert_eq!(classify(b"data: x"), LineKind::Data);
        assert_eq!(classify(b":"), LineKind::Comment);
        assert_eq!(classify(b""), LineKind::Dispatch);
        assert_eq!(classify(b"retry: 10"), LineKind::Retry);
        assert_eq!(classify(b"bogus"), LineKind::Other);
    }

    #[test]
    fn chunked_body_is_annotated_and_decoded() {
        let block = rtlab_wire::framing::sse_frame(7, br#"{"seq":7}"#);
        let mut body = format!("{:x}\r\n", block.len()).into_bytes();
        body.extend_from_slice(&block);
        body.extend_from_slice(b"\r\n3\r\n:\n\n\r\n");
        let mut out = Out::default();
        let (framing, decoded) = annotate_chunked(&mut out, &body, 5).unwrap();
        assert_eq!(
            framing,
            rtlab_wire::framing::chunk_overhead(block.len()) + 5
        );
        assert_eq!(tally(&decoded).events, 1);
        let text = out.into_string();
        assert!(text.contains("\"17\\r\\n\""), "{text}");
        assert!(text.contains("0x17 = 23 bytes follow"), "{text}");
        assert!(text.contains("\"id: 7\\n\""), "{text}");
        assert!(text.contains("heartbeat"), "{text}");
    }
}
