//! HTTP/1.1 and HTTP/2 requests over a counted socket: hyper's connection API, as oha uses it.
//!
//! A high-level client (reqwest) owns its connections and never shows their bytes: its connector
//! types are sealed. One layer down, `hyper::client::conn::http1::handshake` takes *any*
//! `AsyncRead + AsyncWrite`, here a [`WireCounter`] around a
//! `TcpStream`, and returns a `SendRequest` handle plus the `Connection` future that does the
//! actual reading and writing. The client then sees every byte of every request and response
//! head, which is the whole point for polling: its cost is in those heads.
//!
//! Over HTTP/2 (`--http 2`, TLS with ALPN `h2`) the same handshake call takes the other
//! protocol: every request is a stream on one connection, and its head is HPACK-compressed
//! against the heads before it, so a poll's second request costs a few bytes where HTTP/1.1
//! repeats the whole head. Several subscribers may [`share`](HttpClient::share) one HTTP/2
//! connection (`--streams-per-connection`).
//!
//! Requests carry only what HTTP/1.1 requires (`Host`) and, for a body, its type and length, so
//! the measured head sizes are the floor of what a poll costs; a browser adds hundreds of bytes
//! of headers more (see the guide).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::task::JoinHandle;

use crate::config::{HttpVersion, Target};
use crate::feed_epoch::epoch_of;
use crate::tls::{NetStream, TlsConnector};
use crate::transport::SubError;
use crate::wire_counter::{ByteTally, WireCounter};

/// The request half of one connection: HTTP/1.1 (a request at a time) or HTTP/2 (a stream
/// per request, any number at once).
#[derive(Debug)]
enum Sender {
    Http1(http1::SendRequest<Full<Bytes>>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

/// The task that drives one connection's IO; aborted when the last client using it is dropped
/// (a parked long poll keeps it waiting otherwise).
#[derive(Debug)]
struct ConnTask(JoinHandle<()>);

impl Drop for ConnTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One keep-alive connection: HTTP/1.1, requests one at a time, or HTTP/2, whose clients may
/// be [`share`](Self::share)d, each request its own stream.
#[derive(Debug)]
pub struct HttpClient {
    sender: Sender,
    conn: Arc<ConnTask>,
    authority: String,
    /// `https` or `http`: HTTP/2 names it in every request (`:scheme`).
    scheme: &'static str,
}

impl HttpClient {
    /// Performs hyper's handshake over a counted connection (already through TLS if any): for
    /// HTTP/1 nothing is sent; for HTTP/2 the connection preface and `SETTINGS`, which the
    /// server's `SETTINGS` answer (read by the connection task).
    pub async fn handshake(
        io: WireCounter<NetStream>,
        target: &Target,
        version: HttpVersion,
    ) -> Result<Self, SubError> {
        let io = TokioIo::new(io);
        let (sender, conn) = match version {
            HttpVersion::Http1 => {
                let (sender, conn) = http1::handshake(io).await.map_err(hyper_error)?;
                // The connection future does the IO; it ends when the server closes or we
                // drop `sender`.
                (
                    Sender::Http1(sender),
                    tokio::spawn(async move {
                        let _ = conn.await;
                    }),
                )
            }
            HttpVersion::Http2 => {
                let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(hyper_error)?;
                (
                    Sender::Http2(sender),
                    tokio::spawn(async move {
                        let _ = conn.await;
                    }),
                )
            }
        };
        Ok(Self {
            sender,
            conn: Arc::new(ConnTask(conn)),
            authority: target.authority.clone(),
            scheme: if target.tls { "https" } else { "http" },
        })
    }

    /// Dials `addr` (a shaped dial waits `handshake` more), runs TLS if `tls` is given, and
    /// performs the HTTP/1.1 handshake: the POST publisher's connection, whose bytes are
    /// counted above TLS only (into `tally`).
    pub async fn open(
        addr: SocketAddr,
        target: &Target,
        (index, total): (u64, u64),
        handshake: std::time::Duration,
        tls: Option<&TlsConnector>,
        tally: Arc<ByteTally>,
    ) -> Result<Self, SubError> {
        let stream = crate::source_addr::dial(addr, index, total, handshake, None)
            .await
            .map_err(SubError::Connect)?;
        let io = crate::tls::secure(stream, tls, tally, ByteTally::new_shared())
            .await
            .map_err(|e| SubError::Tls(e.to_string()))?;
        Self::handshake(io, target, HttpVersion::Http1).await
    }

    /// Another client on the same HTTP/2 connection (its requests are new streams); `None` for
    /// HTTP/1.1, whose connection serves one request at a time.
    pub fn share(&self) -> Option<Self> {
        match &self.sender {
            Sender::Http1(_) => None,
            Sender::Http2(s) => Some(Self {
                sender: Sender::Http2(s.clone()),
                conn: self.conn.clone(),
                authority: self.authority.clone(),
                scheme: self.scheme,
            }),
        }
    }

    /// Whether the server has closed this connection (time to open another).
    pub fn is_closed(&self) -> bool {
        match &self.sender {
            Sender::Http1(s) => s.is_closed(),
            Sender::Http2(s) => s.is_closed(),
        }
    }

    /// Sends one request and returns the response with its body still to read.
    pub async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        payload: Bytes,
        accept: Option<&str>,
    ) -> Result<Response<Incoming>, SubError> {
        let mut req = Request::builder().method(method);
        req = match self.sender {
            // HTTP/1.1: origin-form and a `Host` header, the floor of a request head.
            Sender::Http1(_) => req
                .uri(path_and_query)
                .header(header::HOST, &self.authority),
            // HTTP/2: `:scheme`, `:authority` and `:path` pseudo-headers from the full URI.
            Sender::Http2(_) => req.uri(format!(
                "{}://{}{path_and_query}",
                self.scheme, self.authority
            )),
        };
        if let Some(accept) = accept {
            req = req.header(header::ACCEPT, accept);
        }
        if !payload.is_empty() {
            req = req.header(header::CONTENT_TYPE, "text/plain");
        }
        let req = req
            .body(Full::new(payload))
            .map_err(|e| SubError::Protocol(format!("cannot build request: {e}")))?;
        match &mut self.sender {
            Sender::Http1(s) => {
                s.ready().await.map_err(hyper_error)?;
                s.send_request(req).await.map_err(hyper_error)
            }
            Sender::Http2(s) => {
                s.ready().await.map_err(hyper_error)?;
                s.send_request(req).await.map_err(hyper_error)
            }
        }
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
        let answer = self.answer(method, path_and_query, payload, body).await?;
        Ok(answer.status)
    }

    /// [`request`](Self::request), with the feed's epoch the answer carried (a poll's).
    pub async fn answer(
        &mut self,
        method: Method,
        path_and_query: &str,
        payload: Bytes,
        body: &mut Vec<u8>,
    ) -> Result<Answer, SubError> {
        let resp = self.send(method, path_and_query, payload, None).await?;
        let answer = Answer {
            status: resp.status(),
            epoch: epoch_of(resp.headers()),
        };
        body.clear();
        let mut incoming = resp.into_body();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(hyper_error)?;
            if let Some(data) = frame.data_ref() {
                body.extend_from_slice(data);
            }
        }
        Ok(answer)
    }
}

/// A response's status and the feed epoch in its `Rtlab-Epoch` header (`feed_epoch.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The feed's epoch, if the server sent one.
    pub epoch: Option<u64>,
}

/// A hyper error as a subscriber error: bytes that are not HTTP are the server's protocol
/// mistake; anything else is the connection failing.
pub fn hyper_error(e: hyper::Error) -> SubError {
    if e.is_parse() || e.is_parse_status() {
        SubError::Protocol(format!("the server's answer is not HTTP: {e}"))
    } else {
        SubError::Closed(e.to_string())
    }
}
