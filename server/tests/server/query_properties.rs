//! Property tests of the query parsers (`after`, `timeout_ms`) and of `Last-Event-ID`: arbitrary
//! text, against the real server on a free port.
//!
//! The oracle is Rust's own `u64` parsing (what the contract calls "a decimal u64"): a text that
//! parses is served and means exactly that number, anything else is a JSON 400, and nothing is
//! ever a 5xx, a panic or a hang. Each value is checked twice: in process, where the parsed
//! number can be compared exactly (the whole `u64` range), and over HTTP, where it must decide
//! the status and which events come back. The server holds [`EVENTS`] events, so `after=N`
//! round-trips visibly: the answer starts at seq N+1.

use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::web::Query;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rtlab_server::RunningServer;
use rtlab_server::transport::AfterQuery;
use rtlab_server::transport::long_poll::LongPollQuery;
use rtlab_server::transport::sse::{LAST_EVENT_ID, last_event_id};
use rtlab_wire::defaults::LONG_POLL_TIMEOUT_MAX_MS;

use crate::common::*;

/// Events published before the properties run.
const EVENTS: u64 = 5;

/// Cases per property: enough to hit every branch, few enough for a fast suite.
const CASES: u32 = 128;

/// Texts that are decimal u64s and texts that almost are, or are anything at all.
fn seq_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..EVENTS + 2).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[+-]?[0-9]{0,22}",
        "[0-9 .eE+_x-]{0,8}",
        any::<String>(),
    ]
}

/// `key=value`, percent-encoded as a browser or `reqwest` would.
fn query(key: &str, value: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a URL");
    url.query_pairs_mut().append_pair(key, value);
    url.query().unwrap_or_default().to_owned()
}

/// A multi-threaded runtime with the real server on it, [`EVENTS`] events published.
fn server() -> (tokio::runtime::Runtime, RunningServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let server = rt.block_on(async {
        let server = start(|_| {}).await;
        for i in 1..=EVENTS {
            publish(server.http_addr(), &format!("e{i}")).await;
        }
        server
    });
    (rt, server)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        // The failing input is printed; no regression file is written into the source tree.
        failure_persistence: None,
        ..Config::default()
    })
}

/// Whether the history holds an event after `after` (`None`: not a number, nothing due).
fn due(after: Option<u64>) -> bool {
    after
        .and_then(|n| n.checked_add(1))
        .is_some_and(|seq| seq <= EVENTS)
}

/// GET `path_and_query` (with `Last-Event-ID: header` if given): status and body. A 200 stream
/// (`/sse`) never ends, so of it only the first block is read, and only when `block_due`.
async fn get(
    server: &RunningServer,
    path_and_query: &str,
    header: Option<&HeaderValue>,
    block_due: bool,
) -> (u16, bytes::Bytes) {
    within(path_and_query, async {
        let mut req = reqwest::Client::new().get(url(server.http_addr(), path_and_query));
        if let Some(value) = header {
            req = req.header(LAST_EVENT_ID, value.as_bytes());
        }
        let mut resp = req.send().await.expect("a response");
        let status = resp.status().as_u16();
        if !(path_and_query.starts_with("/sse") && status == 200) {
            return (status, resp.bytes().await.expect("a body"));
        }
        let mut block = Vec::new();
        while block_due && !block.windows(2).any(|w| w == b"\n\n") {
            let chunk = resp.chunk().await.expect("the stream").expect("a block");
            block.extend_from_slice(&chunk);
        }
        (status, block.into())
    })
    .await
}

/// Asserts what an HTTP answer must be for a value the oracle parsed as `parsed`: the events
/// after it for a number, the contract's JSON 400 otherwise.
fn check_answer(
    what: &str,
    (status, body): (u16, bytes::Bytes),
    parsed: Option<u64>,
) -> Result<(), TestCaseError> {
    let Some(after) = parsed else {
        prop_assert_eq!(status, 400, "{}: {:?}", what, body);
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| TestCaseError::fail(format!("{what}: not JSON ({e}): {body:?}")))?;
        prop_assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{}: {}",
            what,
            json
        );
        return Ok(());
    };
    prop_assert_eq!(status, 200, "{}: {:?}", what, body);
    let first = after.checked_add(1).filter(|&seq| seq <= EVENTS);
    if what.starts_with("/sse") {
        let expected = first.map_or(String::new(), |seq| format!("id: {seq}\n"));
        prop_assert!(
            body.starts_with(expected.as_bytes()),
            "{}: {:?}",
            what,
            body
        );
    } else {
        let events = rtlab_wire::EventView::parse_array(&body)
            .map_err(|e| TestCaseError::fail(format!("{what}: not an event array ({e})")))?;
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        let expected: Vec<u64> = first.map_or(Vec::new(), |seq| (seq..=EVENTS).collect());
        prop_assert_eq!(seqs, expected, "{}", what);
    }
    Ok(())
}

/// `after=TEXT` on `/poll/short`, `/poll/long` and `/sse`.
#[test]
fn after_is_a_u64_or_a_json_400() {
    let (rt, server) = server();
    runner()
        .run(&seq_text(), |text| {
            let parsed = text.parse::<u64>().ok();
            let q = query("after", &text);
            let in_process = Query::<AfterQuery>::from_query(&q).ok().map(|q| q.after);
            prop_assert_eq!(in_process, parsed.map(Some), "{:?}", q);
            for path in ["/poll/short?", "/poll/long?timeout_ms=0&", "/sse?"] {
                let what = format!("{path}{q}");
                check_answer(
                    &what,
                    rt.block_on(get(&server, &what, None, due(parsed))),
                    parsed,
                )?;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(server.shutdown()).expect("shutdown");
}

/// `timeout_ms=TEXT` on `/poll/long?after=0`: a u64 up to 60000 waits that long at most (here
/// nothing, the events are there); anything else, a larger number included, is a JSON 400.
#[test]
fn timeout_ms_is_a_bounded_u64_or_a_json_400() {
    let (rt, server) = server();
    let text = prop_oneof![
        (0..=LONG_POLL_TIMEOUT_MAX_MS).prop_map(|n| n.to_string()),
        (LONG_POLL_TIMEOUT_MAX_MS - 3..=LONG_POLL_TIMEOUT_MAX_MS + 3).prop_map(|n| n.to_string()),
        seq_text(),
    ];
    runner()
        .run(&text, |text| {
            let number = text.parse::<u64>().ok();
            let q = query("timeout_ms", &text);
            let parsed = Query::<LongPollQuery>::from_query(&q)
                .ok()
                .map(Query::into_inner);
            prop_assert_eq!(parsed.map(|q| q.timeout_ms), number.map(Some), "{:?}", q);
            let bounded = number.filter(|&ms| ms <= LONG_POLL_TIMEOUT_MAX_MS);
            let timeout = parsed.and_then(|q| q.timeout().ok());
            prop_assert_eq!(timeout, bounded.map(Duration::from_millis), "{:?}", q);
            let what = format!("/poll/long?after=0&{q}");
            // `after=0` is a u64, so the oracle's verdict on the whole request is the timeout's.
            let answer = rt.block_on(get(&server, &what, None, false));
            check_answer(&what, answer, bounded.map(|_| 0))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(server.shutdown()).expect("shutdown");
}

/// `Last-Event-ID: VALUE` on `/sse`, with any bytes a header may carry: the ASCII value, trimmed,
/// is a u64 (the stream resumes after it) or the answer is a JSON 400.
#[test]
fn last_event_id_is_a_u64_or_a_json_400() {
    let (rt, server) = server();
    let header_byte = prop_oneof![Just(b'\t'), 0x20u8..=0x7E, 0x80u8..=0xFF];
    let value = prop_oneof![
        seq_text().prop_map(String::into_bytes),
        (0..EVENTS + 2).prop_map(|n| format!("  {n}\t").into_bytes()),
        prop::collection::vec(header_byte, 0..24),
    ];
    runner()
        .run(&value, |bytes| {
            let Ok(value) = HeaderValue::from_bytes(&bytes) else {
                return Ok(()); // not a header value at all (a control character): cannot be sent
            };
            let parsed = value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok());
            let mut headers = HeaderMap::new();
            headers.insert(HeaderName::from_static(LAST_EVENT_ID), value.clone());
            let in_process = last_event_id(&headers).ok();
            prop_assert_eq!(in_process, parsed.map(Some), "{:?}", value);
            let what = format!("/sse with Last-Event-ID {value:?}");
            let answer = rt.block_on(get(&server, "/sse", Some(&value), due(parsed)));
            check_answer(&what, answer, parsed)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(server.shutdown()).expect("shutdown");
}
