//! [`Target`]: a server address parsed from a URL, the client's one reading of `--url`.
//!
//! The engine resolves a target once and every subscriber connects to the resulting socket
//! address, so 10 000 subscribers do not ask the resolver 10 000 times; the wire tracer
//! (`rtlab-client trace`) reads its `--url` by the same rules. The scheme says whether the
//! connections speak TLS: `https://` (and `wss://` for ws) for the web transports, `tls://` for
//! the raw-TCP baseline.

use std::net::SocketAddr;

use http::Uri;
use rtlab_wire::Transport;

use crate::RunError;

/// A server address parsed from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or address literal, as written.
    pub host: String,
    /// Port (80 when an `http` URL names none).
    pub port: u16,
    /// `host:port`, for the `Host` header.
    pub authority: String,
    /// Path prefix before the contract's paths, without a trailing `/` (usually empty).
    pub base_path: String,
    /// Whether connections to it speak TLS (`https://`, `wss://`, `tls://`).
    pub tls: bool,
}

impl Target {
    /// Parses `url` as the transport needs it: `tcp://HOST:PORT` (or `tls://HOST:PORT`) for
    /// tcp, `http://…` or `https://…` otherwise, and for ws also `ws://…` or `wss://…`.
    pub fn parse(url: &str, transport: Transport) -> Result<Target, RunError> {
        match transport {
            Transport::Tcp => Self::parse_scheme(url, &[("tcp", None, false), ("tls", None, true)]),
            Transport::Ws => Self::parse_scheme(
                url,
                &[
                    ("http", Some(80), false),
                    ("https", Some(443), true),
                    ("ws", Some(80), false),
                    ("wss", Some(443), true),
                ],
            ),
            _ => Self::parse_http(url),
        }
    }

    /// Parses an `http://HOST[:PORT][/prefix]` or `https://…` URL.
    pub fn parse_http(url: &str) -> Result<Target, RunError> {
        Self::parse_scheme(
            url,
            &[("http", Some(80), false), ("https", Some(443), true)],
        )
    }

    /// Parses a bare `HOST:PORT` (no scheme, no path) by the rules of a `tcp://` URL: how the
    /// tracer's `--tcp-addr` names the raw-TCP baseline listener.
    pub fn parse_host_port(addr: &str) -> Result<Target, RunError> {
        Self::parse_scheme(&format!("tcp://{addr}"), &[("tcp", None, false)])
            .ok()
            .filter(|t| t.base_path.is_empty())
            .ok_or_else(|| RunError::Config(format!("bad address {addr:?}: expected HOST:PORT")))
    }

    /// The raw-TCP baseline listener beside this HTTP server: the same host, at the port of the
    /// contract's default baseline address (8081). For tools that were given only the HTTP URL.
    pub fn tcp_baseline(&self) -> Target {
        // The contract's constant always parses; 8081 is what it says.
        let port = rtlab_wire::defaults::TCP_ADDR
            .parse::<SocketAddr>()
            .map_or(8081, |a| a.port());
        Target::from_parts(self.host.clone(), port, String::new())
    }

    /// A target from its parts; `host` without brackets, even for an IPv6 literal.
    fn from_parts(host: String, port: u16, base_path: String) -> Target {
        Self::from_parts_tls(host, port, base_path, false)
    }

    fn from_parts_tls(host: String, port: u16, base_path: String, tls: bool) -> Target {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Target {
            host,
            port,
            authority,
            base_path,
            tls,
        }
    }

    /// Parses `url` with one of `schemes`: (scheme, default port, TLS).
    fn parse_scheme(url: &str, schemes: &[(&str, Option<u16>, bool)]) -> Result<Target, RunError> {
        let bad = |why: &str| RunError::Config(format!("bad URL {url:?}: {why}"));
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let expected = schemes
            .iter()
            .map(|(s, _, _)| format!("{s}://"))
            .collect::<Vec<_>>()
            .join(" or ");
        let (default_port, tls) = match uri.scheme_str() {
            Some(s) => match schemes
                .iter()
                .find(|(name, _, _)| s.eq_ignore_ascii_case(name))
            {
                Some(&(_, port, tls)) => (port, tls),
                None => return Err(bad(&format!("expected {expected}, not {s}://"))),
            },
            None => return Err(bad(&format!("expected {expected}HOST:PORT"))),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let port = uri
            .port_u16()
            .or(default_port)
            .ok_or_else(|| bad("no port"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let base_path = uri.path().trim_end_matches('/').to_owned();
        if uri.query().is_some() {
            return Err(bad("a base URL takes no query"));
        }
        Ok(Target::from_parts_tls(host, port, base_path, tls))
    }

    /// The base path joined with a contract path, e.g. `/ws`.
    pub fn path(&self, contract_path: &str) -> String {
        format!("{}{}", self.base_path, contract_path)
    }

    /// Resolves the host once.
    pub async fn resolve(&self) -> Result<SocketAddr, RunError> {
        let err = |source| RunError::Resolve {
            host: self.host.clone(),
            source,
        };
        let mut addrs = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(err)?;
        addrs.next().ok_or_else(|| {
            err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no address",
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_parse_with_default_port_and_prefix() {
        let t = Target::parse_http("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.base_path.as_str()),
            ("127.0.0.1", 8080, "")
        );
        assert_eq!(t.authority, "127.0.0.1:8080");
        let t = Target::parse_http("http://example.org/lab/").unwrap();
        assert_eq!((t.port, t.path("/ws").as_str()), (80, "/lab/ws"));
        let t = Target::parse_http("http://[::1]:9000").unwrap();
        assert_eq!(
            (t.host.as_str(), t.authority.as_str()),
            ("::1", "[::1]:9000")
        );
    }

    #[test]
    fn tcp_needs_its_scheme_and_a_port() {
        assert_eq!(
            Target::parse("tcp://127.0.0.1:8081", Transport::Tcp)
                .unwrap()
                .port,
            8081
        );
        assert!(Target::parse("tcp://127.0.0.1", Transport::Tcp).is_err());
        assert!(Target::parse("http://127.0.0.1:8081", Transport::Tcp).is_err());
        assert!(Target::parse("tcp://127.0.0.1:8081", Transport::Ws).is_err());
    }

    #[test]
    fn bare_addresses_and_the_baseline_beside_an_http_server() {
        let t = Target::parse_host_port("127.0.0.1:9001").unwrap();
        assert_eq!((t.authority.as_str(), t.port), ("127.0.0.1:9001", 9001));
        let t = Target::parse_host_port("[::1]:9001").unwrap();
        assert_eq!(
            (t.host.as_str(), t.authority.as_str()),
            ("::1", "[::1]:9001")
        );
        for bad in ["127.0.0.1", "127.0.0.1:1/x", "", "http://127.0.0.1:1"] {
            let e = Target::parse_host_port(bad).unwrap_err();
            assert!(e.is_usage(), "{bad}: {e}");
        }
        let http = Target::parse_http("http://[::1]:8080/lab").unwrap();
        let tcp = http.tcp_baseline();
        assert_eq!(
            (tcp.authority.as_str(), tcp.base_path.as_str()),
            ("[::1]:8081", "")
        );
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for url in [
            "",
            "127.0.0.1:8080",
            "wss://x",
            "tls://x:1",
            "http://",
            "ftp://x:1",
            "http://h:1/?q",
        ] {
            let e = Target::parse(url, Transport::Sse).unwrap_err();
            assert!(e.is_usage(), "{url}: {e}");
        }
    }

    #[test]
    fn tls_schemes_per_transport() {
        let t = Target::parse("https://127.0.0.1:8443", Transport::Sse).unwrap();
        assert!(t.tls && t.port == 8443);
        assert_eq!(Target::parse_http("https://example.org").unwrap().port, 443);
        assert!(!Target::parse_http("http://127.0.0.1:1").unwrap().tls);
        for (url, tls) in [
            ("wss://127.0.0.1:8443", true),
            ("https://127.0.0.1:8443", true),
            ("ws://127.0.0.1:8080", false),
        ] {
            assert_eq!(Target::parse(url, Transport::Ws).unwrap().tls, tls, "{url}");
        }
        assert!(
            Target::parse("tls://127.0.0.1:8444", Transport::Tcp)
                .unwrap()
                .tls
        );
        assert!(Target::parse("tls://127.0.0.1:8444", Transport::Ws).is_err());
        assert!(Target::parse("wss://127.0.0.1:8443", Transport::LongPoll).is_err());
    }
}
