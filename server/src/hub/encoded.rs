//! Encode once, share everywhere: an event in every framing the transports need.
//!
//! With ten thousand subscribers, serializing an event per subscriber would make the server's cost
//! grow with the audience and would favour whichever transport serializes least. Instead the hub
//! turns each event into bytes exactly once, when it is published, and every subscriber of every
//! transport gets a reference-counted handle ([`EventRef`]) to the same bytes.
//!
//! The trick that makes it one allocation for three framings: the SSE block is
//! `id: N\ndata: {json}\n\n`, and the raw-TCP line is `{json}\n`, which is a *slice* of that block;
//! the plain JSON (for WebSocket frames and poll arrays) is a slice too. [`bytes::Bytes::slice`]
//! shares the buffer, so the JSON is encoded by `rtlab_wire` once, copied once into the SSE block,
//! and never again.
//!
//! A production broker would also pre-encode the WebSocket frame header so the bytes written per
//! subscriber are one `writev`; actix-ws encodes frames itself, so here the WebSocket payload is
//! shared and the 2–10 byte header is built per send.

use std::sync::Arc;

use bytes::Bytes;
use bytestring::ByteString;
use rtlab_wire::framing::sse_frame;
use rtlab_wire::{Event, Seq, Transport};

/// A shared handle to one encoded event: cloning it is one atomic increment.
pub type EventRef = Arc<EncodedEvent>;

/// One event, encoded once, in every framing a transport sends.
#[derive(Debug)]
pub struct EncodedEvent {
    seq: Seq,
    ts: u64,
    sse: Bytes,
    json: Bytes,
    tcp: Bytes,
    ws_text: ByteString,
}

impl EncodedEvent {
    /// Encodes `event` (the one JSON encoding of the contract) and derives every framing from it.
    pub fn new(event: &Event) -> Self {
        let json = event.to_json();
        let sse = sse_frame(event.seq, &json);
        // The block ends with `{json}\n\n`: the JSON and the TCP line are its tail slices.
        let start = sse.len() - json.len() - 2;
        let json = sse.slice(start..start + json.len());
        let tcp = sse.slice(start..start + json.len() + 1);
        // One UTF-8 check per event, not per subscriber; serde_json only writes valid UTF-8, so
        // the lossy fallback is never taken, but it keeps this path panic-free.
        let ws_text = ByteString::try_from(json.clone())
            .unwrap_or_else(|_| ByteString::from(String::from_utf8_lossy(&json).into_owned()));
        Self {
            seq: event.seq,
            ts: event.ts,
            sse,
            json,
            tcp,
            ws_text,
        }
    }

    /// The event's sequence number.
    pub fn seq(&self) -> Seq {
        self.seq
    }

    /// The event's publication time, nanoseconds since the Unix epoch.
    pub fn ts(&self) -> u64 {
        self.ts
    }

    /// The event JSON `{"seq":…,"ts":…,"data":…}`: a poll array element.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// The SSE block `id: N\ndata: {json}\n\n`.
    pub fn sse_frame(&self) -> &Bytes {
        &self.sse
    }

    /// The raw-TCP line `{json}\n`.
    pub fn tcp_line(&self) -> &Bytes {
        &self.tcp
    }

    /// The JSON as a WebSocket text payload (shares the same bytes).
    pub fn ws_text(&self) -> &ByteString {
        &self.ws_text
    }

    /// The bytes `transport` writes for this event (before any framing the framework adds: the
    /// WebSocket frame header, the HTTP chunk or response around an SSE block or poll array).
    pub fn payload_for(&self, transport: Transport) -> &Bytes {
        match transport {
            Transport::Sse => &self.sse,
            Transport::Tcp => &self.tcp,
            Transport::Ws | Transport::LongPoll | Transport::ShortPoll => &self.json,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtlab_wire::framing::tcp_line;

    #[test]
    fn every_framing_is_the_contract_one_and_shares_one_buffer() {
        let event = Event {
            seq: 42,
            ts: 7,
            data: "a\"b\n".into(),
        };
        let e = EncodedEvent::new(&event);
        let json = event.to_json();
        assert_eq!(e.json(), &json);
        assert_eq!(e.sse_frame(), &sse_frame(42, &json));
        assert_eq!(e.tcp_line(), &tcp_line(&json));
        assert_eq!(e.ws_text().as_bytes(), &json);
        assert_eq!(e.payload_for(Transport::Sse), e.sse_frame());
        assert_eq!(e.payload_for(Transport::Tcp), e.tcp_line());
        assert_eq!(e.payload_for(Transport::Ws), e.json());
        // Shared: the JSON slice points into the SSE block.
        let sse = e.sse_frame().as_ptr() as usize;
        let j = e.json().as_ptr() as usize;
        assert!(j > sse && j < sse + e.sse_frame().len());
    }
}
