//! Who may connect: the `Origin` check that stops cross-site WebSocket hijacking and cross-site
//! publishing.
//!
//! A browser runs code from every page its user visits, and that code may open connections to any
//! address, `127.0.0.1` included. For ordinary reads the same-origin policy protects the server: a
//! page from `https://evil.example` may send a `fetch` to `http://127.0.0.1:8080/poll/short`, but
//! without CORS headers in the answer the browser will not let it read the response. Two things
//! slip through that protection, and both matter here:
//!
//! - **A WebSocket handshake is not subject to CORS.** Any page can run
//!   `new WebSocket('ws://127.0.0.1:8080/ws')`; if the server accepts, the page reads the feed and
//!   can publish into it with `send`. This is *cross-site WebSocket hijacking*.
//! - **A "simple" cross-site request is sent without asking first.** A `POST` with a `text/plain`
//!   body needs no CORS preflight: the page never sees the answer, but the request *arrives*, so
//!   `/publish` would publish.
//!
//! What the browser does give the server is the `Origin` header, set by the browser itself (page
//! code cannot forge it) on every WebSocket handshake and every cross-origin or non-`GET` request.
//! So the server checks it, on `/ws`, `/ws/echo`, `/sse`, both polls and `/publish`
//! ([`OriginPolicy::check`]):
//!
//! | request | answer |
//! |---|---|
//! | no `Origin` (curl, native clients, the lab's own client, a browser's same-origin `GET`) | served |
//! | `Origin` is the server's own: its scheme (`http`, or `https` with `--tls-cert`), host and port of the request's `Host` or of the bound address (`localhost`, `127.0.0.1` and `[::1]` alike) | served |
//! | `Origin` listed with `--allow-origin URL` | served, with CORS headers |
//! | anything with `--allow-origin '*'` (logged as a warning at start-up) | served, with CORS headers |
//! | any other `Origin`, `null`, or a malformed value | 403 `{"error":"origin not allowed"}` |
//!
//! The 403 comes before any upgrade, subscription or body read, so a refused page gets nothing
//! and changes nothing. CORS headers (`Access-Control-Allow-Origin` echoing the origin, and
//! `Vary: Origin` so caches keep answers per origin) go only to allowed *cross* origins
//! ([`Cors`]); a same-origin page does not need them, and a WebSocket ignores them.
//!
//! What a production server would do differently: authenticate the connection (a token in the
//! first message or a `SameSite` cookie) rather than trust `Origin` alone, which only speaks for
//! browsers; and check `Host` against its own names too, because a page whose DNS name is
//! re-bound to `127.0.0.1` ("DNS rebinding") *is* same-origin with a server that believes any
//! `Host`.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

use crate::error::ApiError;

/// How long a browser may cache the answer to a `/publish` preflight, in seconds.
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// Why a text is not an origin the server can allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// Not `scheme://host[:port]`.
    #[error("{0:?} is not an origin: expected scheme://host[:port], e.g. http://localhost:3000")]
    Malformed(String),
    /// `null` is the origin of every sandboxed frame and local file: allowing it allows them all.
    #[error("the origin `null` cannot be allowed: every sandboxed page and local file sends it")]
    Null,
}

/// A host as an origin or a `Host` header names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IPv4 address, or an IPv6 literal (written `[::1]` in URLs).
    Ip(IpAddr),
    /// A DNS name, lower-cased.
    Name(String),
}

impl Host {
    /// `localhost` or a loopback address (`127.0.0.0/8`, `::1`).
    pub fn is_loopback(&self) -> bool {
        match self {
            Host::Ip(ip) => ip.is_loopback(),
            Host::Name(name) => name == "localhost",
        }
    }

    /// The same host for this policy: equal, or both loopback, since `localhost`, `127.0.0.1` and
    /// `[::1]` all reach the same server and a user types any of them.
    pub fn same_as(&self, other: &Host) -> bool {
        self == other || (self.is_loopback() && other.is_loopback())
    }

    fn parse_name(text: &str) -> Option<Host> {
        if let Ok(v4) = text.parse::<std::net::Ipv4Addr>() {
            return Some(Host::Ip(IpAddr::V4(v4)));
        }
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        (!text.is_empty() && text.chars().all(valid)).then(|| Host::Name(text.to_ascii_lowercase()))
    }
}

/// `host[:port]` as in a URL or a `Host` header; the host may be a bracketed IPv6 literal.
fn parse_authority(text: &str) -> Option<(Host, Option<u16>)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = if after.is_empty() {
            None
        } else {
            Some(after.strip_prefix(':')?)
        };
        (Host::Ip(IpAddr::V6(v6.parse().ok()?)), port)
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        (Host::parse_name(host)?, port)
    };
    let port = match port {
        // `u16::from_str` would take "+80"; an origin's port is digits only.
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().ok()?)
        }
        Some(_) => return None,
        None => None,
    };
    Some((host, port))
}

/// A tuple origin (RFC 6454 §4): scheme, host and port, the port filled in from the scheme when
/// it was left out (`http://localhost` is port 80).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOrigin {
    /// Lower-cased, e.g. `http`.
    pub scheme: String,
    /// The host.
    pub host: Host,
    /// The port; `None` only for a scheme without a default port and none given.
    pub port: Option<u16>,
}

impl WebOrigin {
    /// Whether `other` is this origin: same scheme and port, same host (loopback names alike).
    pub fn same_as(&self, other: &WebOrigin) -> bool {
        self.scheme == other.scheme && self.port == other.port && self.host.same_as(&other.host)
    }
}

impl FromStr for WebOrigin {
    type Err = OriginError;

    /// Parses `scheme://host[:port]` exactly as a browser serialises an origin: no path, no
    /// user info, no white space.
    fn from_str(text: &str) -> Result<Self, OriginError> {
        let malformed = || OriginError::Malformed(text.to_owned());
        let (scheme, authority) = text.split_once("://").ok_or_else(malformed)?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok {
            return Err(malformed());
        }
        let scheme = scheme.to_ascii_lowercase();
        let (host, port) = parse_authority(authority).ok_or_else(malformed)?;
        let port = port.or(match scheme.as_str() {
            "http" | "ws" => Some(80),
            "https" | "wss" => Some(443),
            _ => None,
        });
        Ok(WebOrigin { scheme, host, port })
    }
}

/// One `--allow-origin` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowOrigin {
    /// `*`: every origin (the behaviour of a server that checks nothing).
    Any,
    /// One origin, e.g. `http://localhost:3000`.
    Origin(WebOrigin),
}

/// Parses an `--allow-origin` value: `*`, or an origin (a trailing `/` is forgiven, since URLs
/// are usually copied from the address bar).
pub fn parse_allow_origin(text: &str) -> Result<AllowOrigin, OriginError> {
    let text = text.trim();
    if text == "*" {
        Ok(AllowOrigin::Any)
    } else if text.eq_ignore_ascii_case("null") {
        Err(OriginError::Null)
    } else {
        let text = text.strip_suffix('/').unwrap_or(text);
        text.parse().map(AllowOrigin::Origin)
    }
}

/// What the policy decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No `Origin` header: not a browser's cross-origin request. Served.
    NoOrigin,
    /// The server's own origin. Served, no CORS headers needed.
    SameOrigin,
    /// Another origin, allowed by `--allow-origin`. Served with CORS headers.
    CrossOrigin,
    /// Any other origin, `null`, or a malformed value: 403.
    Refused,
}

/// The origins allowed besides the server's own.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    any: bool,
    listed: Vec<WebOrigin>,
    /// The listener the server's own pages come from.
    bound: BoundListener,
}

impl OriginPolicy {
    /// The policy for these `--allow-origin` values (none: only the server's own origin) on the
    /// listener `bound`.
    pub fn new(allowed: &[AllowOrigin], bound: BoundListener) -> Self {
        let mut policy = OriginPolicy {
            any: false,
            listed: Vec::new(),
            bound,
        };
        for entry in allowed {
            match entry {
                AllowOrigin::Any => policy.any = true,
                AllowOrigin::Origin(origin) => policy.listed.push(origin.clone()),
            }
        }
        policy
    }

    /// Whether `--allow-origin '*'` was given.
    pub fn allows_any(&self) -> bool {
        self.any
    }

    /// Judges an `Origin` header value (`None`: absent) for a request whose `Host` header says
    /// `host` and that arrived on the listener `bound`.
    pub fn judge(
        &self,
        origin: Option<&[u8]>,
        host: Option<&[u8]>,
        bound: BoundListener,
    ) -> Verdict {
        let Some(origin) = origin else {
            return Verdict::NoOrigin;
        };
        let Some(text) = std::str::from_utf8(origin).ok() else {
            return Verdict::Refused;
        };
        if text == "null" {
            // An opaque origin (sandboxed frame, local file, some redirects): only '*' admits it.
            return if self.any {
                Verdict::CrossOrigin
            } else {
                Verdict::Refused
            };
        }
        let Ok(origin) = text.parse::<WebOrigin>() else {
            return Verdict::Refused;
        };
        if is_own(&origin, host, bound) {
            Verdict::SameOrigin
        } else if self.any || self.listed.iter().any(|allowed| allowed.same_as(&origin)) {
            Verdict::CrossOrigin
        } else {
            Verdict::Refused
        }
    }

    /// Checks a request: `Ok` with the CORS headers its answer carries, or the JSON 403.
    pub fn check(&self, req: &HttpRequest) -> Result<Cors, ApiError> {
        let mut origins = req.headers().get_all(header::ORIGIN);
        let origin = origins.next();
        // A browser sends one Origin; two are not a browser, and neither may choose which counts.
        let verdict = if origins.next().is_some() {
            Verdict::Refused
        } else {
            let host = req
                .headers()
                .get(header::HOST)
                .map(HeaderValue::as_bytes)
                // HTTP/2 and absolute-form requests carry the authority in the URI instead.
                .or_else(|| req.uri().authority().map(|a| a.as_str().as_bytes()));
            self.judge(origin.map(HeaderValue::as_bytes), host, self.bound)
        };
        match verdict {
            Verdict::NoOrigin | Verdict::SameOrigin => Ok(Cors::default()),
            Verdict::CrossOrigin => Ok(Cors {
                allow_origin: origin.cloned(),
            }),
            Verdict::Refused => {
                tracing::debug!(origin = ?origin, path = req.path(), "origin not allowed");
                Err(ApiError::OriginNotAllowed)
            }
        }
    }
}

/// The listener a request arrived on: its address, and whether it speaks TLS (which makes the
/// pages it serves `https` origins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundListener {
    /// The bound address.
    pub addr: SocketAddr,
    /// `--tls-cert` was given: the listener serves `https://` and `wss://`.
    pub tls: bool,
}

impl BoundListener {
    /// The scheme of the pages this listener serves: `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// The port a `Host` header without one means for this listener's scheme.
    fn default_port(&self) -> u16 {
        if self.tls { 443 } else { 80 }
    }
}

/// The server's own origin: the listener's scheme (`http`, or `https` under TLS), on the host and
/// port the request was addressed to (its `Host`, the scheme's default port when omitted) or the
/// listener's address.
fn is_own(origin: &WebOrigin, host: Option<&[u8]>, bound: BoundListener) -> bool {
    if origin.scheme != bound.scheme() {
        return false;
    }
    let addressed = host
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(parse_authority)
        .map(|(host, port)| (host, port.unwrap_or(bound.default_port())));
    let listener = (Host::Ip(bound.addr.ip()), bound.addr.port());
    addressed
        .into_iter()
        .chain([listener])
        .any(|(host, port)| origin.port == Some(port) && origin.host.same_as(&host))
}

/// The CORS headers of one answer: present only for an allowed cross origin.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    allow_origin: Option<HeaderValue>,
}

impl Cors {
    /// Whether the request came from an allowed cross origin (and the answer carries headers).
    pub fn is_cross_origin(&self) -> bool {
        self.allow_origin.is_some()
    }

    /// Adds `Access-Control-Allow-Origin` (the request's own `Origin`, echoed) and
    /// `Vary: Origin` for an allowed cross origin; nothing otherwise.
    pub fn apply(&self, response: &mut HttpResponseBuilder) {
        if let Some(origin) = &self.allow_origin {
            response.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()));
            response.insert_header((header::VARY, "Origin"));
        }
    }

    /// The answer to a `POST /publish` preflight: 204, and for an allowed cross origin the
    /// method and header (`Content-Type`, for JSON bodies) it may use, cacheable for
    /// [`PREFLIGHT_MAX_AGE_SECS`].
    pub fn preflight(&self) -> HttpResponse {
        let mut response = HttpResponse::NoContent();
        self.apply(&mut response);
        if self.is_cross_origin() {
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECS));
        }
        response.finish()
    }
}

#[cfg(test)]
mod tests;
