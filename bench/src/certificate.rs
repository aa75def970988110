//! The run's own TLS certificate: made once, when a suite has a case over TLS, and trusted by
//! the client as its only root.
//!
//! The lab never needs a certificate a browser would trust: it measures what TLS costs, and the
//! cost is the same for a self-signed leaf as for one a public CA signed, except for the chain's
//! length. So the runner makes a fresh ECDSA P-256 leaf for `127.0.0.1`, `::1` and `localhost`
//! (what `scripts/make-cert` makes with openssl, here with `rcgen` so that `cargo run` needs
//! nothing installed), writes it into the run's folder, starts each TLS server with it and hands
//! the same file to the client as `--ca`. Nothing is "insecure": a wrong name or key fails the
//! handshake, as it would in production.
//!
//! One caveat a reader should know: a production chain is usually two certificates (leaf and
//! intermediate, RSA or ECDSA, 2–4 KB together); this one is a single ECDSA leaf of about 500
//! bytes, so the handshake bytes measured here are a floor.

use std::path::{Path, PathBuf};

/// The names the certificate is valid for.
pub const NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// rcgen refused (it should not, for these names).
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The files could not be written.
    #[error("cannot write the certificate to {path}: {source}")]
    Write {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A certificate and its key as PEM files: what the server's `--tls-cert`/`--tls-key` and the
/// client's `--ca` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate (also the client's trust anchor: it signs itself).
    pub cert: PathBuf,
    /// Its private key (PKCS#8).
    pub key: PathBuf,
}

impl TlsFiles {
    /// Makes a fresh self-signed pair in `dir` (`cert.pem`, `key.pem`), replacing older ones.
    pub fn generate(dir: &Path) -> Result<TlsFiles, CertificateError> {
        let names: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
        let pair = rcgen::generate_simple_self_signed(names)?;
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        let write = |path: &Path, text: String| {
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(path, text))
                .map_err(|source| CertificateError::Write {
                    path: path.to_path_buf(),
                    source,
                })
        };
        write(&files.cert, pair.cert.pem())?;
        write(&files.key, pair.signing_key.serialize_pem())?;
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_pem_certificate_and_key() {
        let dir = std::env::temp_dir().join(format!("rtlab-cert-test-{}", std::process::id()));
        let files = TlsFiles::generate(&dir).unwrap();
        let cert = std::fs::read_to_string(&files.cert).unwrap();
        let key = std::fs::read_to_string(&files.key).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
