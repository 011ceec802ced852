//! Runnable examples of the printfleet crates; see the `[[example]]` targets in `Cargo.toml`.
