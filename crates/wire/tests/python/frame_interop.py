#!/usr/bin/env python3
"""An independent implementation of printfleet's sealed frames, written only from
docs/wire-format.md section 5, with the `cryptography` package and `zlib`.

  python3 frame_interop.py check-golden         opens crates/wire/testdata/frames/*.frame
  python3 frame_interop.py interop DIR          opens DIR/rust-*.frame (sealed by Rust), then
                                                seals DIR/python-*.frame for Rust to open

The key is the one the Rust tests use: bytes 00..1f; sender 0x0102030405060708; key id 7.
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
KEY = bytes(range(32))
SENDER = 0x0102030405060708
KEY_ID = 7
HEADER = struct.Struct(">BBBIQQQ")  # version, flags, dictionary, key id, sender, sequence, timestamp
DICTIONARIES = {n: (ROOT / f"crates/wire/dict/{name}-v1.bin").read_bytes() for n, name in [(1, "protobuf"), (2, "xml"), (3, "json")]}
CODECS = {1: "protobuf", 2: "xml", 3: "json"}


def hkdf_sha256(salt, ikm, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def keys(shared, key_id, aes256):
    suite = b"\x01" if aes256 else b"\x00"
    tail = suite + struct.pack(">I", key_id)
    enc = hkdf_sha256(b"printfleet frame v1", shared, b"enc" + tail, 32)
    mac = hkdf_sha256(b"printfleet frame v1", shared, b"mac" + tail, 32)
    return (enc if aes256 else enc[:16]), mac


def open_frame(frame, shared=KEY):
    if len(frame) < 79 or len(frame) > 16 << 20 or (len(frame) - 63) % 16:
        raise ValueError("length")
    version, flags, dictionary, key_id, sender, sequence, timestamp = HEADER.unpack_from(frame)
    if version != 1 or flags & 0xE0:
        raise ValueError("header")
    codec, compression, aes256 = flags & 3, (flags >> 2) & 3, bool(flags & 0x10)
    if codec == 0 or compression > 1 or (compression == 0 and dictionary) or (dictionary and dictionary not in DICTIONARIES):
        raise ValueError("flags")
    enc_key, mac_key = keys(shared, key_id, aes256)
    body, tag = frame[:-16], frame[-16:]
    if not hmac.compare_digest(hmac.new(mac_key, body, hashlib.sha256).digest()[:16], tag):
        raise ValueError("tag")
    iv, ciphertext = body[31:47], body[47:]
    decryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
    if compression == 1:
        inflater = zlib.decompressobj(-15, zdict=DICTIONARIES[dictionary]) if dictionary else zlib.decompressobj(-15)
        plain = inflater.decompress(plain, 16 << 20) + inflater.flush()
        if not inflater.eof or inflater.unused_data:
            raise ValueError("deflate")
    header = dict(codec=CODECS[codec], compression=compression, dictionary=dictionary, aes256=aes256,
                  key_id=key_id, sender=sender, sequence=sequence, timestamp=timestamp)
    return header, plain


def seal_frame(payload, codec, sequence, timestamp, aes256, compress, shared=KEY, key_id=KEY_ID, sender=SENDER):
    codec_bits = {v: k for k, v in CODECS.items()}[codec]
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
    header = HEADER.pack(1, flags, dictionary, key_id, sender, sequence, timestamp)
    enc_key, mac_key = keys(shared, key_id, aes256)
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
    body = header + iv + encryptor.update(padded) + encryptor.finalize()
    return body + hmac.new(mac_key, body, hashlib.sha256).digest()[:16]


def check_golden():
    passed = failed = 0
    for path in sorted((ROOT / "crates/wire/testdata/frames").glob("*.frame")):
        try:
            header, plain = open_frame(path.read_bytes())
            assert plain == path.with_suffix(".payload").read_bytes(), "payload differs"
            assert header["sender"] == SENDER and header["key_id"] == KEY_ID and header["sequence"] == 1
            assert header["codec"] in path.name and ("aes256" in path.name) == header["aes256"]
            assert (header["compression"] == 1) == ("deflate" in path.name)
            passed += 1
            print(f"ok   {path.name}: {header['codec']}, {len(plain)} bytes")
        except Exception as e:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAIL {path.name}: {e!r}")
    return passed, failed


def interop(directory):
    directory = pathlib.Path(directory)
    passed = failed = 0
    for path in sorted(directory.glob("rust-*.frame")):
        try:
            header, plain = open_frame(path.read_bytes())
            assert plain == path.with_suffix(".payload").read_bytes(), "payload differs"
            assert header["sequence"] == 41
            passed += 1
            print(f"ok   opened {path.name}")
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAIL {path.name}: {e!r}")
    timestamp = 1_793_610_000_000  # printfleet_schema::samples::SAMPLE_TIME
    for i, path in enumerate(sorted(directory.glob("rust-*.payload"))):
        name = path.name[len("rust-"):-len(".payload")]
        codec = next(c for c in CODECS.values() if c in name)
        frame = seal_frame(path.read_bytes(), codec, 100 + i, timestamp, "aes256" in name, "deflate" in name)
        (directory / f"python-{name}.frame").write_bytes(frame)
        (directory / f"python-{name}.payload").write_bytes(path.read_bytes())
        # Our own frames must open with our own code, too.
        assert open_frame(frame)[1] == path.read_bytes()
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
