//! The real captures in testdata/third-party/librenms/printer-mib (LibreNMS `tests/snmpsim/`,
//! commits in its PROVENANCE.txt, GPL-3.0 test data), for the tests that go through all of them.

use std::path::PathBuf;

/// The folder of the captures (and of LibreNMS' discovery of each, `<name>.librenms.json`).
pub(crate) fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/third-party/librenms/printer-mib")
}

/// The name of every capture in the folder (`<name>.snmprec`), sorted: a capture added there is
/// checked by every test that goes through them all.
pub(crate) fn names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".snmprec").map(str::to_owned))
        .collect();
    names.sort();
    assert!(names.len() >= 6, "{names:?}");
    names
}
