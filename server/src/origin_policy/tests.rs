//! Unit tests of the origin policy: parsing, the same-origin rule, the list, `*`, and malformed
//! values (a 403, never a panic).

use std::net::SocketAddr;

use actix_web::ResponseError;
use actix_web::body::MessageBody;
use actix_web::test::TestRequest;
use proptest::prelude::*;

use super::*;

const BOUND: &str = "127.0.0.1:8080";

fn bound() -> BoundListener {
    BoundListener {
        addr: BOUND.parse::<SocketAddr>().expect("a socket address"),
        tls: false,
    }
}

fn origin(text: &str) -> WebOrigin {
    text.parse()
        .unwrap_or_else(|e| panic!("{text} should parse: {e}"))
}

fn policy(allowed: &[&str]) -> OriginPolicy {
    let allowed: Vec<_> = allowed
        .iter()
        .map(|a| parse_allow_origin(a).expect("a valid --allow-origin"))
        .collect();
    OriginPolicy::new(&allowed, bound())
}

/// The verdict for `Origin: origin` on a request with `Host: host`, bound to [`BOUND`].
fn judge(policy: &OriginPolicy, origin: &str, host: &str) -> Verdict {
    policy.judge(Some(origin.as_bytes()), Some(host.as_bytes()), bound())
}

#[test]
fn origins_parse_with_default_ports() {
    let o = origin("http://LocalHost");
    assert_eq!(o.scheme, "http");
    assert_eq!(o.host, Host::Name("localhost".into()));
    assert_eq!(o.port, Some(80));
    assert_eq!(origin("https://evil.example").port, Some(443));
    assert_eq!(origin("HTTP://127.0.0.1:3000").port, Some(3000));
    assert_eq!(
        origin("http://[::1]:8080").host,
        Host::Ip("::1".parse().expect("an IPv6 address"))
    );
    assert_eq!(origin("chrome-extension://abcdef").port, None);
}

#[test]
fn malformed_origins_do_not_parse() {
    for bad in [
        "",
        "evil.example",
        "://evil.example",
        "1http://evil.example",
        "http://",
        "http://evil.example/",
        "http://evil.example/path",
        "http://user@evil.example",
        "http://evil.example:",
        "http://evil.example:+80",
        "http://evil.example:65536",
        "http://evil.example:123456",
        "http://evil example",
        "http://[::1",
        "http://[::1]x",
        "http://[nonsense]:80",
        "http://a:b:c",
        "http://evil.example, http://127.0.0.1:8080",
    ] {
        assert!(bad.parse::<WebOrigin>().is_err(), "{bad:?} parsed");
    }
}

#[test]
fn the_servers_own_origin_is_same_origin_whatever_loopback_name() {
    let p = policy(&[]);
    for (origin, host) in [
        ("http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("http://localhost:8080", "127.0.0.1:8080"),
        ("http://127.0.0.1:8080", "localhost:8080"),
        ("http://[::1]:8080", "localhost:8080"),
        ("http://LOCALHOST:8080", "Localhost:8080"),
        // A name the server is reached by, through its Host header (port 80 when left out).
        ("http://lab.example:8080", "lab.example:8080"),
        ("http://lab.example", "lab.example"),
    ] {
        assert_eq!(
            judge(&p, origin, host),
            Verdict::SameOrigin,
            "{origin} on Host {host}"
        );
    }
    // Without a Host header the bound address decides.
    assert_eq!(
        p.judge(Some(b"http://localhost:8080"), None, bound()),
        Verdict::SameOrigin
    );
}

#[test]
fn another_scheme_port_or_host_is_refused() {
    let p = policy(&[]);
    for origin in [
        "https://127.0.0.1:8080",
        "http://127.0.0.1:8081",
        "http://127.0.0.1",
        "https://evil.example",
        "http://evil.example:8080",
        "ws://127.0.0.1:8080",
        "null",
    ] {
        assert_eq!(
            judge(&p, origin, "127.0.0.1:8080"),
            Verdict::Refused,
            "{origin}"
        );
    }
}

#[test]
fn malformed_or_non_utf8_origins_are_refused_not_errors() {
    let p = policy(&["*"]);
    for origin in [
        &b""[..],
        b" ",
        b"http://evil.example/",
        b"http://\xff.example",
        b"\xc3\x28",
    ] {
        assert_eq!(
            p.judge(Some(origin), Some(b"127.0.0.1:8080"), bound()),
            Verdict::Refused,
            "{origin:?}"
        );
    }
    // A malformed Host is not the server's own: the bound address still counts.
    assert_eq!(
        judge(&policy(&[]), "http://127.0.0.1:8080", "\u{1}"),
        Verdict::SameOrigin
    );
}

#[test]
fn listed_origins_are_cross_origin_and_others_stay_refused() {
    let p = policy(&["http://localhost:3000/", "https://app.example"]);
    assert!(!p.allows_any());
    assert_eq!(
        judge(&p, "http://localhost:3000", BOUND),
        Verdict::CrossOrigin
    );
    // Loopback names alike in the list too.
    assert_eq!(
        judge(&p, "http://127.0.0.1:3000", BOUND),
        Verdict::CrossOrigin
    );
    assert_eq!(
        judge(&p, "https://app.example:443", BOUND),
        Verdict::CrossOrigin
    );
    assert_eq!(judge(&p, "http://app.example", BOUND), Verdict::Refused);
    assert_eq!(judge(&p, "http://localhost:3001", BOUND), Verdict::Refused);
    assert_eq!(judge(&p, "https://evil.example", BOUND), Verdict::Refused);
    // The own origin stays same-origin, with no CORS headers needed.
    assert_eq!(
        judge(&p, "http://127.0.0.1:8080", BOUND),
        Verdict::SameOrigin
    );
}

#[test]
fn star_allows_every_well_formed_origin() {
    let p = policy(&["*"]);
    assert!(p.allows_any());
    for origin in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        assert_eq!(judge(&p, origin, BOUND), Verdict::CrossOrigin, "{origin}");
    }
    assert_eq!(
        judge(&p, "http://localhost:8080", BOUND),
        Verdict::SameOrigin
    );
}

#[test]
fn no_origin_is_always_served() {
    for p in [policy(&[]), policy(&["https://app.example"])] {
        assert_eq!(p.judge(None, None, bound()), Verdict::NoOrigin);
    }
}

#[test]
fn allow_origin_values_parse_or_explain() {
    assert_eq!(parse_allow_origin(" * "), Ok(AllowOrigin::Any));
    assert_eq!(
        parse_allow_origin("http://localhost:3000/"),
        Ok(AllowOrigin::Origin(origin("http://localhost:3000")))
    );
    assert_eq!(parse_allow_origin("null"), Err(OriginError::Null));
    let err = parse_allow_origin("localhost:3000").expect_err("no scheme");
    assert!(err.to_string().contains("scheme://host"), "{err}");
    assert!(parse_allow_origin("http://localhost:3000/app").is_err());
}

/// Runs [`OriginPolicy::check`] on a request built with these headers.
fn check(policy: &OriginPolicy, headers: &[(&str, &str)]) -> Result<Cors, ApiError> {
    let mut req = TestRequest::get().uri("/ws");
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    policy.check(&req.to_http_request())
}

#[test]
fn check_answers_403_json_or_the_cors_headers() {
    let p = policy(&["https://app.example"]);
    let refused = check(&p, &[("origin", "https://evil.example")]).expect_err("refused");
    assert_eq!(refused.status_code().as_u16(), 403);
    let body = refused
        .error_response()
        .into_body()
        .try_into_bytes()
        .expect("a JSON body");
    assert_eq!(&body[..], br#"{"error":"origin not allowed"}"#);

    let cors = check(&p, &[("origin", "https://app.example")]).expect("listed");
    assert!(cors.is_cross_origin());
    let mut response = HttpResponse::Ok();
    cors.apply(&mut response);
    let response = response.finish();
    assert_eq!(
        response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(&HeaderValue::from_static("https://app.example"))
    );
    assert_eq!(
        response.headers().get(header::VARY),
        Some(&HeaderValue::from_static("Origin"))
    );

    // A TestRequest has no Host header and is "bound" to 127.0.0.1:8080: that address decides.
    let own = check(&p, &[("origin", "http://localhost:8080")]).expect("own origin");
    assert!(!own.is_cross_origin());
    assert!(!check(&p, &[]).expect("no origin").is_cross_origin());
}

#[test]
fn two_origin_headers_are_refused() {
    let p = policy(&["*"]);
    let req = TestRequest::get()
        .append_header(("origin", "https://a.example"))
        .append_header(("origin", "https://b.example"))
        .to_http_request();
    assert!(p.check(&req).is_err());
}

#[test]
fn preflight_names_the_method_and_header_only_for_cross_origins() {
    let cross = check(&policy(&["*"]), &[("origin", "https://app.example")]).expect("allowed");
    let answer = cross.preflight();
    assert_eq!(answer.status().as_u16(), 204);
    let h = answer.headers();
    assert_eq!(
        h.get(header::ACCESS_CONTROL_ALLOW_METHODS)
            .map(|v| v.as_bytes()),
        Some(&b"POST"[..])
    );
    assert_eq!(
        h.get(header::ACCESS_CONTROL_ALLOW_HEADERS)
            .map(|v| v.as_bytes()),
        Some(&b"content-type"[..])
    );
    assert_eq!(
        h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.as_bytes()),
        Some(&b"https://app.example"[..])
    );
    let same = Cors::default().preflight();
    assert_eq!(same.status().as_u16(), 204);
    assert!(
        same.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[test]
fn under_tls_the_own_origin_is_https() {
    let p = policy(&[]);
    let tls = BoundListener {
        tls: true,
        ..bound()
    };
    let verdict = |origin: &str, host: Option<&str>| {
        p.judge(Some(origin.as_bytes()), host.map(str::as_bytes), tls)
    };
    assert_eq!(
        verdict("https://127.0.0.1:8080", Some(BOUND)),
        Verdict::SameOrigin
    );
    assert_eq!(verdict("https://localhost:8080", None), Verdict::SameOrigin);
    // `Host` without a port means 443 under TLS.
    assert_eq!(
        verdict("https://localhost", Some("localhost")),
        Verdict::SameOrigin
    );
    // The plain-http page on the same host and port is another origin (and another server).
    assert_eq!(
        verdict("http://127.0.0.1:8080", Some(BOUND)),
        Verdict::Refused
    );
    assert_eq!(
        judge(&p, "https://127.0.0.1:8080", BOUND),
        Verdict::Refused,
        "https is not the plain listener's own origin"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes at all as `Origin` and `Host`: a verdict, never a panic; and without `*` or a
    /// list, only the server's own `http` origin is ever let in.
    #[test]
    fn any_origin_bytes_get_a_verdict(
        origin in prop::collection::vec(any::<u8>(), 0..40),
        host in prop::collection::vec(any::<u8>(), 0..24),
    ) {
        let verdict = policy(&[]).judge(Some(&origin), Some(&host), bound());
        if verdict == Verdict::SameOrigin {
            let text = std::str::from_utf8(&origin).expect("a same origin is UTF-8");
            prop_assert!(text.to_ascii_lowercase().starts_with("http://"), "{text:?}");
        } else {
            prop_assert_eq!(verdict, Verdict::Refused);
        }
        let _ = policy(&["*", "https://app.example"]).judge(Some(&origin), Some(&host), bound());
    }

    /// Origins built from parts parse back into those parts.
    #[test]
    fn built_origins_round_trip(
        scheme in "(http|https|ws|wss|chrome-extension)",
        host in "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,6}){0,2}",
        port in proptest::option::of(any::<u16>()),
    ) {
        let text = match port {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        let parsed: WebOrigin = text.parse().expect("a built origin parses");
        prop_assert_eq!(&parsed.scheme, &scheme);
        prop_assert!(parsed.host.same_as(&Host::Name(host.clone())));
        if let Some(port) = port {
            prop_assert_eq!(parsed.port, Some(port));
        }
    }
}
