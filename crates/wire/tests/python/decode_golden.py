#!/usr/bin/env python3
"""Independent check of the protobuf contract, written from docs/wire-format.md only.

Compiles crates/wire/proto/printfleet/v1/telemetry.proto with grpcio-tools (Google's protoc, as a
Python package), decodes every golden vector crates/wire/testdata/*.pb with Google's protobuf
runtime, maps the messages to the JSON shape the spec defines (docs/schema.md, "JSON shape"),
and compares the result with the JSON golden vector of the same report. It also decodes the
change-detection vectors crates/diff/testdata/*.pb (Update, Reply) and compares them with the
values docs/wire-format.md 5.8 states. If the Rust encoder and the .proto disagreed on any field
number, type or rule, this would fail.

Usage: python3 crates/wire/tests/python/decode_golden.py   (from the repository root)
Needs: pip install grpcio-tools protobuf
"""
import hashlib
import importlib
import ipaddress
import json
import pathlib
import sys
import tempfile
import uuid

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[4]
PROTO_DIR = ROOT / "crates/wire/proto"
TESTDATA = ROOT / "crates/wire/testdata"
CODES = json.loads((ROOT / "docs/codes.json").read_text())

# (message, field) -> code space in docs/codes.json
CODE_FIELDS = {
    ("DeviceStatus", "engine"): "EngineStatus",
    ("DeviceStatus", "device"): "DeviceState",
    ("DeviceStatus", "printer"): "PrinterState",
    ("Consumable", "kind"): "SupplyType",
    ("Consumable", "class"): "SupplyClass",
    ("Consumable", "unit"): "SupplyUnit",
    ("Consumable", "status"): "ConsumableStatus",
    ("Alert", "code"): "AlertCode",
    ("Alert", "group"): "AlertGroup",
    ("Alert", "severity"): "AlertSeverity",
    ("Alert", "training_level"): "TrainingLevel",
    ("Printhead", "status"): "PrintheadStatus",
    ("InkCartridge", "status"): "CartridgeStatus",
    ("MediaSource", "kind"): "InputType",
    ("MediaSource", "status"): "MediaSourceStatus",
    ("Accessory", "status"): "AccessoryStatus",
    ("PrintDetails", "status"): "JobStatus",
    ("PrintDetails", "source"): "JobSource",
    ("PrintDetails", "quality"): "PrintQuality",
    ("ScanDetails", "status"): "JobStatus",
}
NAMES = {space: {v: k for k, v in table.items()} for space, table in CODES.items()}
# Message fields that the JSON shape omits when absent (Option in the schema); every other
# singular message field is always present, defaulted when absent on the wire.
OPTIONAL_MESSAGES = {("Snapshot", "usage"), ("Consumable", "colour"), ("InkCartridge", "colour")}
LEVEL_STATES = {-1: "unrestricted", -2: "unknown", -3: "some_remaining"}


def code_name(space, value):
    return NAMES[space].get(value, value)


def colour(c):
    if c.code:
        return NAMES["Colour"][c.code]
    return c.name


def meter_kind(m):
    if m.vendor:
        return "vendor:" + m.vendor
    return str(code_name("MeterCode", m.kind))


def errors(bits):
    return [name for bit, name in sorted((b, n) for n, b in CODES["DetectedErrorsBit"].items()) if bits & (1 << bit)]


def convert(message):
    """A protobuf message as the spec's JSON object."""
    mname = message.DESCRIPTOR.name
    out = {}
    for field in message.DESCRIPTOR.fields:
        key = (mname, field.name)
        value = getattr(message, field.name)
        repeated = field.is_repeated
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if value:
                out[field.name] = dict(value)
            continue
        if key == ("Snapshot", "meters"):
            if value:
                out["meters"] = {meter_kind(m): m.value for m in value}
            continue
        if repeated:
            if not value:
                continue
            out[field.name] = [leaf(mname, field, v) for v in value]
            continue
        if field.message_type is not None:
            if not message.HasField(field.name):
                if key in OPTIONAL_MESSAGES:
                    continue
            out[field.name] = leaf(mname, field, value)
            continue
        if field.has_presence and not message.HasField(field.name):
            continue  # proto3 `optional`, absent
        if key == ("Identity", "mac_address"):
            if value:
                out[field.name] = ":".join(f"{b:02x}" for b in value)
            continue
        out[field.name] = leaf(mname, field, value)
    return out


def leaf(mname, field, value):
    key = (mname, field.name)
    if field.message_type is not None:
        if field.message_type.name == "Colour":
            return colour(value)
        return convert(value)
    if key in CODE_FIELDS:
        return code_name(CODE_FIELDS[key], value)
    if key == ("DeviceStatus", "errors"):
        return errors(value)
    if key in {("Consumable", "level"), ("Consumable", "capacity")}:
        return LEVEL_STATES.get(value, value)
    if key == ("Identity", "ip_addresses"):
        return str(ipaddress.ip_address(bytes(value)))
    if key == ("JobHeader", "uuid"):
        return str(uuid.UUID(bytes=bytes(value)))
    return value


def main():
    with tempfile.TemporaryDirectory() as out:
        rc = protoc.main(["protoc", f"-I{PROTO_DIR}", f"--python_out={out}", "printfleet/v1/telemetry.proto"])
        if rc != 0:
            sys.exit(f"protoc failed with {rc}")
        sys.path.insert(0, out)
        pb = importlib.import_module("printfleet.v1.telemetry_pb2")
        passed = failed = 0
        for path in sorted(TESTDATA.glob("*.pb")):
            report = pb.DeviceReport()
            report.ParseFromString(path.read_bytes())
            got = convert(report)
            want = json.loads(path.with_suffix(".json").read_text())
            if got == want:
                passed += 1
                print(f"ok   {path.name}: {len(report.events.print_jobs)} print jobs, {len(report.snapshot.consumables)} consumables")
            else:
                failed += 1
                print(f"FAIL {path.name}")
                for k in sorted(set(got) | set(want)):
                    if got.get(k) != want.get(k):
                        print(f"  {k}:\n    python: {json.dumps(got.get(k))[:600]}\n    rust:   {json.dumps(want.get(k))[:600]}")
        print(f"python protobuf decoder: {passed} passed, {failed} failed")
        failed += check_updates(pb)
        if failed or not passed:
            sys.exit(1)


def check_updates(pb):
    """The change-detection messages (docs/wire-format.md 5.8), against the values the spec's
    worked example states and the report they were made from."""
    diff_data = ROOT / "crates/diff/testdata"
    failures = 0

    def parse(cls, name):
        message = cls()
        message.ParseFromString((diff_data / name).read_bytes())
        return message

    def expect(what, got, want):
        nonlocal failures
        if got == want:
            print(f"ok   {what}")
        else:
            failures += 1
            print(f"FAIL {what}: python decoded {got!r}, spec says {want!r}")

    steady = parse(pb.Update, "update_steady.pb")
    d = steady.delta
    expect("update_steady.pb", (steady.sequence, steady.WhichOneof("body"), d.base_back, d.base_hash,
        list(d.level_records), list(d.levels), list(d.meter_kinds), list(d.meter_increases)),
        (14600, "delta", 1, 0xA7B49691, [1, 2, 3, 4], [62, 7, 40, 70], [1, 2, 3], [57, 31, 26]))
    full = parse(pb.Update, "update_full.pb")
    office = pb.DeviceReport()
    office.ParseFromString((TESTDATA / "office_laser.pb").read_bytes())
    expect("update_full.pb", (full.sequence, full.full.identity == office.identity,
        full.full.snapshot == office.snapshot, [e.sequence for e in full.events]), (1, True, True, [1]))
    ack = parse(pb.Reply, "reply_ack.pb")
    expect("reply_ack.pb", (ack.events_through, ack.WhichOneof("kind"), ack.ack.sequence, ack.ack.hash),
        (12, "ack", 14600, 0x16C2E707))
    # State hashes (5.8): each vector's hash is the first 4 bytes of SHA-256 over its bytes; the
    # hashed bytes parse as a DeviceReport without events; the golden deltas name their base by
    # the before hash, and the Ack names update_steady's after state.
    vectors = {}
    for name in ("update_steady", "update_every_part", "update_full"):
        lines = (diff_data / f"{name}.state-hash.txt").read_text().splitlines()
        v = dict(l.split(" = ", 1) for l in lines if l and not l.startswith("#"))
        vectors[name] = v
        for side in ("before", "after"):
            if f"{side}_bytes" not in v:
                continue
            raw = bytes.fromhex(v[f"{side}_bytes"])
            report = pb.DeviceReport()
            report.ParseFromString(raw)
            expect(f"{name} {side} state hash", (hashlib.sha256(raw).digest()[:4].hex(), report.HasField("events"),
                report.generated_at), (v[f"{side}_hash"], False, 0))
    every = parse(pb.Update, "update_every_part.pb")
    expect("base hashes", (steady.delta.base_hash, every.delta.base_hash),
        (int(vectors["update_steady"]["before_hash"], 16), int(vectors["update_every_part"]["before_hash"], 16)))
    expect("ack hash", ack.ack.hash, int(vectors["update_steady"]["after_hash"], 16))
    resync = parse(pb.Reply, "reply_resync.pb")
    expect("reply_resync.pb", (resync.events_through, resync.WhichOneof("kind"), resync.resync), (12, "resync", True))
    return failures


if __name__ == "__main__":
    main()
