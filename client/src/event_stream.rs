//! A `text/event-stream` parser (WHATWG HTML §9.2.5), small enough to read in one sitting.
//!
//! The format is lines. A line starting with `:` is a comment (servers send `:\n\n` as a
//! heartbeat so that idle connections and the proxies between stay open); any other line is
//! `field: value` (one optional space after the colon), and a blank line ends the block and
//! dispatches it. Only two fields matter here: `data` (several `data` lines are joined with
//! `\n`) and `id` (what `EventSource` sends back as `Last-Event-ID` when it reconnects). Lines
//! may end in `\n` or `\r\n`.
//!
//! The parser is fed whatever the HTTP body delivers: usually one whole block per chunk, since the
//! server writes one chunk per event, but a block may arrive split. Whole blocks are parsed in
//! place, borrowing from the received chunk, and only a trailing partial block is copied aside,
//! so the usual path allocates nothing.

/// One dispatched block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block<'a> {
    /// A block with data: an event.
    Event {
        /// The `id` field, if any.
        id: Option<&'a [u8]>,
        /// The `data` field(s), joined.
        data: &'a [u8],
    },
    /// Only comment lines: a heartbeat.
    Comment,
    /// Fields but no data (`retry:`, `event:` alone): nothing to dispatch.
    Other,
}

/// Incremental parser state: the partial block carried between chunks.
#[derive(Debug, Default)]
pub struct EventStreamParser {
    partial: Vec<u8>,
    scratch: Vec<u8>,
}

impl EventStreamParser {
    /// A parser with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of an incomplete block held back.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Feeds received bytes, calling `on_block(block, raw_len)` for every complete block
    /// (`raw_len`: its bytes in the stream, blank line included).
    pub fn feed<E>(
        &mut self,
        chunk: &[u8],
        mut on_block: impl FnMut(Block<'_>, usize) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.partial.is_empty() {
            let consumed = scan(chunk, &mut self.scratch, &mut on_block)?;
            self.partial.extend_from_slice(&chunk[consumed..]);
        } else {
            self.partial.extend_from_slice(chunk);
            let consumed = scan(&self.partial, &mut self.scratch, &mut on_block)?;
            self.partial.drain(..consumed);
        }
        Ok(())
    }
}

/// Dispatches the complete blocks of `input`; returns the bytes consumed.
fn scan<E>(
    input: &[u8],
    scratch: &mut Vec<u8>,
    on_block: &mut impl FnMut(Block<'_>, usize) -> Result<(), E>,
) -> Result<usize, E> {
    let mut consumed = 0;
    let mut pos = 0;
    while let Some(nl) = input[pos..].iter().position(|&b| b == b'\n') {
        let line_end = pos + nl;
        let line = strip_cr(&input[pos..line_end]);
        if line.is_empty() {
            let block = &input[consumed..pos];
            on_block(parse_block(block, scratch), line_end + 1 - consumed)?;
            consumed = line_end + 1;
        }
        pos = line_end + 1;
    }
    Ok(consumed)
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_block<'a>(block: &'a [u8], scratch: &'a mut Vec<u8>) -> Block<'a> {
    let mut id = None;
    let mut data: Option<&'a [u8]> = None;
    let mut joined = false;
    let mut only_comments = true;
    for line in block.split(|&b| b == b'\n').map(strip_cr) {
        if line.is_empty() || line[0] == b':' {
            continue;
        }
        only_comments = false;
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
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
            b"id" => id = Some(value),
            _ => {}
        }
    }
    match data {
        Some(d) => Block::Event {
            id,
            data: if joined { &scratch[..] } else { d },
        },
        None if only_comments => Block::Comment,
        None => Block::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(p: &mut EventStreamParser, chunk: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        p.feed::<()>(chunk, |b, len| {
            out.push((
                match b {
                    Block::Event { id, data } => format!(
                        "event id={} data={}",
                        String::from_utf8_lossy(id.unwrap_or(b"-")),
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
        assert_eq!(got[0].0, "event id=- data=a\nb");
        assert_eq!(got[1].0, "other");
        assert_eq!(got[2].0, "comment");
    }

    #[test]
    fn callback_errors_stop_the_feed() {
        let mut p = EventStreamParser::new();
        let r = p.feed(b"data: 1\n\ndata: 2\n\n", |_, _| Err("stop"));
        assert_eq!(r, Err("stop"));
    }
}
