//! Untrusted bundle and bundle-reply bytes (docs/wire-format.md §5.9): decoding never panics,
//! whatever decodes re-encodes to entries that decode equal, and every entry's update is decoded
//! (and round-trips) like a frame's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use printfleet_wire::protobuf;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = protobuf::decode_bundle(data) {
        let mut again = Vec::new();
        for e in &entries {
            protobuf::encode_bundle_entry(e.device, e.update, &mut again);
            if let Ok(update) = protobuf::decode_update(e.update) {
                let mut bytes = Vec::new();
                protobuf::encode_update(&update, &mut bytes).expect("a decoded update encodes");
                assert_eq!(protobuf::decode_update(&bytes).expect("our own update decodes"), update);
            }
        }
        assert_eq!(protobuf::decode_bundle(&again).expect("our own bundle decodes"), entries);
    }
    if let Ok(answers) = protobuf::decode_bundle_reply(data) {
        let mut again = Vec::new();
        for a in &answers {
            let encoded = a.as_ref().map(|r| {
                let mut bytes = Vec::new();
                protobuf::encode_reply(r, &mut bytes).expect("a decoded reply encodes");
                bytes
            });
            protobuf::encode_bundle_answer(encoded.as_deref(), &mut again);
        }
        assert_eq!(protobuf::decode_bundle_reply(&again).expect("our own bundle reply decodes"), answers);
    }
});
