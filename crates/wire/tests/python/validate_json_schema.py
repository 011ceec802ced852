#!/usr/bin/env python3
"""The JSON Schema of a version-1 report, docs/printfleet-telemetry-1.schema.json, and its checks.

docs/wire-format.md sections 4 and 7 (JSON column) define the JSON encoding; the schema states
the same rules in JSON Schema (draft 2020-12): every member, which are always written
(`required`), which are omitted when absent or empty (optional, with `minItems`/`minProperties`
1), the limits of section 1, and each coded member's names from docs/codes.json (a number only
for a code without a name). Like the XSD it describes exactly what a version-1 writer emits;
readers are more lenient (unknown members ignored).

This script:
1. rebuilds the schema from the message list below and docs/codes.json and fails if the
   committed file differs (so a new code cannot leave it stale; `--write` rewrites it);
2. validates every golden JSON vector crates/wire/testdata/*.json against it, and checks what
   JSON Schema cannot say: members in field-number order (the order of `properties`) and
   `errors` in bit order;
3. checks that the schema refuses what a writer never writes (a missing `errors`, an empty list,
   an unknown member, a known code as a number, ...), so that a schema that accepted anything
   would fail here.

4. with directory arguments, validates every *.json in them the same way: CI fills one with the
   JSON of 64 arbitrary reports (`PRINTFLEET_JSON_SCHEMA_DIR=DIR cargo test -p printfleet-wire
   --test wire -- --ignored write_arbitrary_json_for_schema_validation`).

Usage: python3 crates/wire/tests/python/validate_json_schema.py [--write] [DIR ...]   (from the repository root)
Needs: pip install jsonschema
Exits non-zero on any failure.
"""
import copy
import json
import pathlib
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[4]
SCHEMA_PATH = ROOT / "docs/printfleet-telemetry-1.schema.json"
TESTDATA = ROOT / "crates/wire/testdata"
CODES = json.loads((ROOT / "docs/codes.json").read_text())

# Section 1 limits.
MAX_RECORDS, MAX_MEDIA_TYPES, MAX_METERS, MAX_IPS, MAX_JOBS, MAX_NESTED = 256, 1024, 256, 16, 1024, 64

# (member, type, always written) in field-number order, per message. Types: a $defs name, a code
# table ("code:Name"), or ("array", item type, max) / ("map", max).
R, O = True, False
MESSAGES = {
    "DeviceReport": [("generated_at", "timestamp", R), ("identity", "Identity", R), ("snapshot", "Snapshot", R),
                     ("events", "Events", R)],
    "Identity": [("record_id", "u64", R), ("make", "text", O), ("model", "text", O), ("serial_number", "text", O),
                 ("product_number", "text", O), ("product_name", "text", O), ("firmware_version", "text", O),
                 ("description", "text", O), ("object_id", "text", O), ("mac_address", "mac", O),
                 ("hostname", "text", O), ("ip_addresses", ("array", "ip", MAX_IPS), O), ("location", "text", O),
                 ("zone", "text", O), ("contact", "text", O)],
    "Snapshot": [("status", "DeviceStatus", R), ("meters", "meters", O),
                 ("consumables", ("array", "Consumable", MAX_RECORDS), O),
                 ("alerts", ("array", "Alert", MAX_RECORDS), O),
                 ("printheads", ("array", "Printhead", MAX_RECORDS), O),
                 ("cartridges", ("array", "InkCartridge", MAX_RECORDS), O),
                 ("media_sources", ("array", "MediaSource", MAX_RECORDS), O),
                 ("media_types", ("array", "MediaType", MAX_MEDIA_TYPES), O), ("settings", "Settings", R),
                 ("accessories", ("array", "Accessory", MAX_RECORDS), O), ("usage", "Usage", O)],
    "DeviceStatus": [("engine", "code:EngineStatus", R), ("device", "code:DeviceState", R),
                     ("printer", "code:PrinterState", R), ("errors", "errors", R)],
    "Consumable": [("record_id", "u64", R), ("kind", "code:SupplyType", R), ("class", "code:SupplyClass", R),
                   ("colour", "colour", O), ("description", "text", O), ("part_number", "text", O),
                   ("serial_number", "text", O), ("unit", "code:SupplyUnit", R), ("level", "level", R),
                   ("capacity", "capacity", R), ("status", "code:ConsumableStatus", R), ("page_count", "u64", O),
                   ("observed_at", "timestamp", O)],
    "Alert": [("record_id", "u64", R), ("description", "text", O), ("code", "code:AlertCode", R),
              ("vendor_code", "text", O), ("group", "code:AlertGroup", R), ("group_index", "u32", O),
              ("location", "u32", O), ("severity", "code:AlertSeverity", R),
              ("training_level", "code:TrainingLevel", R), ("page_count", "u64", O), ("raised_at", "timestamp", O)],
    "Printhead": [("record_id", "u64", R), ("colours", ("array", "colour", MAX_NESTED), O),
                  ("status", "code:PrintheadStatus", R), ("health", "basis_points", O),
                  ("product_number", "text", O), ("product_name", "text", O), ("serial_number", "text", O),
                  ("third_party_ink_used", "bool", R), ("expires_at", "timestamp", O)],
    "InkCartridge": [("record_id", "u64", R), ("colour", "colour", O), ("status", "code:CartridgeStatus", R),
                     ("product_number", "text", O), ("product_name", "text", O), ("serial_number", "text", O),
                     ("manufacturer", "text", O), ("capacity", "u64", O), ("ink_consumed", "u64", O),
                     ("third_party_ink_consumed", "u64", O), ("expires_at", "timestamp", O)],
    "MediaSource": [("record_id", "u64", R), ("kind", "code:InputType", R), ("name", "text", O),
                    ("status", "code:MediaSourceStatus", R), ("media_type", "text", O), ("width", "u64", O),
                    ("height", "u64", O)],
    "MediaType": [("id", "text", R), ("names", ("map", MAX_NESTED), O)],
    "Settings": [("job_category_thresholds", ("array", "JobCategoryThreshold", MAX_NESTED), O),
                 ("print_categories", ("array", "PrintCategory", MAX_NESTED), O)],
    "JobCategoryThreshold": [("category", "text", R), ("max_coverage", "basis_points", R)],
    "PrintCategory": [("category", "text", R), ("name", "text", O), ("enabled", "bool", R),
                      ("settings", ("map", MAX_NESTED), O)],
    "Accessory": [("record_id", "u64", R), ("name", "text", R), ("status", "code:AccessoryStatus", R),
                  ("product_number", "text", O), ("serial_number", "text", O), ("firmware_version", "text", O)],
    "Usage": [("cartridge_types", ("array", "CartridgeTypeUsage", MAX_NESTED), O),
              ("media_types", ("array", "MediaTypeUsage", MAX_NESTED), O), ("scanned_area_total", "u64", R),
              ("scanned_area_scans", "u64", R), ("scanned_area_copies", "u64", R),
              ("application_categories", ("array", "ApplicationCategoryUsage", MAX_NESTED), O),
              ("jobs", "u64", R), ("pages", "u64", R), ("ink_total", "u64", R), ("media_total", "u64", R)],
    "CartridgeTypeUsage": [("product_number", "text", R), ("ink_total", "u64", R), ("ink_third_party", "u64", R),
                           ("ink_oem", "u64", R), ("insertions", "u64", R)],
    "MediaTypeUsage": [("media_type", "text", R), ("area", "u64", R), ("length", "u64", O)],
    "ApplicationCategoryUsage": [("category", "text", R), ("media_area", "u64", R), ("media_length", "u64", R)],
    "Events": [("print_jobs", ("array", "PrintJob", MAX_JOBS), O), ("scan_jobs", ("array", "ScanJob", MAX_JOBS), O),
               ("copy_jobs", ("array", "CopyJob", MAX_JOBS), O)],
    "JobHeader": [("name", "text", O), ("uuid", "uuid", R), ("sequence", "u64", R), ("submitter", "Submitter", R)],
    "Submitter": [("project_id", "text", O), ("application_id", "text", O), ("user_defined", "text", O),
                  ("account_id", "text", O), ("user_name", "text", O), ("submitted_at", "timestamp", O)],
    "PrintDetails": [("printed_at", "timestamp", O), ("status", "code:JobStatus", R), ("source", "code:JobSource", R),
                     ("ink_coverage_category", "text", O), ("quality", "code:PrintQuality", R),
                     ("pages", "u64", R), ("copies", "u32", R), ("print_time", "u64", R),
                     ("ink", ("array", "InkUse", MAX_NESTED), O), ("media_area", "u64", R),
                     ("printed_area", "u64", R),
                     ("application_categories", ("array", "JobCategoryUsage", MAX_NESTED), O),
                     ("non_white_coverage", "basis_points", O), ("colour_coverage", "basis_points", O)],
    "InkUse": [("colour", "colour", R), ("volume", "u64", R)],
    "JobCategoryUsage": [("category", "text", R), ("media_area", "u64", R), ("printed_area", "u64", R),
                         ("ink", "u64", R), ("media_length", "u64", R)],
    "ScanDetails": [("scanned_at", "timestamp", O), ("status", "code:JobStatus", R), ("scanned_area", "u64", R)],
    "PrintJob": [("job", "JobHeader", R), ("print", "PrintDetails", R)],
    "ScanJob": [("job", "JobHeader", R), ("scan", "ScanDetails", R)],
    "CopyJob": [("job", "JobHeader", R), ("scan", "ScanDetails", R), ("print", "PrintDetails", R)],
}

# Text: non-blank, XML 1.0 characters only (no C0 control but tab, LF, CR; no U+FFFE, U+FFFF),
# at most 1024 bytes of UTF-8 (JSON Schema counts characters; the byte limit is the reader's).
TEXT = {"type": "string", "minLength": 1, "maxLength": 1024,
        "pattern": "^(?=[\\s\\S]*\\S)[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uFFFE\\uFFFF]*$"}
SCALARS = {
    "u64": {"type": "integer", "minimum": 0, "maximum": 18446744073709551615},
    "u32": {"type": "integer", "minimum": 0, "maximum": 4294967295},
    "timestamp": {"type": "integer", "minimum": 0, "maximum": 253402300799999,
                  "description": "milliseconds since 1970-01-01T00:00:00Z, UTC"},
    "basis_points": {"type": "integer", "minimum": 0, "maximum": 10000},
    "bool": {"type": "boolean"},
    "text": TEXT,
    "colour": dict(TEXT, description="a colour name (docs/codes.json Colour) or any other colour verbatim, "
                                     "in normal form (docs/wire-format.md section 1, Colours)"),
    "mac": {"type": "string", "pattern": "^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"},
    "ip": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
    "uuid": {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"},
    "level": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 2147483647},
                        {"enum": ["unrestricted", "unknown", "some_remaining"]}]},
    "capacity": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 2147483647},
                           {"enum": ["unrestricted", "unknown"]}]},
    "errors": {"type": "array", "items": {"enum": sorted(CODES["DetectedErrorsBit"], key=CODES["DetectedErrorsBit"].get)},
               "uniqueItems": True, "maxItems": 16,
               "description": "condition names in bit order; always written, [] when none"},
}
CODE_SPACES = sorted({t.split(":", 1)[1] for fields in MESSAGES.values() for _, t, _ in fields
                      if isinstance(t, str) and t.startswith("code:")})


def code_def(space):
    """A code: its name, or the number of a code without a name (0 included)."""
    table = CODES[space]
    return {"anyOf": [{"enum": sorted(table)},
                      {"type": "integer", "minimum": 0, "maximum": 4294967295,
                       "not": {"enum": sorted(table.values())}}]}


def meters_def():
    names = CODES["MeterCode"]
    return {
        "type": "object", "minProperties": 1, "maxProperties": MAX_METERS,
        "propertyNames": {"anyOf": [
            {"enum": sorted(names)},
            {"pattern": "^vendor:[A-Za-z0-9._-]{1,64}$"},
            {"pattern": "^(0|[1-9][0-9]{0,9})$", "not": {"enum": sorted(str(v) for v in names.values())}},
        ]},
        "additionalProperties": {"$ref": "#/$defs/u64"},
        "description": "keyed by meter kind: a MeterCode name, the number of a code without a name, "
                       "or vendor:NAME; standard kinds by code, then vendor meters by name",
    }


def member(t):
    if isinstance(t, tuple) and t[0] == "array":
        return {"type": "array", "minItems": 1, "maxItems": t[2], "items": {"$ref": f"#/$defs/{t[1]}"}}
    if isinstance(t, tuple) and t[0] == "map":
        return {"type": "object", "minProperties": 1, "maxProperties": t[1],
                "propertyNames": {"$ref": "#/$defs/text"}, "additionalProperties": {"$ref": "#/$defs/text"}}
    if t.startswith("code:"):
        return {"$ref": f"#/$defs/{t[5:]}"}
    return {"$ref": f"#/$defs/{t}"}


def build_schema():
    defs = dict(SCALARS)
    defs["meters"] = meters_def()
    for space in CODE_SPACES:
        defs[space] = code_def(space)
    for name, fields in MESSAGES.items():
        defs[name] = {
            "type": "object",
            "properties": {f: member(t) for f, t, _ in fields},
            "required": [f for f, _, always in fields if always],
            "additionalProperties": False,
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:printfleet:telemetry:1:json",
        "title": "printfleet telemetry report, version 1, JSON encoding",
        "description": "What a version-1 writer emits (docs/wire-format.md sections 4 and 7). Members appear in "
                       "the order of `properties` (field-number order). Readers are more lenient: they ignore "
                       "unknown members and treat a missing one as absent, empty or 0. Generated and checked by "
                       "crates/wire/tests/python/validate_json_schema.py.",
        "$ref": "#/$defs/DeviceReport",
        "$defs": defs,
    }


def render(schema):
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def order_errors(value, definition, defs, path="$"):
    """Members out of field-number order, and `errors` out of bit order (not expressible in the schema)."""
    found = []
    if "$ref" in definition:
        return order_errors(value, defs[definition["$ref"].rsplit("/", 1)[1]], defs, path)
    if isinstance(value, dict) and "properties" in definition:
        order = list(definition["properties"])
        keys = list(value)
        if keys != sorted(keys, key=order.index):
            found.append(f"{path}: members {keys} not in field-number order")
        for k, v in value.items():
            found += order_errors(v, definition["properties"][k], defs, f"{path}.{k}")
    elif isinstance(value, list) and "items" in definition:
        if definition is defs["errors"]:
            bits = [CODES["DetectedErrorsBit"][n] for n in value]
            if bits != sorted(bits):
                found.append(f"{path}: not in bit order")
        for i, v in enumerate(value):
            found += order_errors(v, definition["items"], defs, f"{path}[{i}]")
    return found


def main():
    schema = build_schema()
    if "--write" in sys.argv[1:]:
        SCHEMA_PATH.write_text(render(schema))
        print(f"wrote {SCHEMA_PATH.relative_to(ROOT)}")
    failures = 0

    def check(what, ok, detail=""):
        nonlocal failures
        print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail and not ok else ''}")
        failures += 0 if ok else 1

    committed = SCHEMA_PATH.read_text() if SCHEMA_PATH.exists() else ""
    check(f"{SCHEMA_PATH.relative_to(ROOT)} is up to date (regenerate with --write)", committed == render(schema))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    defs = schema["$defs"]

    goldens = sorted(TESTDATA.glob("*.json"))
    check("golden JSON vectors found", len(goldens) >= 4)
    reports = {}
    for path in goldens:
        report = json.loads(path.read_text())
        reports[path.stem] = report
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(report)]
        check(f"{path.name} is valid", not errors, "; ".join(errors[:5]))
        order = order_errors(report, schema, defs)
        check(f"{path.name} members in field-number order, errors in bit order", not order, "; ".join(order[:5]))

    # What a writer never writes: each must be refused, or the schema says too little.
    base = reports["office_laser"]
    every = reports["every_field"]

    def mutated(report, change):
        r = copy.deepcopy(report)
        change(r)
        return r

    bad = {
        "errors omitted": mutated(base, lambda r: r["snapshot"]["status"].pop("errors")),
        "settings omitted": mutated(base, lambda r: r["snapshot"].pop("settings")),
        "events omitted": mutated(base, lambda r: r.pop("events")),
        "submitter omitted": mutated(every, lambda r: r["events"]["print_jobs"][0]["job"].pop("submitter")),
        "an empty list written": mutated(base, lambda r: r["snapshot"].__setitem__("alerts", [])),
        "an empty meters object": mutated(base, lambda r: r["snapshot"].__setitem__("meters", {})),
        "an unknown member": mutated(base, lambda r: r["identity"].__setitem__("colour", "red")),
        "a known code as a number": mutated(base, lambda r: r["snapshot"]["status"].__setitem__("engine", 3)),
        "an unknown code name": mutated(base, lambda r: r["snapshot"]["status"].__setitem__("engine", "on_fire")),
        "a known meter kind as a number": mutated(base, lambda r: r["snapshot"]["meters"].__setitem__("1", 5)),
        "a level as the MIB's -3": mutated(base, lambda r: r["snapshot"]["consumables"][0].__setitem__("level", -3)),
        "an upper-case MAC address": mutated(base, lambda r: r["identity"].__setitem__("mac_address",
                                                                                   "3C:52:82:1A:2B:3C")),
        "a blank text": mutated(base, lambda r: r["identity"].__setitem__("make", " ")),
        "a control character": mutated(base, lambda r: r["identity"].__setitem__("make", "H\u0007P")),
        "a timestamp after 9999": mutated(base, lambda r: r.__setitem__("generated_at", 253402300800000)),
    }
    for what, report in bad.items():
        check(f"refuses {what}", not validator.is_valid(report))
    swapped = mutated(base, lambda r: r.__setitem__("identity", dict(reversed(list(r["identity"].items())))))
    check("finds members out of order", bool(order_errors(swapped, schema, defs)))

    # Arbitrary reports written by the Rust encoder (`write_arbitrary_json_for_schema_validation`).
    for arg in [a for a in sys.argv[1:] if not a.startswith("--")]:
        files = sorted(pathlib.Path(arg).glob("*.json"))
        check(f"{arg}: reports found", bool(files))
        for path in files:
            report = json.loads(path.read_text())
            errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(report)]
            errors += order_errors(report, schema, defs)
            check(f"{path.name} is valid, in order", not errors, "; ".join(errors[:5]))

    print(f"JSON schema: {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
