//! criterion benchmarks of the printfleet crates; see `benches/` and `README.md`.
