//! Integration tests of printfleet-wire, compiled as one binary.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

mod dictionaries;
mod frames;
mod golden;
mod hostile_xml;
mod limits;
mod roundtrip;
mod xml_attribute_order;
