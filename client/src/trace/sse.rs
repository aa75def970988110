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
use super::http::{
    BodyChunk, BodyFraming, Conn, REQUEST_HEAD, RESPONSE_HEAD, parse_chunk, print_recorded_head,
};
use super::recorder::{Direction, Recording};
use super::tls::TraceLink;
use super::{NO_EVENTS_HINT, Out, Totals, TraceError, run_capture};
use crate::config::Target;
use crate::event_stream::{Block, EventStreamParser, Line, SpannedLine, spanned_lines};

/// What one SSE line is, and what it means: the annotation's categories of the lines that
/// [`crate::event_stream`] reads.
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
    /// Any other field (ignored by EventSource).
    Other,
}

impl LineKind {
    /// The kind of a line the event-stream parser read.
    pub fn of(line: &Line<'_>) -> LineKind {
        match line {
            Line::Blank => LineKind::Dispatch,
            Line::Comment(_) => LineKind::Comment,
            Line::Field { name, .. } => match *name {
                b"data" => LineKind::Data,
                b"id" => LineKind::Id,
                b"event" => LineKind::Event,
                b"retry" => LineKind::Retry,
                _ => LineKind::Other,
            },
        }
    }
}

/// Classifies one SSE line (without its line end).
pub fn classify(line: &[u8]) -> LineKind {
    LineKind::of(&Line::parse(line))
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
    for spanned in spanned_lines(decoded).filter(|l| l.ended) {
        let len = spanned.span.len();
        match spanned.line {
            Line::Field {
                name: b"data",
                value,
            } => {
                t.payload += value.len();
                block_bytes += len - value.len();
                block_has_data = true;
            }
            Line::Comment(_) => t.comments += len,
            Line::Blank => {
                if block_has_data {
                    t.framing += block_bytes + len;
                    t.events += 1;
                } else {
                    t.comments += block_bytes + len;
                }
                block_has_data = false;
                block_bytes = 0;
            }
            Line::Field { .. } => block_bytes += len,
        }
    }
    t
}

/// One chunk of the body, placed in both byte streams.
struct PlacedChunk {
    /// Where the chunk starts in the body (offsets in `chunk` are relative to it).
    at: usize,
    chunk: BodyChunk,
    /// Where its data lies in the decoded (de-chunked) body.
    data: std::ops::Range<usize>,
}

/// The chunk layer: the whole chunks of `body` up to the last one, and the decoded body.
fn dechunk(body: &[u8]) -> Result<(Vec<PlacedChunk>, Vec<u8>), TraceError> {
    let mut chunks = Vec::new();
    let mut decoded = Vec::new();
    let mut at = 0;
    while let Some(chunk) = parse_chunk(&body[at..])? {
        let start = decoded.len();
        decoded.extend_from_slice(&body[at + chunk.data.start..at + chunk.data.end]);
        let (len, last) = (chunk.len, chunk.size == 0);
        chunks.push(PlacedChunk {
            at,
            chunk,
            data: start..decoded.len(),
        });
        at += len;
        if last {
            break;
        }
    }
    Ok((chunks, decoded))
}

/// Annotates the chunked body of an SSE response chunk by chunk, showing at most `max_events`
/// event chunks in full (heartbeat chunks are always shown). Returns the chunk framing bytes and
/// the decoded body (for [`tally`]).
///
/// The two layers are read separately: first the chunks (HTTP's), then the lines of the decoded
/// body (SSE's, by [`crate::event_stream`]'s rules); each chunk then shows the pieces of the lines
/// that its data holds, so a line cut by a chunk boundary is shown in both chunks.
pub fn annotate_chunked(
    out: &mut Out,
    body: &[u8],
    max_events: usize,
) -> Result<(usize, Vec<u8>), TraceError> {
    let (chunks, decoded) = dechunk(body)?;
    let chunk_framing = chunks.iter().map(|c| c.chunk.overhead()).sum();
    let lines: Vec<SpannedLine<'_>> = spanned_lines(&decoded).collect();
    let mut shown_events = 0;
    let mut hidden = 0;
    for (i, PlacedChunk { at, chunk, data }) in chunks.iter().enumerate() {
        let n = i + 1;
        let first = lines.partition_point(|l| l.span.end <= data.start);
        let here: Vec<&SpannedLine<'_>> = lines[first..]
            .iter()
            .take_while(|l| l.span.start < data.end)
            .collect();
        let has_event = here
            .iter()
            .any(|l| LineKind::of(&l.line) == LineKind::Data && data.contains(&l.span.start));
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
        let size_line = &body[at + chunk.size_line.start..at + chunk.size_line.end];
        out.line(format!(
            "  {:<24}  ← chunk size in hex: 0x{:x} = {} bytes follow",
            format!("\"{}\"", escaped(size_line)),
            chunk.size,
            chunk.size
        ));
        for line in here {
            let piece = line.span.start.max(data.start)..line.span.end.min(data.end);
            let shown = format!("\"{}\"", truncate(&escaped(&decoded[piece]), 70));
            let note = if line.ended && line.span.end <= data.end {
                line_note(LineKind::of(&line.line))
            } else {
                "(line continues in the next chunk)"
            };
            out.line(format!("  {shown:<24}  ← {note}"));
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

/// Opens one SSE stream, reads `events` events, and prints every byte annotated.
pub async fn trace(
    target: &Target,
    link: &TraceLink,
    events: usize,
    timeout: Duration,
) -> anyhow::Result<Out> {
    let mut out = Out::default();
    let rec = Recording::new();
    out.line(format!(
        "rtlab trace sse: one GET {} to {}; every byte below crossed the socket",
        target.path(rtlab_wire::paths::SSE),
        target.authority
    ));
    let mut conn = Conn::open(&target.authority, link, rec.clone(), timeout).await?;
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
        // The load generator's own parser says when enough events have arrived.
        let mut parser = EventStreamParser::new();
        let mut seen = 0;
        while seen < events {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        parser.feed::<anyhow::Error>(data, |block, _| {
                            seen += usize::from(matches!(block, Block::Event { .. }));
                            Ok(())
                        })?;
                    }
                }
                Some(Err(e)) => anyhow::bail!("stream failed: {e}"),
                None => anyhow::bail!("server ended the stream"),
            }
        }
        anyhow::Ok(())
    };
    let note = run_capture(timeout, NO_EVENTS_HINT, capture).await;
    link.describe(&mut out, &rec);

    let sent = rec.stream(Direction::Sent);
    let received = rec.stream(Direction::Received);
    let mut totals = Totals::default();
    print_recorded_head(&mut out, REQUEST_HEAD, &sent, &mut totals)?;
    let Some(response) = print_recorded_head(&mut out, RESPONSE_HEAD, &received, &mut totals)?
    else {
        out.line("  (no complete response head)");
        out.failure = note.or(Some("no response".into()));
        return Ok(out);
    };
    let body = &received[response.len..];
    let (chunk_framing, decoded) = match response.body_framing() {
        BodyFraming::Chunked => annotate_chunked(&mut out, body, events)?,
        _ => {
            out.section("body (not chunked: HTTP/1.0 style, delimited by the connection)");
            for line in spanned_lines(body).take(events * 3) {
                out.line(format!(
                    "  \"{}\"",
                    truncate(&escaped(&body[line.span]), 90)
                ));
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

    #[test]
    fn lines_follow_the_parsers_rules_across_chunks() {
        // CRLF line ends, and a data line cut by a chunk boundary: read as the client reads them.
        let mut body = b"9\r\nid: 1\r\nda\r\n".to_vec();
        body.extend_from_slice(b"9\r\nta: x\r\n\r\n\r\n");
        let mut out = Out::default();
        let (framing, decoded) = annotate_chunked(&mut out, &body, 5).unwrap();
        assert_eq!(framing, 10);
        let t = tally(&decoded);
        assert_eq!((t.events, t.payload), (1, 1));
        assert_eq!(t.framing + t.payload, decoded.len());
        let text = out.into_string();
        // Whether some line shows `shown` annotated with `note`.
        let annotated = |shown: &str, note: &str| {
            text.lines()
                .any(|l| l.trim_start().starts_with(shown) && l.ends_with(note))
        };
        assert!(
            annotated("\"da\"", "(line continues in the next chunk)"),
            "{text}"
        );
        assert!(
            annotated("\"ta: x\\r\\n\"", "data field: the event JSON"),
            "{text}"
        );
        assert!(
            annotated("\"\\r\\n\"", "empty line: dispatch the event"),
            "{text}"
        );
        assert_eq!(classify(b"data"), LineKind::Data);
    }
}
