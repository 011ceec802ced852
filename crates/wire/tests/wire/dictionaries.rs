//! The preset dictionaries are pinned by their SHA-256 (`testdata/dict-sha256.txt`), which the
//! spec publishes (docs/wire-format.md section 1, "Preset dictionaries"): a dictionary's bytes
//! never change under its id, even if its recipe (`dictionaries_are_reproducible`) is re-blessed.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(file name, hex digest)` from the `sha256sum`-format data file.
fn pinned() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(crate_dir().join("testdata/dict-sha256.txt")).unwrap();
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (hash, name) = l.split_once("  ").unwrap_or_else(|| panic!("not `HASH  FILE`: {l}"));
            (name.to_owned(), hash.to_owned())
        })
        .collect()
}

#[test]
fn dictionaries_match_their_published_sha256() {
    let pinned = pinned();
    let names: Vec<&str> = pinned.iter().map(|(n, _)| n.as_str()).collect();
    // Every dictionary a frame header can name (ids 1, 2, 3), each once.
    assert_eq!(names, ["protobuf-v1.bin", "xml-v1.bin", "json-v1.bin"]);
    let spec = std::fs::read_to_string(crate_dir().join("../../docs/wire-format.md")).unwrap();
    for (name, want) in &pinned {
        let bytes = std::fs::read(crate_dir().join("dict").join(name)).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), *want, "{name} changed");
        assert!(spec.contains(&format!("`{name}`")) && spec.contains(want.as_str()), "the spec lacks {name}'s hash");
    }
}
