//! Integration tests of `rtlab-client`, in one test binary (one link instead of many).
//!
//! They start the real `rtlab-server` in-process on free ports (`common`), or a tiny fake server
//! written in the test where the real one would behave too well (`faults`) or where the point is
//! a server that is not ours (`foreign`), and run the client for a second or so on 127.0.0.1;
//! `shards` runs the binary split over several processes; `tls` runs against the server serving
//! HTTPS, WSS and TLS with a certificate made at test time.

mod cli;
mod common;
mod faults;
mod foreign;
mod network;
mod peers;
mod publish;
mod reliability;
mod restart;
mod resume;
mod schema;
mod shards;
mod tls;
mod transports;
