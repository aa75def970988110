//! The wire tracer: `rtlab-client trace <transport>` opens ONE real connection and prints, annotated,
//! every byte that crossed it.
//!
//! Run with `rtlab-client trace ws --url http://127.0.0.1:8080` (or `sse`, `long-poll`,
//! `short-poll`, `tcp`) against a server started with `--rate 5` or so.
//!
//! Numbers about overhead are only convincing when you can see the bytes they count. The tracer
//! lets a real client library do the talking — tokio-tungstenite for WebSocket, hyper's
//! `client::conn::http1` for the HTTP transports — over a [`recorder::Tap`] that keeps a copy of
//! every buffer read or written. When the exchange is over it decodes the two recorded byte
//! streams with small pure functions (HTTP heads and chunks, WebSocket frame headers, SSE lines)
//! and prints them field by field, ending with one line that adds up header bytes against payload
//! bytes. Recording first and explaining afterwards keeps the timing honest: nothing is printed
//! while the connection is live.
//!
//! The tracer is not a second client: it reads the protocols with the load generator's own code.
//! Its `--url` is a [`Target`] by the same rules as `rtlab-client --url`; WebSocket frame headers
//! are decoded by [`crate::transport::ws_frames`] and SSE lines read by [`crate::event_stream`],
//! the code whose byte accounting the measurements rest on. What is the tracer's own is the
//! explaining: the annotations, the handshake derivation, the totals.
//!
//! # Layout
//! - [`recorder`]: the recording socket wrapper.
//! - [`hexdump`]: hex and escaped-text rendering of bytes.
//! - [`http`]: HTTP/1.1 heads, body framing, chunked coding; hyper over the tap.
//! - [`ws`]: RFC 6455 handshake (`Sec-WebSocket-Accept` derivation) and frame headers, annotated.
//! - [`sse`]: SSE field lines inside chunks, annotated.
//! - [`poll`]: repeated request/response heads of long and short polls.
//! - [`tcp`]: the raw-TCP baseline's newline-delimited events.
//! - [`tls`]: over TLS (`https://`, `wss://`, `tls://` with `--ca` or `--insecure`), the
//!   handshake's records and round trips below the protocol, before the decrypted exchange.
//!
//! A production tool would capture packets instead (`tcpdump -i lo -A port 8080`, Wireshark's
//! WebSocket dissector); this one trades the TCP/IP layer for annotations that teach.

pub mod hexdump;
pub mod http;
pub mod poll;
pub mod recorder;
pub mod sse;
pub mod tcp;
pub mod tls;
pub mod ws;

use std::io::Write as _;
use std::time::Duration;

use rtlab_wire::Transport;
use tokio::net::TcpStream;

use crate::RunError;
use crate::config::Target;

/// Arguments of `rtlab-client trace`.
#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// Transport to trace: ws, sse, long-poll, short-poll or tcp.
    pub transport: Transport,
    /// Server base URL, `http://HOST:PORT` (a path prefix is kept, as for the load generator's
    /// --url). For `tcp`, `tcp://HOST:PORT` names the baseline listener directly; with an http
    /// URL, tcp uses `--tcp-addr`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Events to show (ws, sse, tcp) or polls to make (long-poll, short-poll).
    #[arg(long, default_value_t = 3, value_parser = parse_count)]
    pub frames: usize,
    /// The raw-TCP baseline address, for `trace tcp` with an http `--url` [default: the URL's
    /// host, port 8081].
    #[arg(long)]
    pub tcp_addr: Option<String>,
    /// Time between two short polls.
    #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Give up waiting for events after this long (the bytes seen so far are still printed).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// TLS: trust the root certificate(s) in this PEM file
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<std::path::PathBuf>,
    /// TLS: accept any server certificate
    #[arg(long)]
    pub insecure: bool,
}

/// Parses `--frames`: a count from 1 to 1000.
fn parse_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!("expected a count from 1 to 1000, got {s:?}")),
    }
}

/// Why a trace could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The `--url` (or `--tcp-addr`) is not something the tracer can connect to, by the client's
    /// URL rules ([`Target`]); the text names the address and what is wrong with it.
    #[error("{0}")]
    BadUrl(String),
    /// Recorded bytes that are not valid HTTP/1.1.
    #[error("not HTTP/1.1: {0}")]
    Http(String),
    /// The connection ended before a needed part arrived.
    #[error("the connection ended before the {0} was complete")]
    Incomplete(&'static str),
}

/// The one server address a trace of `transport` connects to, read by the client's own URL rules
/// ([`Target`], the same as `rtlab-client --url`): the HTTP server for ws, sse and the polls; for
/// tcp the baseline listener, named by a `tcp://` URL, else by `--tcp-addr`, else found beside the
/// http URL's host at the contract's default port. TLS URLs are traced twice over: the records
/// below TLS, then the decrypted exchange (see [`tls`]).
pub fn trace_target(
    transport: Transport,
    url: &str,
    tcp_addr: Option<&str>,
) -> Result<Target, TraceError> {
    let names_tcp = url
        .get(..TCP_SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(TCP_SCHEME) || s.eq_ignore_ascii_case("tls://"));
    let target = match transport {
        Transport::Tcp if names_tcp => Target::parse(url, transport),
        Transport::Tcp => Target::parse_http(url).and_then(|http| match tcp_addr {
            Some(addr) => Target::parse_host_port(addr),
            None => Ok(http.tcp_baseline()),
        }),
        _ => Target::parse(url, transport),
    };
    target.map_err(|e| match e {
        RunError::Config(why) => TraceError::BadUrl(why),
        other => TraceError::BadUrl(other.to_string()),
    })
}

/// How a URL names the raw-TCP baseline listener itself.
const TCP_SCHEME: &str = "tcp://";

/// The text a trace prints, built line by line, plus whether the trace failed.
#[derive(Debug, Default)]
pub struct Out {
    text: String,
    /// Set when the trace could not show what it was asked for; `run` then exits with an error
    /// after printing what it has.
    pub failure: Option<String>,
}

impl Out {
    /// Appends one line.
    pub fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// Appends an empty line.
    pub fn blank(&mut self) {
        self.text.push('\n');
    }

    /// Appends a section title, preceded by an empty line.
    pub fn section(&mut self, title: &str) {
        self.blank();
        self.line(format!("── {title} ──"));
    }

    /// The text so far.
    pub fn into_string(self) -> String {
        self.text
    }
}

/// The byte accounting every trace ends with: what was header, what was payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// HTTP request and response heads (the WebSocket handshake, every poll's heads).
    pub head_bytes: usize,
    /// Framing around events: WebSocket frame headers, SSE field lines and chunk sizes, JSON array
    /// brackets and commas, TCP newlines.
    pub framing_bytes: usize,
    /// Keep-alive and control traffic: pings, pongs, close frames, SSE heartbeats.
    pub control_bytes: usize,
    /// The event JSON itself.
    pub payload_bytes: usize,
    /// Events carried.
    pub events: usize,
}

impl Totals {
    /// Everything that is not event JSON.
    pub fn header_bytes(&self) -> usize {
        self.head_bytes + self.framing_bytes + self.control_bytes
    }

    /// The one-line summary: header vs payload.
    pub fn line(&self) -> String {
        let per_event = if self.events > 0 {
            format!(
                "; {:.1} B of header per event ({:.1} B without the heads)",
                self.header_bytes() as f64 / self.events as f64,
                (self.framing_bytes + self.control_bytes) as f64 / self.events as f64
            )
        } else {
            String::new()
        };
        format!(
            "total: {} B header ({} B HTTP heads + {} B framing + {} B control) vs {} B payload in {} events{per_event}",
            self.header_bytes(),
            self.head_bytes,
            self.framing_bytes,
            self.control_bytes,
            self.payload_bytes,
            self.events
        )
    }
}

/// What a streaming trace appends when it times out: the usual reason no event came.
const NO_EVENTS_HINT: &str = " (is the server's ticker running? --rate > 0)";

/// Opens the TCP connection a trace records, giving up after `timeout`.
async fn connect(addr: &str, timeout: Duration) -> anyhow::Result<TcpStream> {
    tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {addr} timed out"))?
        .map_err(|e| anyhow::anyhow!("cannot connect to {addr}: {e}"))
}

/// Runs `capture`, the live part of a trace, for at most `timeout`: `None` when it completed,
/// else why not (`timeout_hint` follows a time-out). A failed capture is not an error: the trace
/// still prints the bytes seen so far, then this note.
async fn run_capture(
    timeout: Duration,
    timeout_hint: &str,
    capture: impl Future<Output = anyhow::Result<()>>,
) -> Option<String> {
    match tokio::time::timeout(timeout, capture).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("timed out after {timeout:?}{timeout_hint}")),
    }
}

/// Runs the tracer: one connection, every byte annotated on stdout.
pub async fn run(args: TraceArgs) -> anyhow::Result<()> {
    let target = trace_target(args.transport, &args.url, args.tcp_addr.as_deref())?;
    let trust = crate::tls::TlsTrust {
        ca: args.ca.clone(),
        insecure: args.insecure,
    };
    if trust.is_set() && !target.tls {
        anyhow::bail!("--ca and --insecure need a TLS URL (https://, wss:// or tls://)");
    }
    let link = tls::TraceLink::new(&target, args.transport, &trust)?;
    if trust.insecure {
        eprintln!("{}", crate::tls::INSECURE_WARNING);
    }
    let out = match args.transport {
        Transport::Ws => ws::trace(&target, &link, args.frames, args.timeout).await?,
        Transport::Sse => sse::trace(&target, &link, args.frames, args.timeout).await?,
        kind @ (Transport::LongPoll | Transport::ShortPoll) => {
            poll::trace(
                &target,
                &link,
                kind,
                args.frames,
                args.interval,
                args.timeout,
            )
            .await?
        }
        Transport::Tcp => tcp::trace(&target, &link, args.frames, args.timeout).await?,
    };
    let failure = out.failure.clone();
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.into_string().as_bytes())?;
    stdout.flush()?;
    match failure {
        Some(why) => anyhow::bail!("trace {} incomplete: {why}", args.transport),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_urls() {
        let t = trace_target(Transport::Ws, "http://127.0.0.1:8080", None).unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        let t = trace_target(Transport::Tcp, "http://127.0.0.1:8080", None).unwrap();
        assert_eq!(t.authority, "127.0.0.1:8081");
        let url = "http://localhost:9000/";
        let t = trace_target(Transport::Sse, url, Some("127.0.0.1:9001")).unwrap();
        assert_eq!(t.authority, "localhost:9000");
        let t = trace_target(Transport::Tcp, url, Some("127.0.0.1:9001")).unwrap();
        assert_eq!(t.authority, "127.0.0.1:9001");
        let t = trace_target(Transport::Tcp, "tcp://127.0.0.1:7000", None).unwrap();
        assert_eq!(t.authority, "127.0.0.1:7000");
        assert!(
            trace_target(Transport::Ws, "https://example.invalid", None)
                .unwrap()
                .tls
        );
        assert!(matches!(
            trace_target(Transport::Ws, "ftp://example.invalid", None),
            Err(TraceError::BadUrl { .. })
        ));
        assert!(trace_target(Transport::Ws, "not a url", None).is_err());
        // The client's rules: a tcp:// URL names the baseline only; --tcp-addr needs a port.
        assert!(trace_target(Transport::Ws, "tcp://127.0.0.1:7000", None).is_err());
        assert!(trace_target(Transport::Tcp, "tcp://127.0.0.1", None).is_err());
        assert!(trace_target(Transport::Tcp, url, Some("127.0.0.1")).is_err());
    }

    #[test]
    fn frame_count_is_bounded() {
        assert_eq!(parse_count("3"), Ok(3));
        assert!(parse_count("0").is_err());
        assert!(parse_count("x").is_err());
    }

    #[test]
    fn totals_line_adds_up() {
        let t = Totals {
            head_bytes: 300,
            framing_bytes: 10,
            control_bytes: 4,
            payload_bytes: 320,
            events: 5,
        };
        assert_eq!(t.header_bytes(), 314);
        let line = t.line();
        assert!(line.starts_with("total: 314 B header (300 B HTTP heads + 10 B framing + 4 B control) vs 320 B payload in 5 events"), "{line}");
        assert!(
            line.contains("62.8 B of header per event (2.8 B without the heads)"),
            "{line}"
        );
    }
}
