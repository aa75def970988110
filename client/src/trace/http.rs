//! HTTP/1.1 as bytes: message heads, body framing and chunked transfer coding (RFC 9112).
//!
//! Every transport but raw TCP starts with an HTTP/1.1 *head*: a start line (`GET /sse HTTP/1.1`
//! or `HTTP/1.1 200 OK`), header lines, each ended by CRLF, and an empty line. What follows
//! depends on how the body is framed (RFC 9112 §6.3):
//!
//! - `Content-Length: N`: exactly N bytes. The poll answers use this; the connection can then carry
//!   the next request (keep-alive), which is why a poll's cost is its heads, again and again.
//! - `Transfer-Encoding: chunked`: a body of unknown length, sent as chunks `<size in hex>\r\n`
//!   `<size bytes>\r\n`, ended by a zero-size chunk. An SSE stream never ends, so it is chunked,
//!   and every event pays the size line and the CRLF.
//! - `101 Switching Protocols`: no body at all; the connection stops speaking HTTP (WebSocket).
//!
//! The functions here are pure (bytes in, structure out) so they are tested on their own; the
//! tracer applies them to the bytes its [`Tap`](super::recorder::Tap) recorded. The requests
//! themselves are sent by hyper's `client::conn::http1`, a real HTTP client, over that tap.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

use super::hexdump::escaped;
use super::recorder::Recording;
use super::tls::TraceLink;
use super::{Out, Totals, TraceError};

/// A parsed HTTP/1.1 request or response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `GET /sse HTTP/1.1` or `HTTP/1.1 200 OK`.
    pub start_line: String,
    /// Header fields in the order sent, names as sent.
    pub headers: Vec<(String, String)>,
    /// Bytes of the head on the wire, including the final empty line.
    pub len: usize,
}

/// How the body after a head is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: a request without one, `101`, `204` or `304`.
    None,
    /// Exactly this many bytes.
    ContentLength(usize),
    /// Chunked transfer coding.
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// Where the head ends: the offset just after the first `\r\n\r\n`, or `None` if the bytes do not
/// hold a whole head yet.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

impl Head {
    /// Parses the head at the start of `buf`; `Ok(None)` if it is not complete yet.
    pub fn parse(buf: &[u8]) -> Result<Option<Head>, TraceError> {
        let Some(end) = head_end(buf) else {
            return Ok(None);
        };
        let text = std::str::from_utf8(&buf[..end - 4])
            .map_err(|_| TraceError::Http("head is not UTF-8".into()))?;
        let mut lines = text.split("\r\n");
        let start_line = lines.next().unwrap_or_default().to_owned();
        if start_line.is_empty() {
            return Err(TraceError::Http("empty start line".into()));
        }
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line.split_once(':').ok_or_else(|| {
                TraceError::Http(format!("header line without a colon: {line:?}"))
            })?;
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        Ok(Some(Head {
            start_line,
            headers,
            len: end,
        }))
    }

    /// The first value of header `name` (case-insensitive, as HTTP field names are).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status code of a response head (`None` for a request).
    pub fn status(&self) -> Option<u16> {
        let mut parts = self.start_line.split(' ');
        let version = parts.next()?;
        if !version.starts_with("HTTP/") {
            return None;
        }
        parts.next()?.parse().ok()
    }

    /// How the body that follows this head is framed.
    pub fn body_framing(&self) -> BodyFraming {
        let is_response = self.status().is_some();
        if let Some(status) = self.status()
            && (status == 101 || status == 204 || status == 304 || status < 200)
        {
            return BodyFraming::None;
        }
        if self
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            return BodyFraming::Chunked;
        }
        if let Some(n) = self
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            return BodyFraming::ContentLength(n);
        }
        if is_response {
            BodyFraming::UntilClose
        } else {
            BodyFraming::None
        }
    }
}

/// One chunk of a chunked body, as offsets into the buffer it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyChunk {
    /// The chunk's size, from its hex size line.
    pub size: usize,
    /// The size line including its CRLF (`4e\r\n`).
    pub size_line: Range<usize>,
    /// The chunk data.
    pub data: Range<usize>,
    /// Bytes of the whole chunk: size line, data and the CRLF after the data.
    pub len: usize,
}

impl BodyChunk {
    /// Bytes of framing this chunk added: its size line and the trailing CRLF.
    pub fn overhead(&self) -> usize {
        self.len - self.size
    }
}

/// Parses the chunk at the start of `buf` (RFC 9112 §7.1): `<hex size>[;ext]\r\n<data>\r\n`.
/// `Ok(None)` if `buf` does not hold the whole chunk yet. A zero-size chunk (the last one) is
/// returned as is; trailers after it are not supported (no server here sends them).
pub fn parse_chunk(buf: &[u8]) -> Result<Option<BodyChunk>, TraceError> {
    let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = &buf[..line_end];
    let hex = line.split(|&b| b == b';').next().unwrap_or_default();
    let hex = std::str::from_utf8(hex)
        .map_err(|_| TraceError::Http(format!("bad chunk size line {:?}", escaped(line))))?
        .trim();
    let size = usize::from_str_radix(hex, 16)
        .map_err(|_| TraceError::Http(format!("bad chunk size {:?}", escaped(line))))?;
    let data_start = line_end + 2;
    let data_end = data_start
        .checked_add(size)
        .ok_or_else(|| TraceError::Http("chunk size overflows".into()))?;
    if buf.len() < data_end + 2 {
        return Ok(None);
    }
    if &buf[data_end..data_end + 2] != b"\r\n" {
        return Err(TraceError::Http(format!(
            "chunk of {size} bytes not followed by CRLF"
        )));
    }
    Ok(Some(BodyChunk {
        size,
        size_line: 0..data_start,
        data: data_start..data_end,
        len: data_end + 2,
    }))
}

/// What a header line means, for the annotations printed beside it.
pub fn header_note(name: &str, value: &str) -> Option<String> {
    let v = value.to_ascii_lowercase();
    let note = match name.to_ascii_lowercase().as_str() {
        "host" => "which server: mandatory in HTTP/1.1",
        "connection" if v.contains("upgrade") => "asks to stop speaking HTTP on this connection",
        "connection" if v.contains("keep-alive") => "keep the connection open for the next request",
        "connection" if v.contains("close") => "the connection ends after this message",
        "upgrade" => "…and to speak this protocol instead",
        "sec-websocket-version" => "13 is the only version RFC 6455 defines",
        "sec-websocket-key" => "16 random bytes, base64: a nonce the server must transform",
        "sec-websocket-accept" => "base64(SHA-1(key + GUID)): derived below",
        "accept" if v.contains("text/event-stream") => "the client wants an SSE stream",
        "content-type" if v.contains("text/event-stream") => {
            "SSE: the body is a never-ending list of events"
        }
        "content-type" if v.contains("json") => "the body is JSON",
        "transfer-encoding" if v.contains("chunked") => {
            "body of unknown length: sent as <hex size>\\r\\n data \\r\\n chunks"
        }
        "content-length" => {
            "the body is exactly this many bytes; then the next response may follow"
        }
        "cache-control" => "no caching or buffering by proxies on the way",
        "content-encoding" if v == "identity" => {
            "not compressed: compression would hold events back"
        }
        "x-accel-buffering" => "tells nginx-style proxies not to buffer the stream",
        "date" => "added to every response (RFC 9110 §6.6.1)",
        "last-event-id" => "resume: send me the events after this id",
        _ => return None,
    };
    Some(note.to_owned())
}

/// What a start line means.
pub fn start_line_note(line: &str) -> Option<&'static str> {
    if line.starts_with("HTTP/1.1 101") {
        Some("HTTP ends here: from the next byte on, WebSocket frames")
    } else if line.starts_with("HTTP/1.1 200") {
        Some("success; the body follows the empty line")
    } else if line.starts_with("HTTP/") {
        None
    } else {
        Some("method, path with query, version")
    }
}

/// Prints a head line by line, each line annotated when there is something to say, under a
/// section title that names its direction and size.
pub fn print_head(out: &mut Out, title: &str, head: &Head) {
    out.section(&format!("{title} ({} bytes)", head.len));
    let width = head
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 2)
        .chain(std::iter::once(head.start_line.len()))
        .max()
        .unwrap_or(0)
        .min(60);
    let note = |line: &str, note: Option<String>| match note {
        Some(n) => format!("  {line:<width$}  ← {n}"),
        None => format!("  {line}"),
    };
    out.line(note(
        &head.start_line,
        start_line_note(&head.start_line).map(str::to_owned),
    ));
    for (name, value) in &head.headers {
        out.line(note(&format!("{name}: {value}"), header_note(name, value)));
    }
    out.line(note("", Some("empty line: end of the head".into())));
}

/// Section title of the request head that opens a streaming trace's one connection.
pub const REQUEST_HEAD: &str = "client → server: HTTP request head";
/// Section title of the response head that answers it.
pub const RESPONSE_HEAD: &str = "server → client: HTTP response head";

/// Prints the head at the start of `recorded` (one direction of a recorded connection) under
/// `title` and counts it in `totals`; `None` when no complete head was recorded.
pub fn print_recorded_head(
    out: &mut Out,
    title: &str,
    recorded: &[u8],
    totals: &mut Totals,
) -> Result<Option<Head>, TraceError> {
    let head = Head::parse(recorded)?;
    if let Some(head) = &head {
        print_head(out, title, head);
        totals.head_bytes += head.len;
    }
    Ok(head)
}

/// An HTTP/1.1 connection driven by hyper over a recording tap.
pub struct Conn {
    sender: http1::SendRequest<Empty<Bytes>>,
    driver: tokio::task::JoinHandle<()>,
    host: String,
}

impl Conn {
    /// Opens a TCP connection to `host` (`ip:port`) and performs hyper's HTTP/1.1 handshake over
    /// a tap recording into `recording`, giving up on the connect after `timeout`.
    pub async fn open(
        host: &str,
        link: &TraceLink,
        recording: Recording,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let tcp = link.open(host, timeout).await?;
        let io = TokioIo::new(recording.tap(tcp));
        let (sender, conn) = http1::Builder::new()
            .title_case_headers(true)
            .handshake(io)
            .await?;
        let driver = tokio::spawn(async move {
            // The connection ends when the tracer drops it; its error, if any, is not news.
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            driver,
            host: host.to_owned(),
        })
    }

    /// Sends `GET path_and_query` with the given extra headers and returns the response, whose
    /// body the caller reads (or drops).
    pub async fn get(
        &mut self,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        let mut req = hyper::Request::get(path_and_query).header(hyper::header::HOST, &self.host);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        self.sender.ready().await?;
        Ok(self.sender.send_request(req.body(Empty::new())?).await?)
    }

    /// Sends `GET path_and_query` and reads the whole body.
    pub async fn get_all(&mut self, path_and_query: &str) -> anyhow::Result<(u16, Bytes)> {
        let resp = self.get(path_and_query, &[]).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
Transfer-Encoding: chunked\r\n\r\n4e\r\n";

    #[test]
    fn parses_a_response_head() {
        let head = Head::parse(RESPONSE).unwrap().unwrap();
        assert_eq!(head.start_line, "HTTP/1.1 200 OK");
        assert_eq!(head.status(), Some(200));
        assert_eq!(head.header("content-type"), Some("text/event-stream"));
        assert_eq!(head.body_framing(), BodyFraming::Chunked);
        assert_eq!(head.len, RESPONSE.len() - 4);
    }

    #[test]
    fn incomplete_head_is_none() {
        assert_eq!(Head::parse(b"HTTP/1.1 200 OK\r\nA: b\r\n").unwrap(), None);
    }

    #[test]
    fn request_and_length_framing() {
        let req = Head::parse(b"GET /poll/short?after=3 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(req.status(), None);
        assert_eq!(req.body_framing(), BodyFraming::None);
        let resp = Head::parse(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]")
            .unwrap()
            .unwrap();
        assert_eq!(resp.body_framing(), BodyFraming::ContentLength(2));
        let switch = Head::parse(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(switch.body_framing(), BodyFraming::None);
    }

    #[test]
    fn chunk_sizes_are_hex() {
        let mut body = b"4e\r\n".to_vec();
        body.extend(std::iter::repeat_n(b'x', 78));
        body.extend_from_slice(b"\r\n");
        // 0x4e = 78 data bytes, framed by "4e\r\n" (4) and "\r\n" (2).
        let c = parse_chunk(&body).unwrap().unwrap();
        assert_eq!(c.size, 78);
        assert_eq!(c.size_line, 0..4);
        assert_eq!(c.data, 4..82);
        assert_eq!(c.len, 84);
        assert_eq!(c.overhead(), 6);
        assert_eq!(
            c.overhead(),
            rtlab_wire::framing::chunk_overhead(78),
            "agrees with the wire crate's arithmetic"
        );
    }

    #[test]
    fn chunk_edge_cases() {
        // Uppercase hex and an extension.
        let c = parse_chunk(b"A;name=x\r\n0123456789\r\n").unwrap().unwrap();
        assert_eq!(c.size, 10);
        assert_eq!(c.size_line.len(), 10);
        // The last chunk.
        let last = parse_chunk(b"0\r\n\r\n").unwrap().unwrap();
        assert_eq!((last.size, last.len), (0, 5));
        // Incomplete, then broken.
        assert_eq!(parse_chunk(b"10\r\nabc").unwrap(), None);
        assert_eq!(parse_chunk(b"3").unwrap(), None);
        assert!(parse_chunk(b"zz\r\nabc\r\n").is_err());
        assert!(parse_chunk(b"3\r\nabcXY").is_err());
    }

    #[test]
    fn notes_explain_the_interesting_headers() {
        assert!(header_note("Sec-WebSocket-Key", "x").is_some());
        assert!(
            header_note("transfer-encoding", "chunked")
                .unwrap()
                .contains("chunks")
        );
        assert_eq!(header_note("X-Unknown", "1"), None);
        assert!(start_line_note("HTTP/1.1 101 Switching Protocols").is_some());
    }
}
