//! HTTP/1.1 requests over a counted socket: hyper's connection API, as oha uses it.
//!
//! A high-level client (reqwest) owns its connections and never shows their bytes: its connector
//! types are sealed. One layer down, `hyper::client::conn::http1::handshake` takes *any*
//! `AsyncRead + AsyncWrite`, here a [`WireCounter`] around a
//! `TcpStream`, and returns a `SendRequest` handle plus the `Connection` future that does the
//! actual reading and writing. The client then sees every byte of every request and response
//! head, which is the whole point for polling: its cost is in those heads.
//!
//! Requests carry only what HTTP/1.1 requires (`Host`) and, for a body, its type and length, so
//! the measured head sizes are the floor of what a poll costs; a browser adds hundreds of bytes
//! of headers more (see the guide).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::task::JoinHandle;

use crate::config::Target;
use crate::transport::SubError;
use crate::wire_counter::{ByteTally, WireCounter};

/// One keep-alive HTTP/1.1 connection, requests one at a time.
#[derive(Debug)]
pub struct HttpClient {
    sender: SendRequest<Full<Bytes>>,
    conn: JoinHandle<()>,
    authority: String,
}

impl HttpClient {
    /// Connects to `addr` and performs hyper's (empty) HTTP/1 handshake. `handshake` is the
    /// wait a shaped dial adds after `connect()` (see `network::Shaper::handshake`; zero when
    /// not shaping).
    pub async fn open(
        addr: SocketAddr,
        target: &Target,
        index: u64,
        total: u64,
        tally: Arc<ByteTally>,
        handshake: std::time::Duration,
    ) -> Result<Self, SubError> {
        let stream = crate::source_addr::dial(addr, index, total, handshake)
            .await
            .map_err(SubError::Connect)?;
        let io = TokioIo::new(WireCounter::new(stream, tally));
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| SubError::Closed(e.to_string()))?;
        // The connection future does the IO; it ends when the server closes or we drop `sender`.
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            conn,
            authority: target.authority.clone(),
        })
    }

    /// Whether the server has closed this connection (time to open another).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends one request and reads the whole response body into `body` (reused between calls,
    /// so polling allocates no new buffer per answer).
    pub async fn request(
        &mut self,
        method: Method,
        path_and_query: &str,
        payload: Bytes,
        body: &mut Vec<u8>,
    ) -> Result<StatusCode, SubError> {
        self.sender.ready().await.map_err(hyper_error)?;
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(header::HOST, &self.authority);
        if !payload.is_empty() {
            req = req.header(header::CONTENT_TYPE, "text/plain");
        }
        let req = req
            .body(Full::new(payload))
            .map_err(|e| SubError::Protocol(format!("cannot build request: {e}")))?;
        let resp = self.sender.send_request(req).await.map_err(hyper_error)?;
        let status = resp.status();
        body.clear();
        let mut incoming = resp.into_body();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(hyper_error)?;
            if let Some(data) = frame.data_ref() {
                body.extend_from_slice(data);
            }
        }
        Ok(status)
    }
}

/// A hyper error as a subscriber error: bytes that are not HTTP are the server's protocol
/// mistake; anything else is the connection failing.
pub fn hyper_error(e: hyper::Error) -> SubError {
    if e.is_parse() || e.is_parse_status() {
        SubError::Protocol(format!("the server's answer is not HTTP/1.1: {e}"))
    } else {
        SubError::Closed(e.to_string())
    }
}

impl Drop for HttpClient {
    fn drop(&mut self) {
        // A parked long poll keeps the connection task waiting; don't leave it behind.
        self.conn.abort();
    }
}
