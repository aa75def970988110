//! How a case's connections are carried: in the clear, inside TLS, or inside TLS as HTTP/2
//! streams. The `security` scenario sweeps it.
//!
//! Real deployments never serve a feed in the clear, so a comparison on plain HTTP/1.1 leaves
//! out two costs every real client pays, and one saving:
//!
//! - **the TLS handshake** before the first HTTP byte: one more round trip (TLS 1.3) and a few
//!   kilobytes, most of them the server's certificate chain. It is paid per *connection*, so a
//!   short poll that keeps its connection pays it once and a client that reconnects pays it
//!   again;
//! - **record framing** on every write: a TLS 1.3 record with AES-GCM adds a 5-byte header, a
//!   1-byte inner content type and a 16-byte authentication tag, 22 bytes
//!   ([`TLS13_RECORD_OVERHEAD`]), however small the write. A stream that writes one event per
//!   record pays 22 bytes per event; one that batches pays it per batch;
//! - and, over HTTP/2 (negotiated inside TLS by ALPN), **HPACK**: a poll's request and answer
//!   headers, repeated on every poll, shrink to a few bytes of table references after the first.
//!   WebSocket stays on HTTP/1.1 (RFC 8441's WebSocket over HTTP/2 is not served) and the raw-TCP
//!   floor has no HTTP at all, so `tls-h2` applies to SSE and the polls only.
//!
//! The client counts bytes on both sides of TLS (`rtlab_client`'s two byte taps): *above* TLS is
//! what the protocol spent, the same figure as in the clear; *below* is what crossed the wire.
//! The difference is what TLS cost.

use std::fmt;

use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

/// Bytes a TLS 1.3 record adds to what it carries with an AEAD cipher such as AES-128-GCM
/// (RFC 8446 §5.2): a 5-byte record header, the 1-byte inner content type, a 16-byte tag.
pub const TLS13_RECORD_OVERHEAD: f64 = 22.0;

/// How a case's connections are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    /// Plain TCP: HTTP/1.1, `ws://`, raw TCP: the rest of the lab.
    Plain,
    /// TLS 1.3, HTTP/1.1 inside (`https://`, `wss://`, TLS on the raw-TCP floor).
    Tls,
    /// TLS 1.3 with HTTP/2 chosen by ALPN: SSE and the polls only.
    TlsH2,
}

impl Security {
    /// Every value, in the order reports show them.
    pub const ALL: [Security; 3] = [Security::Plain, Security::Tls, Security::TlsH2];

    /// The text form used in suites and file names.
    pub const fn as_str(self) -> &'static str {
        match self {
            Security::Plain => "plain",
            Security::Tls => "tls",
            Security::TlsH2 => "tls-h2",
        }
    }

    /// What a reader calls it: `HTTP/1.1 over TLS`.
    pub const fn describe(self) -> &'static str {
        match self {
            Security::Plain => "in the clear",
            Security::Tls => "over TLS (HTTP/1.1)",
            Security::TlsH2 => "over TLS (HTTP/2)",
        }
    }

    /// Whether the server needs a certificate for it.
    pub const fn is_tls(self) -> bool {
        !matches!(self, Security::Plain)
    }

    /// Whether `transport` can be carried this way: HTTP/2 carries SSE and the polls, not the
    /// WebSocket upgrade (an HTTP/1.1 mechanism) nor raw TCP (no HTTP at all).
    pub const fn carries(self, transport: Transport) -> bool {
        match self {
            Security::Plain | Security::Tls => true,
            Security::TlsH2 => matches!(
                transport,
                Transport::Sse | Transport::LongPoll | Transport::ShortPoll
            ),
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2_carries_only_the_http_request_transports() {
        let carried: Vec<Transport> = Transport::ALL
            .into_iter()
            .filter(|&t| Security::TlsH2.carries(t))
            .collect();
        assert_eq!(
            carried,
            [Transport::Sse, Transport::LongPoll, Transport::ShortPoll]
        );
        assert!(Transport::ALL.into_iter().all(|t| Security::Tls.carries(t)));
    }

    #[test]
    fn reads_the_suite_spelling() {
        let v: Vec<Security> = serde_json::from_str(r#"["plain","tls","tls-h2"]"#).unwrap();
        assert_eq!(v, Security::ALL);
        assert_eq!(Security::TlsH2.to_string(), "tls-h2");
    }
}
