//! A `text/event-stream` parser (WHATWG HTML §9.2.5 "Parsing an event stream"), small enough to
//! read in one sitting, and lenient in every way the standard allows, so that the client can
//! measure servers other than ours.
//!
//! The format is lines, ended by `\r\n`, `\n` or a lone `\r` (all three may be mixed in one
//! stream). A line starting with `:` is a comment (servers send `:\n\n` as a heartbeat so that
//! idle connections and the proxies between stay open); any other line is `field: value` (at most
//! one space after the colon is dropped; `data:x` and `data: x` are the same; a line without a
//! colon is a field with an empty value), and a blank line ends the block and dispatches it.
//! The fields:
//!
//! - `data`: the payload; several `data` lines in one block are joined with `\n`. A block with no
//!   `data` line dispatches nothing ([`Block::Other`]).
//! - `id`: what `EventSource` sends back as `Last-Event-ID` when it reconnects; ignored when it
//!   contains a NUL, as the standard says.
//! - `event`: the event type (the contract's server sends none, i.e. `message`).
//! - `retry`: the reconnection time in ms, only when all ASCII digits ([`EventStreamParser::retry`]).
//! - anything else is ignored.
//!
//! A UTF-8 byte order mark at the very start of the stream is skipped.
//!
//! The parser is fed whatever the HTTP body delivers: usually one whole block per chunk, since the
//! server writes one chunk per event, but a block (even a `\r\n` pair or the BOM) may arrive
//! split anywhere. Whole blocks are parsed in place, borrowing from the received chunk, and only a
//! trailing partial block is copied aside, so the usual path allocates nothing. Every byte
//! received is attributed to exactly one block's `raw_len` (a BOM, or an `\n` that completes a
//! `\r\n` split across chunks, counts towards the next block), so the byte accounting stays exact.
//!
//! The line rules live in one place, [`Line::parse`] and the line-end search beside it, and serve
//! two readers: the incremental block parser above, which the SSE subscriber feeds, and
//! [`spanned_lines`], which reports every line of a recorded stream with its byte span so that the
//! wire tracer (`trace::sse`) can print each line of the bytes beside what it means.

use std::ops::Range;
use std::time::Duration;

/// The UTF-8 byte order mark, skipped once at the start of the stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block<'a> {
    /// A block with data: an event.
    Event {
        /// The `id` field, if any.
        id: Option<&'a [u8]>,
        /// The `event` field (the event type), if any.
        event: Option<&'a [u8]>,
        /// The `data` field(s), joined.
        data: &'a [u8],
    },
    /// Only comment lines: a heartbeat.
    Comment,
    /// Fields but no data (`retry:`, `event:` alone): nothing to dispatch.
    Other,
}

/// One line of an event stream, read by the standard's rules (without its line end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// The empty line: it ends the block and dispatches it.
    Blank,
    /// A line starting with `:`, ignored (the heartbeat); the text after the colon.
    Comment(&'a [u8]),
    /// `name: value`; a line without a colon is a field with an empty value.
    Field {
        /// What comes before the first colon (`data`, `id`, `event`, `retry` or anything else).
        name: &'a [u8],
        /// What comes after it, without the one optional space.
        value: &'a [u8],
    },
}

impl<'a> Line<'a> {
    /// Reads one line, given without its line end.
    pub fn parse(line: &'a [u8]) -> Line<'a> {
        match line.split_first() {
            None => Line::Blank,
            Some((&b':', comment)) => Line::Comment(comment),
            Some(_) => match line.iter().position(|&b| b == b':') {
                Some(i) => {
                    let value = &line[i + 1..];
                    Line::Field {
                        name: &line[..i],
                        value: value.strip_prefix(b" ").unwrap_or(value),
                    }
                }
                None => Line::Field {
                    name: line,
                    value: b"",
                },
            },
        }
    }
}

/// A line of a stream, with where its bytes lie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpannedLine<'a> {
    /// What the line says.
    pub line: Line<'a>,
    /// Its bytes in the stream, line end included (and, for the first line, a skipped BOM).
    pub span: Range<usize>,
    /// Whether its line end was seen: only the last line of the input can lack one.
    pub ended: bool,
}

/// Every line of a stream read from its first byte, with its byte span: for tools that explain
/// the bytes (the tracer) rather than consume the events. A leading BOM is skipped as the parser
/// skips it.
pub fn spanned_lines(stream: &[u8]) -> impl Iterator<Item = SpannedLine<'_>> {
    let bom = if stream.starts_with(BOM) {
        BOM.len()
    } else {
        0
    };
    lines_after(stream, bom)
}

/// The lines of `input` from offset `from`; the first span starts at 0 all the same.
fn lines_after(input: &[u8], from: usize) -> impl Iterator<Item = SpannedLine<'_>> {
    let mut start = 0;
    let mut pos = from;
    std::iter::from_fn(move || {
        let rest = input.get(pos..).filter(|rest| !rest.is_empty())?;
        let (len, end_len) = line_end(rest).unwrap_or((rest.len(), 0));
        let line = SpannedLine {
            line: Line::parse(&rest[..len]),
            span: start..pos + len + end_len,
            ended: end_len > 0,
        };
        (start, pos) = (line.span.end, line.span.end);
        Some(line)
    })
}

/// Where the first line of `input` ends: the line's length and its line end's (2 for `\r\n`, 1
/// for `\n` or a lone `\r`); `None` without a line end. A `\r` that is the last byte counts as a
/// line end of 1, though an `\n` may still follow it in the next chunk.
fn line_end(input: &[u8]) -> Option<(usize, usize)> {
    let i = input.iter().position(|&b| b == b'\n' || b == b'\r')?;
    let crlf = input[i] == b'\r' && input.get(i + 1) == Some(&b'\n');
    Some((i, if crlf { 2 } else { 1 }))
}

/// Incremental parser state: the partial block carried between chunks.
#[derive(Debug, Default)]
pub struct EventStreamParser {
    partial: Vec<u8>,
    scratch: Vec<u8>,
    scan: ScanState,
    /// The start of the stream was checked for a BOM.
    bom_checked: bool,
    /// The last valid `retry` field, in ms.
    retry_ms: Option<u64>,
}

/// What the line scanner carries from one chunk to the next.
#[derive(Debug, Default)]
struct ScanState {
    /// The last block ended with a `\r` at the very end of a chunk: an `\n` starting the next
    /// chunk belongs to it (a `\r\n` pair), not a blank line of its own.
    skip_lf: bool,
    /// Bytes consumed outside any block (BOM, such an `\n`), added to the next block's `raw_len`.
    carry: usize,
}

impl EventStreamParser {
    /// A parser with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes received but not yet part of a dispatched block: an incomplete block held back,
    /// plus any BOM or split `\r\n` half waiting to be counted with the next block.
    pub fn buffered(&self) -> usize {
        self.partial.len() + self.scan.carry
    }

    /// The reconnection time the server asked for with `retry:`, if it did.
    pub fn retry(&self) -> Option<Duration> {
        self.retry_ms.map(Duration::from_millis)
    }

    /// Feeds received bytes, calling `on_block(block, raw_len)` for every complete block
    /// (`raw_len`: its bytes in the stream, blank line included).
    pub fn feed<E>(
        &mut self,
        chunk: &[u8],
        mut on_block: impl FnMut(Block<'_>, usize) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut on_block = |block: Block<'_>, len: usize, retry: Option<u64>| {
            if retry.is_some() {
                self.retry_ms = retry;
            }
            on_block(block, len)
        };
        if self.bom_checked && self.partial.is_empty() {
            // The usual path: parse the chunk in place, copy aside only a trailing partial block.
            let consumed = scan(chunk, &mut self.scan, &mut self.scratch, &mut on_block)?;
            self.partial.extend_from_slice(&chunk[consumed..]);
            return Ok(());
        }
        self.partial.extend_from_slice(chunk);
        if !self.bom_checked {
            if self.partial.len() < BOM.len() && BOM.starts_with(&self.partial) {
                return Ok(()); // maybe a BOM, split across chunks
            }
            self.bom_checked = true;
            if self.partial.starts_with(BOM) {
                self.partial.drain(..BOM.len());
                self.scan.carry += BOM.len();
            }
        }
        let consumed = scan(
            &self.partial,
            &mut self.scan,
            &mut self.scratch,
            &mut on_block,
        )?;
        self.partial.drain(..consumed);
        Ok(())
    }
}

/// Dispatches the complete blocks of `input`; returns the bytes consumed.
fn scan<E>(
    input: &[u8],
    state: &mut ScanState,
    scratch: &mut Vec<u8>,
    on_block: &mut impl FnMut(Block<'_>, usize, Option<u64>) -> Result<(), E>,
) -> Result<usize, E> {
    let mut consumed = 0;
    if state.skip_lf && !input.is_empty() {
        state.skip_lf = false;
        if input[0] == b'\n' {
            consumed = 1;
            state.carry += 1;
        }
    }
    let mut pos = consumed;
    while let Some((len, end_len)) = line_end(&input[pos..]) {
        let line_is_blank = len == 0;
        let next = pos + len + end_len;
        if next == input.len() && input[next - 1] == b'\r' {
            // Whether an `\n` follows is unknown yet. Inside a block it does not matter (the
            // block is rescanned when more arrives); a blank line ends the block now.
            if !line_is_blank {
                break;
            }
            state.skip_lf = true;
        }
        if line_is_blank {
            let (block, retry) = parse_block(&input[consumed..pos], scratch);
            let raw_len = next - consumed + std::mem::take(&mut state.carry);
            on_block(block, raw_len, retry)?;
            consumed = next;
        }
        pos = next;
    }
    Ok(consumed)
}

fn parse_block<'a>(block: &'a [u8], scratch: &'a mut Vec<u8>) -> (Block<'a>, Option<u64>) {
    let mut id = None;
    let mut event = None;
    let mut retry = None;
    let mut data: Option<&'a [u8]> = None;
    let mut joined = false;
    let mut only_comments = true;
    for spanned in lines_after(block, 0) {
        let Line::Field { name, value } = spanned.line else {
            continue; // a comment (a block holds no blank line)
        };
        only_comments = false;
        match name {
            b"data" => match data {
                None => data = Some(value),
                Some(first) => {
                    if !joined {
                        scratch.clear();
                        scratch.extend_from_slice(first);
                        joined = true;
                    }
                    scratch.push(b'\n');
                    scratch.extend_from_slice(value);
                }
            },
            b"id" if !value.contains(&0) => id = Some(value),
            b"event" => event = Some(value),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // More digits than a u64 holds: keep the largest.
                retry = Some(
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(u64::MAX),
                );
            }
            _ => {}
        }
    }
    let block = match data {
        Some(d) => Block::Event {
            id,
            event,
            data: if joined { &scratch[..] } else { d },
        },
        None if only_comments => Block::Comment,
        None => Block::Other,
    };
    (block, retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(p: &mut EventStreamParser, chunk: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        p.feed::<()>(chunk, |b, len| {
            out.push((
                match b {
                    Block::Event { id, event, data } => format!(
                        "event id={}{} data={}",
                        String::from_utf8_lossy(id.unwrap_or(b"-")),
                        event
                            .map(|e| format!(" type={}", String::from_utf8_lossy(e)))
                            .unwrap_or_default(),
                        String::from_utf8_lossy(data)
                    ),
                    Block::Comment => "comment".into(),
                    Block::Other => "other".into(),
                },
                len,
            ));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn contract_blocks_and_heartbeats() {
        let mut p = EventStreamParser::new();
        let got = collect(&mut p, b"id: 7\ndata: {\"seq\":7}\n\n:\n\n");
        assert_eq!(
            got,
            [
                ("event id=7 data={\"seq\":7}".to_string(), 23),
                ("comment".to_string(), 3)
            ]
        );
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn split_blocks_are_reassembled() {
        let mut p = EventStreamParser::new();
        assert!(collect(&mut p, b"id: 1\nda").is_empty());
        assert_eq!(p.buffered(), 8);
        assert!(collect(&mut p, b"ta: x\n").is_empty());
        let got = collect(&mut p, b"\nid: 2\n");
        assert_eq!(got, [("event id=1 data=x".to_string(), 15)]);
        assert_eq!(p.buffered(), 6);
    }

    #[test]
    fn crlf_multi_data_no_space_and_other_fields() {
        let mut p = EventStreamParser::new();
        let got = collect(
            &mut p,
            b"data:a\r\ndata: b\r\nevent: x\r\n\r\nretry: 10\n\n: hello\n\n",
        );
        assert_eq!(got[0].0, "event id=- type=x data=a\nb");
        assert_eq!(got[1].0, "other");
        assert_eq!(got[2].0, "comment");
    }

    #[test]
    fn callback_errors_stop_the_feed() {
        let mut p = EventStreamParser::new();
        let r = p.feed(b"data: 1\n\ndata: 2\n\n", |_, _| Err("stop"));
        assert_eq!(r, Err("stop"));
    }

    /// Feeds `stream` in the given pieces; returns the blocks and checks that every byte was
    /// attributed to exactly one block.
    fn feed_pieces(pieces: &[&[u8]]) -> (Vec<String>, EventStreamParser) {
        let mut p = EventStreamParser::new();
        let mut out = Vec::new();
        let mut raw = 0;
        for piece in pieces {
            for (block, len) in collect(&mut p, piece) {
                out.push(block);
                raw += len;
            }
        }
        let total: usize = pieces.iter().map(|piece| piece.len()).sum();
        assert_eq!(raw + p.buffered(), total, "byte accounting of {pieces:?}");
        (out, p)
    }

    /// Every way of cutting `stream` in two, and byte by byte, gives `expected`.
    fn assert_any_split(stream: &[u8], expected: &[&str]) {
        for cut in 0..=stream.len() {
            let (got, _) = feed_pieces(&[&stream[..cut], &stream[cut..]]);
            assert_eq!(
                got,
                expected,
                "cut at {cut} of {:?}",
                String::from_utf8_lossy(stream)
            );
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        let (got, _) = feed_pieces(&bytes);
        assert_eq!(got, expected, "byte by byte");
    }

    #[test]
    fn lines_may_end_in_lf_crlf_or_cr_mixed() {
        for stream in [
            &b"data: a\n\ndata: b\n\n"[..],
            b"data: a\r\n\r\ndata: b\r\n\r\n",
            b"data: a\r\rdata: b\r\r",
            b"data: a\r\n\rdata: b\n\r\n",
        ] {
            assert_any_split(stream, &["event id=- data=a", "event id=- data=b"]);
        }
    }

    #[test]
    fn a_crlf_split_across_chunks_is_one_line_end() {
        let (got, p) = feed_pieces(&[b"data: a\r\n\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(got, ["event id=- data=a", "event id=- data=b"]);
        // The final `\n` waits to be counted with the next block.
        assert_eq!(p.buffered(), 1);
    }

    #[test]
    fn the_space_after_the_colon_is_optional_and_only_one_is_dropped() {
        assert_any_split(
            b"data:x\n\ndata: x\n\ndata:  x\n\ndata\n\n",
            &[
                "event id=- data=x",
                "event id=- data=x",
                "event id=- data= x",
                "event id=- data=",
            ],
        );
    }

    #[test]
    fn data_lines_are_joined_with_newlines() {
        assert_any_split(
            b"data: {\"a\":\ndata:1}\ndata\n\n",
            &["event id=- data={\"a\":\n1}\n"],
        );
    }

    #[test]
    fn id_event_and_retry_fields() {
        let (got, p) = feed_pieces(&[b"id: 42\nevent: tick\ndata: x\nretry: 2500\n\n"]);
        assert_eq!(got, ["event id=42 type=tick data=x"]);
        assert_eq!(p.retry(), Some(Duration::from_millis(2500)));

        // An id with NUL is ignored; a retry that is not all digits is ignored.
        let (got, p) = feed_pieces(&[b"id: 4\x002\nretry: 10ms\ndata: y\n\nretry: 7\n\n"]);
        assert_eq!(got, ["event id=- data=y", "other"]);
        assert_eq!(p.retry(), Some(Duration::from_millis(7)));
        let (_, p) = feed_pieces(&[b"retry: 1.5\n\nretry:\n\n"]);
        assert_eq!(p.retry(), None);

        // Unknown fields are ignored; a block with fields but no data dispatches nothing.
        assert_any_split(
            b"foo: bar\nevent: x\n\nfoo: bar\ndata: z\n\n",
            &["other", "event id=- data=z"],
        );
    }

    #[test]
    fn comments_anywhere() {
        assert_any_split(
            b": hello\n\n:\n\ndata: a\n: between\ndata: b\n\n",
            &["comment", "comment", "event id=- data=a\nb"],
        );
    }

    #[test]
    fn a_leading_bom_is_skipped_once() {
        assert_any_split(
            b"\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\ndata: c\n\n",
            // The second BOM is part of a field name `\u{feff}data`, which is unknown.
            &["event id=- data=a", "other", "event id=- data=c"],
        );
        // A stream that only starts like a BOM is not one.
        assert_any_split(
            b"\xEFdata: a\n\ndata: b\n\n",
            &["other", "event id=- data=b"],
        );
        assert_any_split(b"data: a\n\n", &["event id=- data=a"]);
    }

    #[test]
    fn lines_by_the_standards_rules() {
        assert_eq!(Line::parse(b""), Line::Blank);
        assert_eq!(Line::parse(b": hi"), Line::Comment(b" hi"));
        let field = |name: &'static [u8], value: &'static [u8]| Line::Field { name, value };
        assert_eq!(Line::parse(b"data: x"), field(b"data", b"x"));
        assert_eq!(Line::parse(b"data:x"), field(b"data", b"x"));
        assert_eq!(Line::parse(b"data:  x"), field(b"data", b" x"));
        assert_eq!(Line::parse(b"data"), field(b"data", b""));
        assert_eq!(Line::parse(b"id: a:b"), field(b"id", b"a:b"));
    }

    #[test]
    fn spanned_lines_cover_every_byte() {
        let stream = b"\xEF\xBB\xBFid: 1\r\ndata: a\r\n\r\n:\rdata:b\n\nda";
        let lines: Vec<SpannedLine<'_>> = spanned_lines(stream).collect();
        let spans: Vec<_> = lines.iter().map(|l| l.span.clone()).collect();
        assert_eq!(
            spans,
            [0..10, 10..19, 19..21, 21..23, 23..30, 30..31, 31..33]
        );
        assert_eq!(lines[0].line, Line::parse(b"id: 1"));
        assert_eq!(lines[2].line, Line::Blank);
        assert_eq!(lines[3].line, Line::Comment(b""));
        assert_eq!(lines[4].line, Line::parse(b"data:b"));
        assert!(lines[..6].iter().all(|l| l.ended));
        assert!(!lines[6].ended);
        assert_eq!(spanned_lines(b"").count(), 0);
    }

    #[test]
    fn the_contract_stream_split_anywhere() {
        assert_any_split(
            b"id: 1\ndata: {\"seq\":1}\n\n:\n\nid: 2\ndata: {\"seq\":2}\n\n",
            &[
                "event id=1 data={\"seq\":1}",
                "comment",
                "event id=2 data={\"seq\":2}",
            ],
        );
    }
}
