//! Untrusted session-link bytes, arriving in pieces of arbitrary sizes: the reader never panics,
//! never holds more than one message and one piece, never returns a message above its type's
//! limit (nor above the handshake limit while the peer is unauthenticated: the first byte's top
//! bit), and every message it returns re-encodes to exactly the bytes it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use printfleet_wire::link::{LinkReader, MAX_HANDSHAKE_MESSAGE_BYTES, MAX_MESSAGE_BYTES, Message};

fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else { return };
    let piece = usize::from(first & 0x7F).max(1);
    let unauthenticated = first & 0x80 != 0;
    let mut reader = if unauthenticated { LinkReader::unauthenticated() } else { LinkReader::new() };
    let limit = if unauthenticated { MAX_HANDSHAKE_MESSAGE_BYTES } else { MAX_MESSAGE_BYTES };
    let mut consumed = 0usize;
    for chunk in stream.chunks(piece) {
        reader.extend(chunk);
        loop {
            match reader.next_message() {
                Ok(Some(m)) => {
                    assert!(m.body.len() + 5 <= m.kind.max_len().min(limit));
                    let mut again = Vec::new();
                    Message { kind: m.kind, channel: m.channel, body: m.body }.encode(&mut again).unwrap();
                    assert_eq!(&stream[consumed..consumed + again.len()], &again[..]);
                    consumed += again.len();
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(reader.buffered() <= limit + 4 + piece);
    }
});
