//! Integration tests: the real server, started with `rtlab_server::spawn` on port 0 (or as the
//! real binary), spoken to over real sockets with real protocol clients and hand-written bytes.
//! The one exception is `ws_properties`, which feeds hundreds of generated frame sequences
//! through the server's own WebSocket message path in process, where a socket per case would be
//! slow.
//!
//! One test binary with modules keeps link time low.

mod cluster;
mod common;
mod conformance;
mod errors;
mod first_byte;
mod listen_backlog;
mod nats;
mod origins;
mod query_properties;
mod shutdown;
mod streams;
mod test_cert;
mod tls;
mod tls_cli;
mod transports;
mod ws_frame;
mod ws_properties;
