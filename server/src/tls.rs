//! TLS: turning `--tls-cert FILE --tls-key FILE` into the rustls configurations that serve
//! HTTPS/WSS on `--addr` and the raw-TCP baseline on `--tcp-tls-addr`.
//!
//! TLS wraps a byte stream in records: a handshake first (one round trip with TLS 1.3, two with
//! 1.2, plus the certificate chain the server sends), then every write becomes an encrypted record
//! with a 5-byte header and a 16-byte authentication tag (plus, in TLS 1.3, one byte of inner
//! content type). Nothing in the feed's payloads changes: the same HTTP requests, SSE blocks,
//! WebSocket frames and JSON lines travel inside the records. What changes is the cost, which is
//! exactly what the lab measures: set-up round trips and bytes, per-record overhead, CPU.
//!
//! **ALPN** (RFC 7301) is how HTTP/2 is chosen: the client lists the protocols it speaks in its
//! `ClientHello` and the server picks one. On `--addr` actix-web offers `h2` then `http/1.1` by
//! itself (it adds them to the configuration given here), so a browser or `curl` gets HTTP/2 and
//! SSE and both polls run as streams multiplexed on one connection. WebSocket stays on HTTP/1.1:
//! a WebSocket over HTTP/2 needs RFC 8441's extended `CONNECT`, which actix does not implement,
//! so a client that wants `wss://` offers only `http/1.1` (browsers do this by themselves). The
//! TCP-TLS baseline speaks no HTTP and offers no ALPN at all.
//!
//! **Crypto provider.** rustls delegates the cryptography to a provider; this crate builds with
//! `ring` rather than rustls's default `aws-lc-rs` (which needs cmake and a long C build). The
//! provider is passed explicitly ([`ServerConfig::builder_with_provider`]) instead of relying on a
//! process-wide default, which would be ambiguous (and panic) if another crate in the same
//! process compiled a second provider in.
//!
//! A production server would reload certificates without a restart, staple OCSP, and usually
//! terminate TLS at a proxy in front of it; the lab loads one pair at start-up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate pair cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read (missing, no permission, …).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file named on the command line.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not PEM, or holds no item of the kind expected.
    #[error("{path} holds no PEM {what}: {source}")]
    Pem {
        /// The file named on the command line.
        path: PathBuf,
        /// `certificate` or `private key`.
        what: &'static str,
        /// What the PEM parser found wrong.
        source: pem::Error,
    },
    /// rustls refused the pair (a key that does not match the certificate, an unsupported key
    /// type, a certificate it cannot parse).
    #[error("the certificate and key cannot be used together: {0}")]
    Rejected(#[from] rustls::Error),
}

/// The loaded certificate pair, ready to build the configurations of both listeners.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl TlsIdentity {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1),
    /// and checks that rustls accepts them together, so a bad pair fails at start-up with a
    /// sentence rather than at the first handshake.
    pub async fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let cert_pem = read(cert).await?;
        let key_pem = read(key).await?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .and_then(|chain| {
                if chain.is_empty() {
                    Err(pem::Error::NoItemsFound)
                } else {
                    Ok(chain)
                }
            })
            .map_err(|source| TlsError::Pem {
                path: cert.to_owned(),
                what: "certificate",
                source,
            })?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|source| TlsError::Pem {
            path: key.to_owned(),
            what: "private key",
            source,
        })?;
        let identity = TlsIdentity {
            chain,
            key: Arc::new(key),
        };
        identity.server_config()?;
        Ok(identity)
    }

    /// A server configuration with this identity and no ALPN protocols: what the TCP-TLS
    /// baseline uses as is, and what actix-web completes with `h2` and `http/1.1` on `--addr`.
    pub fn server_config(&self) -> Result<ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?)
    }
}

async fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    tokio::fs::read(path)
        .await
        .map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
}
