//! TLS in a trace: where the handshake's bytes and round trips go before the first HTTP byte.
//!
//! Over TLS the tracer records twice (see `crate::tls` for the load generator's same stack):
//! below TLS, the records that cross the socket; above it, the plaintext the protocol wrote and
//! read, which the transport's own decoder prints as without TLS. This file prints the part
//! below: the handshake's flights, record by record (the 5-byte record header says the content
//! type and length; a plaintext handshake record's first byte says which message it is), how
//! many round trips passed before the client could send its first byte of HTTP, and what the
//! records then added to the exchange.
//!
//! TLS 1.3 encrypts everything after `ServerHello` (the certificate included) and disguises it
//! as `application_data` records, so the trace cannot name those messages; it names the flights
//! and sizes instead, which are what the costs are made of. `--frames` events later, the records
//! of the exchange are summed, not listed.

use std::time::Duration;

use rtlab_wire::Transport;
use tokio::net::TcpStream;

use super::Out;
use super::recorder::{Direction, Recording, Tap};
use crate::config::Target;
use crate::tls::{ALPN_HTTP1, NetStream, TlsConnector, TlsTrust};

/// Bytes of a TLS record header: content type, legacy version, length.
const RECORD_HEADER: usize = 5;

/// The connection a trace records: plain, or TLS over the below-TLS recording.
pub type TraceStream = NetStream<Tap<TcpStream>>;

/// How a trace reaches its server: TLS or not, and the recording below TLS.
pub struct TraceLink {
    tls: Option<TlsConnector>,
    /// What crossed the socket (TLS records), when TLS.
    wire: Recording,
    /// Chunks of `wire` when the handshake completed: the rest is the exchange.
    handshake_chunks: std::sync::Mutex<Option<usize>>,
}

impl TraceLink {
    /// The link to `target`, trusting `trust` when it is a TLS target (ALPN `http/1.1`: the
    /// tracer decodes HTTP/1.1; none for tcp).
    pub fn new(target: &Target, transport: Transport, trust: &TlsTrust) -> anyhow::Result<Self> {
        let tls = if target.tls {
            let alpn: &[&[u8]] = if transport == Transport::Tcp {
                &[]
            } else {
                &[ALPN_HTTP1]
            };
            Some(TlsConnector::new(trust, &target.host, alpn)?)
        } else {
            None
        };
        Ok(Self {
            tls,
            wire: Recording::new(),
            handshake_chunks: std::sync::Mutex::new(None),
        })
    }

    /// Connects to `addr`, and runs the TLS handshake if TLS, giving up after `timeout`.
    pub async fn open(&self, addr: &str, timeout: Duration) -> anyhow::Result<TraceStream> {
        let tcp = super::connect(addr, timeout).await?;
        let Some(tls) = &self.tls else {
            return Ok(NetStream::Plain(tcp));
        };
        let session = tokio::time::timeout(timeout, tls.connect(self.wire.tap(tcp)))
            .await
            .map_err(|_| anyhow::anyhow!("the TLS handshake with {addr} timed out"))?
            .map_err(|e| anyhow::anyhow!("TLS handshake with {addr} failed: {e}"))?;
        let done = self.wire.chunks().len();
        *self
            .handshake_chunks
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(done);
        Ok(NetStream::Tls(Box::new(session)))
    }

    /// Prints the TLS part of the trace (nothing without TLS): the handshake's flights and
    /// records, then what the records added to the exchange `plaintext` recorded above TLS.
    pub fn describe(&self, out: &mut Out, plaintext: &Recording) {
        if self.tls.is_none() {
            return;
        }
        let chunks = self.wire.chunks();
        let done = self
            .handshake_chunks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(chunks.len());
        let (handshake, exchange) = chunks.split_at(done.min(chunks.len()));
        out.section("TLS below the protocol: the handshake, before the first HTTP byte");
        let mut records = [RecordSplitter::default(), RecordSplitter::default()];
        let mut flights = 0usize;
        let mut round_trips = 0usize;
        let mut last: Option<Direction> = None;
        let mut bytes = [0usize; 2];
        for c in handshake {
            let side = c.direction as usize;
            if last != Some(c.direction) {
                flights += 1;
                if last == Some(Direction::Sent) && c.direction == Direction::Received {
                    round_trips += 1;
                }
                last = Some(c.direction);
            }
            bytes[side] += c.bytes.len();
            let arrow = match c.direction {
                Direction::Sent => "client → server",
                Direction::Received => "server → client",
            };
            let names: Vec<String> = records[side].feed(&c.bytes);
            out.line(format!(
                "  {arrow}  +{:>7.3} ms  {:>5} B  {}",
                c.at.as_secs_f64() * 1e3,
                c.bytes.len(),
                names.join(", ")
            ));
        }
        out.line(format!(
            "  handshake: {} B sent + {} B received = {} B in {flights} flights, {round_trips} round trip{} before the first HTTP byte",
            bytes[0],
            bytes[1],
            bytes[0] + bytes[1],
            if round_trips == 1 { "" } else { "s" }
        ));
        let wire = |dir: Direction| -> usize {
            exchange
                .iter()
                .filter(|c| c.direction == dir)
                .map(|c| c.bytes.len())
                .sum()
        };
        let plain = |dir: Direction| plaintext.stream(dir).len();
        let (sent, received) = (wire(Direction::Sent), wire(Direction::Received));
        out.line(format!(
            "  then the exchange below: {sent} B sent for {} B of plaintext, {received} B received for {} B \
             (+{} B of records: 5 B header + 1 B type + 16 B tag = 22 B per TLS 1.3 record, and session tickets)",
            plain(Direction::Sent),
            plain(Direction::Received),
            (sent + received).saturating_sub(plain(Direction::Sent) + plain(Direction::Received))
        ));
        out.line("the decrypted exchange, as above TLS:");
    }
}

/// Cuts one direction's byte stream into TLS records and names each.
#[derive(Default)]
struct RecordSplitter {
    pending: Vec<u8>,
}

impl RecordSplitter {
    /// Adds `bytes`; returns a name for each record completed (and a note for a partial one).
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut names = Vec::new();
        while let Some(header) = self.pending.get(..RECORD_HEADER) {
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            if self.pending.len() < RECORD_HEADER + len {
                break;
            }
            let body = &self.pending[RECORD_HEADER..RECORD_HEADER + len];
            names.push(format!(
                "{} ({} B)",
                record_name(header[0], body),
                RECORD_HEADER + len
            ));
            self.pending.drain(..RECORD_HEADER + len);
        }
        if !self.pending.is_empty() {
            names.push(format!("{} B of a record continued", self.pending.len()));
        }
        names
    }
}

/// A record's content type, and for a plaintext handshake record its first message.
fn record_name(content_type: u8, body: &[u8]) -> String {
    match content_type {
        20 => "ChangeCipherSpec".into(),
        21 => "Alert".into(),
        22 => {
            let message = match body.first() {
                Some(1) => "ClientHello",
                Some(2) => "ServerHello",
                Some(4) => "NewSessionTicket",
                Some(11) => "Certificate",
                Some(12) => "ServerKeyExchange",
                Some(14) => "ServerHelloDone",
                Some(16) => "ClientKeyExchange",
                Some(20) => "Finished",
                _ => "handshake message",
            };
            format!("Handshake {message}")
        }
        23 => "encrypted record".into(),
        other => format!("record type {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_split_and_named_across_reads() {
        let mut s = RecordSplitter::default();
        let mut hello = vec![22, 3, 1, 0, 4, 1, 0, 0, 0];
        hello.extend_from_slice(&[23, 3, 3, 0, 2]);
        assert_eq!(
            s.feed(&hello),
            vec![
                "Handshake ClientHello (9 B)".to_owned(),
                "5 B of a record continued".to_owned()
            ]
        );
        assert_eq!(
            s.feed(&[0xaa, 0xbb]),
            vec!["encrypted record (7 B)".to_owned()]
        );
        assert_eq!(record_name(20, &[1]), "ChangeCipherSpec");
        assert_eq!(record_name(22, &[2]), "Handshake ServerHello");
    }
}
