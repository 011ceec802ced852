#!/usr/bin/env python3
"""An independent implementation of printfleet's sealed frames, written only from
docs/wire-format.md section 5, with the `cryptography` package and `zlib`.

  python3 frame_interop.py check-golden         opens crates/wire/testdata/frames/*.frame
  python3 frame_interop.py interop DIR          opens DIR/rust-*.frame (device frames and the
                                                portal's replies, sealed by Rust), then seals
                                                DIR/python-*.frame and DIR/python-reply-*.frame
                                                for Rust to open

The keys are those of crates/wire/testdata/frames/README.md: AES-128 frames use the secret
00..1f with key id 7, AES-256 frames the secret 20..3f with key id 8; sender 0x0102030405060708.
"""
import hashlib
import hmac
import os
import pathlib
import struct
import sys
import zlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ROOT = pathlib.Path(__file__).resolve().parents[4]
SECRETS = {False: (bytes(range(32)), 7), True: (bytes(range(0x20, 0x40)), 8)}  # by aes256: (secret, key id)
SENDER = 0x0102030405060708
# version, flags, dictionary, kind, key id, sender, sequence, timestamp: 32 bytes
HEADER = struct.Struct(">BBBBIQQQ")
HEADER_LEN = 32
DICTIONARIES = {n: (ROOT / f"crates/wire/dict/{name}-v1.bin").read_bytes() for n, name in [(1, "protobuf"), (2, "xml"), (3, "json")]}
CODECS = {1: "protobuf", 2: "xml", 3: "json"}
KINDS = {1: "report", 2: "update", 3: "reply"}
DEVICE_TO_PORTAL, PORTAL_TO_DEVICE = 1, 2


def hkdf_sha256(salt, ikm, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def keys(shared, key_id, aes256, direction):
    tail = bytes([direction, 1 if aes256 else 0]) + struct.pack(">I", key_id)
    enc = hkdf_sha256(b"printfleet frame v1", shared, b"enc" + tail, 32)
    mac = hkdf_sha256(b"printfleet frame v1", shared, b"mac" + tail, 32)
    return (enc if aes256 else enc[:16]), mac


def open_frame(frame, direction, expect):
    if len(frame) < HEADER_LEN + 48 or len(frame) > 16 << 20 or (len(frame) - HEADER_LEN - 32) % 16:
        raise ValueError("length")
    version, flags, dictionary, kind, key_id, sender, sequence, timestamp = HEADER.unpack_from(frame)
    if version != 1 or flags & 0xE0:
        raise ValueError("header")
    codec, compression, aes256 = flags & 3, (flags >> 2) & 3, bool(flags & 0x10)
    if codec == 0 or compression > 1 or (compression == 0 and dictionary) or (dictionary and dictionary not in DICTIONARIES):
        raise ValueError("flags")
    if kind not in KINDS or sequence == 0:
        raise ValueError("kind or sequence")
    secret, held_key_id = SECRETS[aes256]
    if key_id != held_key_id or sender != SENDER:
        raise ValueError("unknown key")
    enc_key, mac_key = keys(secret, key_id, aes256, direction)
    body, tag = frame[:-16], frame[-16:]
    if not hmac.compare_digest(hmac.new(mac_key, body, hashlib.sha256).digest()[:16], tag):
        raise ValueError("tag")
    if KINDS[kind] not in expect:
        raise ValueError("unexpected kind")
    iv, ciphertext = body[HEADER_LEN:HEADER_LEN + 16], body[HEADER_LEN + 16:]
    decryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
    if compression == 1:
        inflater = zlib.decompressobj(-15, zdict=DICTIONARIES[dictionary]) if dictionary else zlib.decompressobj(-15)
        plain = inflater.decompress(plain, 16 << 20) + inflater.flush()
        if not inflater.eof or inflater.unused_data:
            raise ValueError("deflate")
    header = dict(codec=CODECS[codec], compression=compression, dictionary=dictionary, aes256=aes256, kind=KINDS[kind],
                  key_id=key_id, sender=sender, sequence=sequence, timestamp=timestamp)
    return header, plain


def seal_frame(payload, codec, kind, sequence, timestamp, aes256, compress, direction):
    codec_bits = {v: k for k, v in CODECS.items()}[codec]
    kind_byte = {v: k for k, v in KINDS.items()}[kind]
    compression, dictionary, plain = 0, 0, payload
    if compress and len(payload) >= 64:
        dictionary = codec_bits  # the dictionary of the payload's codec
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=DICTIONARIES[dictionary])
        packed = deflater.compress(payload) + deflater.flush()
        if len(packed) < len(payload):
            compression, plain = 1, packed
        else:
            dictionary = 0
    flags = codec_bits | (compression << 2) | (0x10 if aes256 else 0)
    secret, key_id = SECRETS[aes256]
    header = HEADER.pack(1, flags, dictionary, kind_byte, key_id, SENDER, sequence, timestamp)
    enc_key, mac_key = keys(secret, key_id, aes256, direction)
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
    body = header + iv + encryptor.update(padded) + encryptor.finalize()
    return body + hmac.new(mac_key, body, hashlib.sha256).digest()[:16]


def expect_failure(what, fn):
    try:
        fn()
    except ValueError:
        return
    raise AssertionError(f"{what} opened")


def check_golden():
    passed = failed = 0
    for path in sorted((ROOT / "crates/wire/testdata/frames").glob("*.frame")):
        try:
            frame = path.read_bytes()
            is_reply = path.name.startswith("reply-")
            direction = PORTAL_TO_DEVICE if is_reply else DEVICE_TO_PORTAL
            header, plain = open_frame(frame, direction, {"reply"} if is_reply else {"report"})
            assert plain == path.with_suffix(".payload").read_bytes(), "payload differs"
            assert header["sender"] == SENDER and header["sequence"] == 1
            assert header["key_id"] == SECRETS[header["aes256"]][1]
            assert header["codec"] in path.name and ("aes256" in path.name) == header["aes256"]
            assert (header["compression"] == 1) == ("deflate" in path.name)
            # The other direction's keys do not open it (no reflection).
            other = DEVICE_TO_PORTAL + PORTAL_TO_DEVICE - direction
            expect_failure("reflected frame", lambda: open_frame(frame, other, set(KINDS.values())))
            passed += 1
            print(f"ok   {path.name}: {header['kind']}, {header['codec']}, {len(plain)} bytes")
        except Exception as e:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAIL {path.name}: {e!r}")
    return passed, failed


def interop(directory):
    directory = pathlib.Path(directory)
    passed = failed = 0
    for path in sorted(directory.glob("rust-*.frame")):
        try:
            is_reply = path.name.startswith("rust-reply-")
            direction = PORTAL_TO_DEVICE if is_reply else DEVICE_TO_PORTAL
            header, plain = open_frame(path.read_bytes(), direction, {"reply"} if is_reply else {"report"})
            assert plain == path.with_suffix(".payload").read_bytes(), "payload differs"
            assert header["sequence"] == 41
            passed += 1
            print(f"ok   opened {path.name}")
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAIL {path.name}: {e!r}")
    timestamp = 1_793_610_000_000  # printfleet_schema::samples::SAMPLE_TIME
    reply_payload = (ROOT / "crates/wire/testdata/frames/reply-protobuf-aes128-plain.payload").read_bytes()
    for i, path in enumerate(sorted(p for p in directory.glob("rust-*.payload") if not p.name.startswith("rust-reply-"))):
        name = path.name[len("rust-"):-len(".payload")]
        codec = next(c for c in CODECS.values() if c in name)
        aes256 = "aes256" in name
        sequence = 100 + i
        frame = seal_frame(path.read_bytes(), codec, "report", sequence, timestamp, aes256, "deflate" in name, DEVICE_TO_PORTAL)
        (directory / f"python-{name}.frame").write_bytes(frame)
        (directory / f"python-{name}.payload").write_bytes(path.read_bytes())
        # The portal's reply: the same sequence number, the other direction's keys.
        reply = seal_frame(reply_payload, "protobuf", "reply", sequence, timestamp, aes256, False, PORTAL_TO_DEVICE)
        (directory / f"python-reply-{name}.frame").write_bytes(reply)
        (directory / f"python-reply-{name}.payload").write_bytes(reply_payload)
        # Our own frames must open with our own code, too.
        assert open_frame(frame, DEVICE_TO_PORTAL, {"report"})[1] == path.read_bytes()
        assert open_frame(reply, PORTAL_TO_DEVICE, {"reply"})[1] == reply_payload
        expect_failure("reply opened as a device frame", lambda: open_frame(reply, DEVICE_TO_PORTAL, {"reply"}))
    return passed, failed


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "check-golden":
        passed, failed = check_golden()
    elif len(sys.argv) == 3 and sys.argv[1] == "interop":
        passed, failed = interop(sys.argv[2])
    else:
        sys.exit(__doc__)
    print(f"python frames: {passed} passed, {failed} failed")
    if failed or not passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
