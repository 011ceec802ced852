//! The collector's network side over real sockets on 127.0.0.1: the session link and the
//! one-shot client against a small test portal (`server`), and the `printfleet collect` binary
//! against it and simulated SNMP printers, killed and restarted.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    unreachable_pub,
    missing_docs,
    missing_debug_implementations
)]

mod collector;
mod link;
mod one_shot;
mod server;
