#!/usr/bin/env python3
"""Derives a capture from a printmaster parse-debug log (logs_review/parse_debug_<ip>.json in
mstrhakr/printmaster, MIT): one JSON object whose "raw_pdus" list is a full SNMP walk of one printer,
followed by the parser's own result ("steps", "manufacturer_hints", "final_manufacturer", "model",
"serial", "detection_reasons", "extra", ...).

Adaptation from ../../../main/testdata/third-party/printmaster/derive.py (same output format):
  * the records are under "raw_pdus", not a top-level list;
  * the value field is "str_value", not "value"; it is left out when the string is empty or
    (for octet strings) when the bytes are not text, so an OctetString may carry only "hex_value"
    (e.g. hrSystemDate), only "str_value" is never seen for octet strings, and neither is present
    for an empty string;
  * the str_value of a binary octet string is a lossy rendering (control bytes and invalid UTF-8
    are mangled), so an OctetString's value is taken from hex_value alone: `4|text` when the bytes
    are printable ASCII equal to their trimmed self, else `4x|hex`; where str_value is present
    and the bytes are text, the two are checked to agree;
  * the walk repeats parts of the Printer-MIB (the parser walks some tables twice); the first
    record of an OID is kept, and a later record with a different value is reported.

Kept: 1.3.6.1.2.1.1. (system), 1.3.6.1.2.1.25. (Host Resources), 1.3.6.1.2.1.43. (Printer-MIB),
the interface MAC column 1.3.6.1.2.1.2.2.1.6.*, the IEEE 1284 device-id objects if present
(PWG ppmPrinterIEEE1284DeviceId 1.3.6.1.4.1.2699.1.2.1.2.1.1.3.*, HP 1.3.6.1.4.1.11.2.3.9.1.1.7.0),
and, for Kyocera only, the vendor counter subtrees 1.3.6.1.4.1.1347.42.3.1.,
1.3.6.1.4.1.1347.43.10.1.1.12. and 1.3.6.1.4.1.1347.43.5.1.1.28. Everything else (IP/ARP/route/
TCP/UDP tables naming other hosts, other vendor subtrees) is left out.

Privacy: sysContact, sysName, sysLocation, prtGeneralCurrentOperator (43.5.1.1.4.*) and
prtGeneralServicePerson (43.5.1.1.5.*) become `4|<private>` whatever they hold; further values
listed in EXTRA_PRIVATE (found by the review scan this script prints to stderr) do too.

    python3 derive_logs.py parse_debug.json vendor > out.snmprec     # vendor: kyocera | epson
    python3 derive_logs.py --expected parse_debug.json                # the parser's own result
"""
import json
import re
import sys

BASE_KEEP = ("1.3.6.1.2.1.1.", "1.3.6.1.2.1.25.", "1.3.6.1.2.1.43.", "1.3.6.1.2.1.2.2.1.6.",
             "1.3.6.1.4.1.2699.1.2.1.2.1.1.3.")
EXACT_KEEP = ("1.3.6.1.4.1.11.2.3.9.1.1.7.0",)
VENDOR_KEEP = {
    "kyocera": ("1.3.6.1.4.1.1347.42.3.1.", "1.3.6.1.4.1.1347.43.10.1.1.12.",
                "1.3.6.1.4.1.1347.43.5.1.1.28."),
    "epson": (),
}
TAGS = {"Integer": "2", "Counter32": "65", "Gauge32": "66", "TimeTicks": "67", "IPAddress": "64",
        "Counter64": "70"}
PRIVATE_EXACT = ("1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0")
PRIVATE_PREFIX = ("1.3.6.1.2.1.43.5.1.1.4.", "1.3.6.1.2.1.43.5.1.1.5.")
# OIDs whose values the review scan flagged as naming a person, company, address, phone, e-mail
# or host; filled in after reading the scan's output (see SUMMARY.md).
EXTRA_PRIVATE = {}
SUSPECT = re.compile(
    r"@|https?://|www\.|\.(com|net|org|local|lan|corp|edu|gov)\b|\+?\d[\d ().-]{7,}\d"
    r"|\b(street|st\.|ave|avenue|road|rd\.|suite|floor|inc|llc|ltd|gmbh|corp)\b",
    re.IGNORECASE)


def oid_key(oid):
    return tuple(int(x) for x in oid.split("."))


def render(rec):
    kind, sval, hval = rec["type"], rec.get("str_value"), rec.get("hex_value")
    if kind == "OctetString":
        if hval is None:
            if sval:
                raise ValueError(f"{rec['oid']}: text without hex_value")
            return "4", ""
        raw = bytes.fromhex(hval)
        if raw.isascii() and raw.decode().isprintable() and raw.decode() == raw.decode().strip():
            text = raw.decode()
            if sval is not None and sval != text:
                print(f"warning: {rec['oid']} str_value {sval!r} != hex text {text!r}",
                      file=sys.stderr)
            return "4", text
        return "4x", hval
    if kind == "ObjectIdentifier":
        return "6", (sval or "").lstrip(".")
    if kind not in TAGS:
        raise ValueError(f"{rec['oid']}: unknown type {kind}")
    return TAGS[kind], sval


def derive(path, vendor):
    doc = json.load(open(path, encoding="utf-8"))
    keep = BASE_KEEP + VENDOR_KEEP[vendor]
    seen = {}
    for rec in doc["raw_pdus"]:
        oid = rec["oid"].lstrip(".")
        if not (oid.startswith(keep) or oid in EXACT_KEEP):
            continue
        val = render(rec)
        if oid in seen:
            if seen[oid] != val:
                print(f"note: {oid} repeated with another value: {seen[oid]} then {val}",
                      file=sys.stderr)
            continue
        seen[oid] = val
    out = []
    for oid in sorted(seen, key=oid_key):
        tag, value = seen[oid]
        if oid in PRIVATE_EXACT or oid.startswith(PRIVATE_PREFIX) or oid in EXTRA_PRIVATE.get(
                path.rsplit("/", 1)[-1], ()):
            if value != "<private>":
                print(f"private: {oid} {tag}|{value!r} -> 4|<private>", file=sys.stderr)
            tag, value = "4", "<private>"
        elif tag == "4" and SUSPECT.search(value or ""):
            print(f"review: {oid} {tag}|{value}", file=sys.stderr)
        out.append(f"{oid}|{tag}|{value}")
    return out


def expected(path):
    doc = json.load(open(path, encoding="utf-8"))
    rest = {k: v for k, v in doc.items() if k != "raw_pdus"}
    print(json.dumps(rest, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    if sys.argv[1] == "--expected":
        expected(sys.argv[2])
    else:
        for line in derive(sys.argv[1], sys.argv[2]):
            print(line)
