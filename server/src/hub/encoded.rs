//! Encode once, share everywhere: an event in every framing the transports need.
//!
//! With ten thousand subscribers, serializing an event per subscriber would make the server's cost
//! grow with the audience and would favour whichever transport serializes least. Instead the hub
//! turns each event into bytes exactly once, when it is published, and every subscriber of every
//! transport gets a reference-counted handle ([`EventRef`]) to the same bytes.
//!
//! The trick that makes it one allocation for three framings: the SSE block is
//! `id: N\ndata: {json}\n\n`, and the raw-TCP line is `{json}\n`, which is a *slice* of that block;
//! the plain JSON (for poll arrays) is a slice too. [`bytes::Bytes::slice`] shares the buffer, so
//! the JSON is encoded by `rtlab_wire` once, copied once into the SSE block, and never again.
//!
//! The WebSocket frame is a second buffer: a 2–10 byte header *before* the JSON, where the SSE block
//! has `data: `. A server → client frame is unmasked (RFC 6455 §5.3), so it is the same bytes for
//! every subscriber, and the `/ws` feed writes this buffer as it is, as a broker would. (actix-ws
//! would build a header and copy the payload for every subscriber and every frame.)

use std::sync::Arc;

use bytes::Bytes;
use rtlab_wire::framing::{sse_frame, ws_frame, ws_opcode};
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
    ws: Bytes,
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
        // serde_json writes only valid UTF-8, so the JSON is a valid text frame payload.
        let ws = ws_frame(ws_opcode::TEXT, &json);
        Self {
            seq: event.seq,
            ts: event.ts,
            sse,
            json,
            tcp,
            ws,
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

    /// The whole WebSocket text frame: header and the event JSON.
    pub fn ws_frame(&self) -> &Bytes {
        &self.ws
    }

    /// The bytes `transport` writes for this event (before any framing the framework adds: the
    /// HTTP chunk or response around an SSE block or poll array).
    pub fn payload_for(&self, transport: Transport) -> &Bytes {
        match transport {
            Transport::Ws => &self.ws,
            Transport::Sse => &self.sse,
            Transport::Tcp => &self.tcp,
            Transport::LongPoll | Transport::ShortPoll => &self.json,
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
        assert_eq!(e.ws_frame(), &ws_frame(ws_opcode::TEXT, &json));
        assert_eq!(e.payload_for(Transport::Sse), e.sse_frame());
        assert_eq!(e.payload_for(Transport::Tcp), e.tcp_line());
        assert_eq!(e.payload_for(Transport::Ws), e.ws_frame());
        assert_eq!(e.payload_for(Transport::LongPoll), e.json());
        // Shared: the JSON slice points into the SSE block.
        let sse = e.sse_frame().as_ptr() as usize;
        let j = e.json().as_ptr() as usize;
        assert!(j > sse && j < sse + e.sse_frame().len());
    }
}
