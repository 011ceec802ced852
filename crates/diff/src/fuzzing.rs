//! Entry point for the `delta_apply` fuzz target; not a stable API.

use printfleet_wire::{protobuf, xml};

use crate::sync::{BaseRef, Receiver, StateHash, Update, UpdateBody};
use crate::{DeviceState, apply};

/// Splits `data` into a codec selector, a base state (a protobuf `DeviceReport` after a 2-byte
/// big-endian length; an empty state if it does not decode) and an update (protobuf or XML).
/// Whatever the bytes: nothing panics; an update that decodes re-encodes to the same update; and
/// a receiver holding the base, given the update aimed at that base, ends up holding a state
/// that passes validation (or none).
///
/// # Panics
/// On a bug: that is what the fuzzer looks for.
#[allow(clippy::panic)]
pub fn apply_arbitrary(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Some((len, rest)) = rest.split_first_chunk::<2>() else { return };
    let (base_bytes, update_bytes) = rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()));
    let base = protobuf::decode(base_bytes).map(|r| DeviceState::from(&r)).unwrap_or_default();
    let xml = selector & 1 == 1;
    let decoded = if xml { xml::decode_update(update_bytes) } else { protobuf::decode_update(update_bytes) };
    let Ok(mut update) = decoded else { return };

    let mut again = Vec::new();
    let encoded =
        if xml { xml::encode_update(&update, &mut again) } else { protobuf::encode_update(&update, &mut again) };
    if let Err(e) = encoded {
        panic!("a decoded update does not encode: {e}");
    }
    let back = if xml { xml::decode_update(&again) } else { protobuf::decode_update(&again) };
    match back {
        Ok(back) if back == update => {}
        Ok(_) => panic!("an update changed on its way through the codec"),
        Err(e) => panic!("our own encoding does not decode: {e}"),
    }

    // Aim the update at the receiver's base, so that the delta reaches `apply`.
    let mut receiver = Receiver::new();
    let first = UpdateBody::Full(Box::new(base.clone()));
    receiver.receive(&Update { instance: update.instance, sequence: 1, body: first, events: Vec::new() });
    update.sequence = update.sequence.max(2);
    if let UpdateBody::Delta { base: named, delta } = &mut update.body {
        *named = BaseRef { sequence: 1, hash: StateHash::of(&base) };
        // Applying directly may give an invalid state (the receiver checks); it must not panic.
        let _ = apply(&base, delta);
    }
    receiver.receive(&update);
    if let Some(state) = receiver.state()
        && let Err(e) = state.validate()
    {
        panic!("the receiver holds an invalid state: {e}");
    }
}
