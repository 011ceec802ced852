#!/usr/bin/env python3
"""Derives a capture here from a printmaster walk (agent/scanner/testdata/NAME_snmp.json, a JSON list
of {"oid", "type", "value", "hex_value"}): the system group, Host Resources (1.3.6.1.2.1.25) and the
Printer-MIB (1.3.6.1.2.1.43) only, in snmpsim's `OID|tag|value` format, sorted by OID, the first
record of an OID kept (the walks repeat some objects). The rest of the walk (interfaces, ARP and
address tables naming other hosts of the owner's network, vendor subtrees) is left out.

    python3 derive.py NAME_snmp.json > NAME.snmprec
"""
import json
import sys

KEEP = ("1.3.6.1.2.1.1.", "1.3.6.1.2.1.25.", "1.3.6.1.2.1.43.")
TAGS = {"Integer": "2", "Counter32": "65", "Gauge32": "66", "TimeTicks": "67", "IPAddress": "64"}


def line(oid, kind, value, hex_value):
    if kind == "OctetString":
        if hex_value is None:  # printmaster leaves hex_value out of an empty string
            return f"{oid}|4|"
        text = bytes.fromhex(hex_value)
        if text.isascii() and text.decode().isprintable() and text.decode() == value == value.strip():
            return f"{oid}|4|{value}"
        return f"{oid}|4x|{hex_value}"
    if kind == "ObjectIdentifier":
        return f"{oid}|6|{value.lstrip('.')}"
    return f"{oid}|{TAGS[kind]}|{value}"


def main(path):
    seen = {}
    for r in json.load(open(path, encoding="utf-8")):
        if r["oid"].startswith(KEEP):
            seen.setdefault(r["oid"], (r["type"], r["value"], r.get("hex_value")))
    for oid in sorted(seen, key=lambda o: tuple(int(x) for x in o.split("."))):
        print(line(oid, *seen[oid]))


if __name__ == "__main__":
    main(sys.argv[1])
