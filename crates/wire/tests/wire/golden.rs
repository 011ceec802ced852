//! Golden vectors: `testdata/<sample>.{pb,xml,json}` are the canonical encodings of the schema's
//! sample reports (`printfleet_schema::samples`). A change to a wire format must change these
//! files on purpose: regenerate with `PRINTFLEET_BLESS=1 cargo test -p printfleet-wire --test wire golden`.
//! The Python decoder in `tests/python/` reads the same files.

use std::path::PathBuf;

use printfleet_schema::samples;
use printfleet_wire::Codec;
use printfleet_wire::roundtrip::roundtrip;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

#[test]
fn golden_vectors_are_stable_and_decode_to_the_samples() {
    let bless = std::env::var_os("PRINTFLEET_BLESS").is_some();
    for (name, report) in samples::all() {
        for codec in Codec::ALL {
            let bytes = roundtrip(codec, &report).unwrap_or_else(|e| panic!("{name}: {e}"));
            let path = testdata().join(format!("{name}.{}", codec.extension()));
            if bless {
                std::fs::write(&path, &bytes).unwrap();
            }
            let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(golden == bytes, "{}: encoding changed; bless only if the wire change is intended", path.display());
            assert_eq!(codec.decode(&golden).unwrap(), report, "{}", path.display());
        }
    }
}

#[test]
fn code_tables_are_published() {
    // docs/codes.json lists every code space's names and numbers for implementers in other
    // languages (the Python interop test uses it).
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/codes.json");
    let table = printfleet_wire::codes_json();
    if std::env::var_os("PRINTFLEET_BLESS").is_some() {
        std::fs::write(&path, &table).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(golden == table, "docs/codes.json is stale; bless it");
}

/// Writes the XML of 64 deterministic arbitrary reports into `$PRINTFLEET_XSD_DIR`, for `.ci/run`
/// to validate against `docs/printfleet-telemetry-1.xsd` with xmllint, an independent validator.
#[test]
#[ignore = "run by .ci/run, which validates the files with xmllint"]
fn write_arbitrary_xml_for_xsd_validation() {
    use printfleet_schema::DeviceReport;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let dir = PathBuf::from(std::env::var_os("PRINTFLEET_XSD_DIR").expect("set PRINTFLEET_XSD_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut runner = TestRunner::deterministic();
    for i in 0..64 {
        let report = any::<DeviceReport>().new_tree(&mut runner).unwrap().current();
        std::fs::write(dir.join(format!("arbitrary-{i:02}.xml")), Codec::Xml.encode_to_vec(&report).unwrap()).unwrap();
    }
}

/// Writes the JSON of 64 deterministic arbitrary reports into `$PRINTFLEET_JSON_SCHEMA_DIR`, for
/// `tests/python/validate_json_schema.py DIR` to validate against
/// `docs/printfleet-telemetry-1.schema.json` with the Python `jsonschema` package.
#[test]
#[ignore = "run by CI, which validates the files with tests/python/validate_json_schema.py"]
fn write_arbitrary_json_for_schema_validation() {
    use printfleet_schema::DeviceReport;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let dir = PathBuf::from(std::env::var_os("PRINTFLEET_JSON_SCHEMA_DIR").expect("set PRINTFLEET_JSON_SCHEMA_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut runner = TestRunner::deterministic();
    for i in 0..64 {
        let report = any::<DeviceReport>().new_tree(&mut runner).unwrap().current();
        std::fs::write(dir.join(format!("arbitrary-{i:02}.json")), Codec::Json.encode_to_vec(&report).unwrap())
            .unwrap();
    }
}
