//! Untrusted session-link bytes, arriving in pieces of arbitrary sizes: the reader never panics,
//! never holds more than one message and one piece, and every message it returns re-encodes to
//! exactly the bytes it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use printfleet_wire::link::{LinkReader, MAX_MESSAGE_BYTES, Message};

fuzz_target!(|data: &[u8]| {
    let Some((&piece, stream)) = data.split_first() else { return };
    let piece = usize::from(piece).max(1);
    let mut reader = LinkReader::new();
    let mut consumed = 0usize;
    for chunk in stream.chunks(piece) {
        reader.extend(chunk);
        loop {
            match reader.next_message() {
                Ok(Some(m)) => {
                    let mut again = Vec::new();
                    Message { kind: m.kind, channel: m.channel, body: m.body }.encode(&mut again).unwrap();
                    assert_eq!(&stream[consumed..consumed + again.len()], &again[..]);
                    consumed += again.len();
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(reader.buffered() <= MAX_MESSAGE_BYTES + 4 + piece);
    }
});
