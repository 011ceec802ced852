//! The real captures of testdata/third-party, for the tests that go through all of them:
//! LibreNMS' (`librenms/printer-mib`, `tests/snmpsim/`, GPL-3.0 test data, each with LibreNMS'
//! discovery beside it) and the walks derived from printmaster's (`printmaster/printer-mib`, MIT);
//! commits in each folder's PROVENANCE.txt.

use std::path::PathBuf;

/// The folders holding captures, under testdata/third-party.
const FOLDERS: [&str; 2] = ["librenms/printer-mib", "printmaster/printer-mib"];

fn folders() -> impl Iterator<Item = PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/third-party");
    FOLDERS.into_iter().map(move |f| root.join(f))
}

/// The file `<name><suffix>` of a capture (`.snmprec`, or `.librenms.json` for LibreNMS'
/// discovery), in the folder that holds the capture.
pub(crate) fn file(name: &str, suffix: &str) -> PathBuf {
    let capture = format!("{name}.snmprec");
    let folder = folders().find(|f| f.join(&capture).is_file()).unwrap_or_else(|| panic!("no capture {name}"));
    folder.join(format!("{name}{suffix}"))
}

/// The name of every capture (`<name>.snmprec`) in the folders, sorted: a capture added to one
/// is checked by every test that goes through them all. Names are unique across the folders.
pub(crate) fn names() -> Vec<String> {
    let mut names: Vec<String> = folders()
        .flat_map(|f| std::fs::read_dir(f).unwrap())
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".snmprec").map(str::to_owned))
        .collect();
    names.sort();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "a capture name is in two folders");
    assert!(names.len() >= 16, "{names:?}");
    names
}
