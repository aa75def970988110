//! Integration tests: the real server, started with `rtlab_server::spawn` on port 0 (or as the
//! real binary), spoken to over real sockets with real protocol clients and hand-written bytes.
//!
//! One test binary with modules keeps link time low.

mod common;
mod conformance;
mod errors;
mod shutdown;
mod streams;
mod transports;
