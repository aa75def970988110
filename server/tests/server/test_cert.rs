//! A self-signed certificate pair made at test time (rcgen, ring) for 127.0.0.1, ::1 and
//! localhost, written to a fresh temporary directory because the server reads `--tls-cert` and
//! `--tls-key` from files; and the TLS clients the tests speak with, trusting exactly that
//! certificate (nothing is "insecure": a wrong name or a wrong key fails the handshake).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The names the certificate is valid for, as `scripts/make-cert` makes them.
pub const NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// A certificate pair on disk, removed with its directory on drop.
pub struct TestCert {
    dir: PathBuf,
    /// The PEM certificate (also the trust anchor: it signs itself).
    pub cert: PathBuf,
    /// The PEM private key.
    pub key: PathBuf,
    pem: String,
    der: CertificateDer<'static>,
}

impl TestCert {
    /// Generates a fresh pair in its own directory under the system's temporary directory.
    pub fn new() -> TestCert {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rtlab-tls-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let names: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
        let pair = rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
        let pem = pair.cert.pem();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &pem).expect("write cert");
        std::fs::write(&key, pair.signing_key.serialize_pem()).expect("write key");
        TestCert {
            dir,
            cert,
            key,
            pem,
            der: pair.cert.der().clone(),
        }
    }

    /// A reqwest client (rustls) that trusts only this certificate, in `version`.
    pub fn reqwest(&self, version: HttpVersion) -> reqwest::Client {
        client_trusting(self.pem.as_bytes(), version, reqwest::Client::builder())
    }

    /// A TLS connection to `addr` (named by its IP address) offering the ALPN protocols `alpn`.
    pub async fn connect(&self, addr: SocketAddr, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).expect("trust anchor");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let tcp = crate::common::within("tcp connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        crate::common::within(
            "tls handshake",
            TlsConnector::from(Arc::new(config)).connect(ServerName::from(addr.ip()), tcp),
        )
        .await
        .expect("TLS handshake")
    }
}

/// A reqwest client (rustls) from `builder` that trusts only the PEM certificate `pem`, in
/// `version`.
pub fn client_trusting(
    pem: &[u8],
    version: HttpVersion,
    builder: reqwest::ClientBuilder,
) -> reqwest::Client {
    let builder = builder
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem).expect("PEM certificate"))
        .https_only(true);
    match version {
        HttpVersion::Alpn => builder,
        HttpVersion::H1 => builder.http1_only(),
        HttpVersion::H2 => builder.http2_prior_knowledge(),
    }
    .build()
    .expect("reqwest client")
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Which HTTP version a test client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// Offer `h2` and `http/1.1` by ALPN; the server picks (h2).
    Alpn,
    /// HTTP/1.1 only.
    H1,
    /// HTTP/2 only.
    H2,
}
