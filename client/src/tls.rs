//! TLS on the client's connections: whom to trust, and the stream that results.
//!
//! **What TLS costs.** Before the first byte of HTTP (or of the raw-TCP baseline) can cross, a
//! TLS 1.3 client sends a `ClientHello` (~250 bytes with its key share) and the server answers
//! with its `ServerHello`, certificate, a signature over the handshake and `Finished`: one round
//! trip, and with a certificate the server's flight alone is 1 KB or more. After that every
//! write is sealed into records: 5 bytes of record header, 1 byte of content type and 16 of
//! AEAD tag, 22 bytes per record whatever its size. The lab measures both by counting bytes
//! twice: once at the socket (what crosses the wire, the handshake and record framing
//! included) and once above TLS (what the protocol spent, the same bytes as without TLS):
//!
//! ```text
//! TcpStream → WireCounter (below TLS) → rustls → WireCounter (above TLS) → hyper / tungstenite
//! ```
//!
//! [`NetStream`] is the middle of that stack, plain or TLS, so that every transport holds one
//! type, `WireCounter<NetStream>`, whether the run uses TLS or not.
//!
//! **Whom to trust.** The lab's servers use a self-signed certificate (`scripts/make-cert`), so
//! there are no system roots to fall back on: a TLS run names its roots with `--ca FILE` (PEM),
//! or says `--insecure` to accept any certificate (the handshake and its bytes are unchanged;
//! only the check is skipped). A production client would load the platform's roots and never
//! offer `--insecure`.
//!
//! rustls with the `ring` provider, TLS 1.3 and 1.2 both offered (the server picks 1.3).

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::RunError;
use crate::wire_counter::{ByteTally, WireCounter};

/// What `--insecure` prints on stderr before a run or a trace: one line, a warning, not an error.
pub const INSECURE_WARNING: &str = "warning: --insecure: the server's certificate is not checked \
     (the handshake and its bytes are unchanged; only the check is skipped)";

/// ALPN name of HTTP/2 (RFC 7540 §3.3).
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN name of HTTP/1.1.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Which server certificates a TLS run accepts: those signed by the roots in `ca`, or, with
/// `insecure`, any. Plain data, because a sharded run hands it to each shard as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsTrust {
    /// PEM file of the trusted root certificates (`--ca`).
    pub ca: Option<PathBuf>,
    /// Accept any certificate (`--insecure`).
    pub insecure: bool,
}

impl TlsTrust {
    /// Whether either way of trusting was given.
    pub fn is_set(&self) -> bool {
        self.ca.is_some() || self.insecure
    }
}

/// Opens TLS sessions to one server: its name (checked against the certificate, and sent as
/// SNI when it is a DNS name) and one client configuration, shared by every connection.
#[derive(Clone)]
pub struct TlsConnector {
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// A connector to `host` trusting `trust`, offering `alpn` (empty: no ALPN, as for the
    /// raw-TCP baseline). Fails, as a usage error, when the CA file cannot be read.
    pub fn new(trust: &TlsTrust, host: &str, alpn: &[&[u8]]) -> Result<Self, RunError> {
        let config = client_config(trust, alpn)?;
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|e| RunError::Config(format!("{host:?} is not a TLS server name: {e}")))?;
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(config),
            server_name,
        })
    }

    /// Runs the TLS handshake over `stream`.
    pub async fn connect<S>(&self, stream: S) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.connector
            .connect(self.server_name.clone(), stream)
            .await
    }
}

/// The rustls client configuration for `trust` and `alpn`, with the `ring` provider.
pub fn client_config(trust: &TlsTrust, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, RunError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| RunError::Config(format!("TLS: {e}")))?;
    let mut config = if trust.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth()
    } else {
        let roots = match &trust.ca {
            Some(path) => load_roots(path)?,
            None => {
                return Err(RunError::Config(
                    "a TLS URL needs --ca FILE (the server's root certificate, PEM) or --insecure"
                        .into(),
                ));
            }
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The certificates of a PEM file, as roots.
fn load_roots(path: &PathBuf) -> Result<RootCertStore, RunError> {
    let bad = |why: String| RunError::Config(format!("--ca {}: {why}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it (expected PEM)".into()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    Ok(roots)
}

/// `--insecure`: accepts any certificate, but still checks the handshake's signatures with
/// the certificate's key, so the handshake does all its usual work (and costs what it costs).
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// Puts a dialled socket under the counters: without TLS one [`WireCounter`] counting into
/// `above` (what crosses the socket is what the protocol spent); with TLS the socket counted
/// into `below`, the TLS session over it (its handshake run here), and the session counted
/// into `above`.
pub async fn secure(
    tcp: TcpStream,
    tls: Option<&TlsConnector>,
    above: Arc<ByteTally>,
    below: Arc<ByteTally>,
) -> io::Result<WireCounter<NetStream>> {
    let stream = match tls {
        None => NetStream::Plain(tcp),
        Some(connector) => {
            let session = connector.connect(WireCounter::new(tcp, below)).await?;
            NetStream::Tls(Box::new(session))
        }
    };
    Ok(WireCounter::new(stream, above))
}

/// A subscriber's connection below the protocol: the socket itself, or a TLS session over the
/// socket wrapped in `L`, the below-TLS tap (the load generator's counter; the tracer's
/// recorder).
#[derive(Debug)]
pub enum NetStream<L = WireCounter<TcpStream>> {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over a tapped socket (boxed: a session is a few KB, a socket a few bytes).
    Tls(Box<TlsStream<L>>),
}

impl<L> NetStream<L> {
    /// The ALPN protocol the server chose (TLS only).
    pub fn alpn(&self) -> Option<&[u8]> {
        match self {
            NetStream::Plain(_) => None,
            NetStream::Tls(tls) => tls.get_ref().1.alpn_protocol(),
        }
    }
}

impl<L: AsyncRead + AsyncWrite + Unpin> AsyncRead for NetStream<L> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<L: AsyncRead + AsyncWrite + Unpin> AsyncWrite for NetStream<L> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            NetStream::Plain(s) => s.is_write_vectored(),
            NetStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_flush(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_must_be_given_and_a_ca_file_must_hold_certificates() {
        let none = client_config(&TlsTrust::default(), &[]).unwrap_err();
        assert!(none.is_usage());
        assert!(none.to_string().contains("--ca FILE"), "{none}");
        assert!(!none.to_string().contains('\n'));
        let insecure = TlsTrust {
            ca: None,
            insecure: true,
        };
        let config = client_config(&insecure, &[ALPN_H2]).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
        let missing = TlsTrust {
            ca: Some("/nonexistent/ca.pem".into()),
            insecure: false,
        };
        let e = client_config(&missing, &[]).unwrap_err();
        assert!(e.to_string().contains("--ca /nonexistent/ca.pem"), "{e}");
        let dir = std::env::temp_dir().join(format!("rtlab-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = client_config(
            &TlsTrust {
                ca: Some(empty),
                insecure: false,
            },
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("no certificate"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn server_names_may_be_addresses() {
        let insecure = TlsTrust {
            ca: None,
            insecure: true,
        };
        for host in ["127.0.0.1", "::1", "localhost"] {
            assert!(TlsConnector::new(&insecure, host, &[]).is_ok(), "{host}");
        }
    }
}
