#!/usr/bin/env python3
"""Helpers for crates/lan/tests/real/run.sh (real components on loopback, run by .ci/run).

  check.py layout ROOT CAPTURES_DIR ROUTER MOVED   writes snmpsim data dirs and ROOT/args
  check.py discovery OUT.jsonl EXPECTED.json       the printers found are exactly those served
  check.py moved OUT.jsonl ADDRESS FROM            ADDRESS is the device that was at FROM
  check.py same-report POLL.jsonl MIB.json         a poll's report equals printfleet mib/ledm/cdm's
  check.py ipp POLL.jsonl IPPTOOL.txt              the IPP report agrees with what ipptool reads
"""
import json
import os
import re
import sys

CAPTURES = ["brother", "epson", "jetdirect_m252dw", "jetdirect_m880", "sharp", "xerox"]
# Copies of these get a distinct serial and MAC per address (xerox has neither: served once).
IDENTIFIED = ["brother", "epson", "jetdirect_m252dw", "jetdirect_m880", "sharp"]
FIRST, LAST = 2, 40            # 127.0.0.2 .. 127.0.0.40: printers
ROUTER, V3 = 41, 42            # not a printer; a v3-only engine (authPriv user, no v2c community)
PORT = 16161
V3_USER = ["--v3-user=fleet", "--v3-auth-key=authpass1", "--v3-auth-proto=SHA256",
           "--v3-priv-key=privpass1", "--v3-priv-proto=AES"]


# The vendors' serial-number objects the mapping reads (printer_mib::SERIAL_OIDS): Brother's
# capture carries its serial there, so its copies need it rewritten too.
SERIAL_OBJECTS = {
    "1.3.6.1.4.1.11.2.3.9.4.2.1.1.3.3.0",
    "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.1.0",
    "1.3.6.1.4.1.1347.43.5.1.1.28.1",
    "1.3.6.1.4.1.367.3.2.1.2.1.4.0",
}


def rewrite(text, i):
    """The capture with serial SIM-i (in every serial object it has) and MACs
    02:00:00:00:<n>:<i> (lines stay in OID order)."""
    out = []
    for line in text.splitlines():
        oid, _, rest = line.partition("|")
        if oid.startswith("1.3.6.1.2.1.2.2.1.6.") and re.fullmatch(r"4x\|[0-9A-Fa-f]{12}", rest):
            n = int(oid.rsplit(".", 1)[1]) & 0xFF
            line = f"{oid}|4x|02000000{n:02X}{i:02X}"
        elif oid.startswith("1.3.6.1.2.1.43.5.1.1.17.") or oid in SERIAL_OBJECTS:
            line = f"{oid}|4|SIM-{i:03d}"
        out.append(line)
    return "\n".join(out) + "\n"


def layout(root, captures, router, moved):
    """One snmpsim engine per address (each with its own data dir: snmpsim picks data by
    community or context, not by endpoint); `moved` is 'NAME:FROM:TO' or '-'."""
    args, expected = [], {}
    placement = {}
    for i in range(FIRST, LAST + 1):
        k = i - FIRST
        if k < len(CAPTURES):
            placement[i] = (CAPTURES[k], False)
        else:
            placement[i] = (IDENTIFIED[k % len(IDENTIFIED)], True)
    if moved != "-":
        _, src, dst = moved.split(":")
        placement[int(dst)] = placement.pop(int(src))
    for i, (name, copy) in sorted(placement.items()):
        text = open(os.path.join(captures, name + ".snmprec"), encoding="latin-1").read()
        d = os.path.join(root, f"127.0.0.{i}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "public.snmprec"), "w", encoding="latin-1") as f:
            f.write(rewrite(text, i) if copy else text)
        args += ["--v3-engine-id=auto", f"--data-dir={d}", f"--agent-udpv4-endpoint=127.0.0.{i}:{PORT}"]
        expected[f"127.0.0.{i}"] = name
    d = os.path.join(root, f"127.0.0.{ROUTER}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "public.snmprec"), "w") as f:
        f.write(open(router).read())
    args += ["--v3-engine-id=auto", f"--data-dir={d}", f"--agent-udpv4-endpoint=127.0.0.{ROUTER}:{PORT}"]
    # v3 requests carry an empty context: snmpsim falls back to the data file named "self".
    d = os.path.join(root, f"127.0.0.{V3}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "self.snmprec"), "w", encoding="latin-1") as f:
        f.write(open(os.path.join(captures, "jetdirect_m880.snmprec"), encoding="latin-1").read())
    args += ["--v3-engine-id=auto", f"--data-dir={d}", f"--agent-udpv4-endpoint=127.0.0.{V3}:{PORT}"] + V3_USER
    with open(os.path.join(root, "args"), "w") as f:
        f.write("\n".join(args) + "\n")
    with open(os.path.join(root, "expected.json"), "w") as f:
        json.dump(expected, f)


def lines(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def discovery(out, expected_path):
    found = lines(out)
    expected = json.load(open(expected_path))
    addresses = sorted(p["address"] for p in found)
    assert addresses == sorted(expected), f"found {addresses}, served {sorted(expected)}"
    keys = [json.dumps(p["device"], sort_keys=True) for p in found if p.get("device")]
    assert len(keys) == len(set(keys)), "two served printers share an identity"
    anonymous = [p["address"] for p in found if not p.get("device")]
    assert [expected[a] for a in anonymous] == ["xerox"], f"without identity: {anonymous}"
    print(f"ok   discovery: exactly the {len(found)} printers served ({len(keys)} identified)")


def moved(out, address, src):
    found = {p["address"]: p for p in lines(out)}
    p = found.get(address)
    assert p and p.get("sighting") == "moved" and p.get("from") == src, f"{address}: {p}"
    others = [q for a, q in found.items() if a != address and q.get("device")]
    assert all(q.get("sighting") == "unchanged" for q in others), [q for q in others if q.get("sighting") != "unchanged"]
    print(f"ok   {address}: the same device as at {src}, recorded as moved; {len(others)} others unchanged")


def same_report(poll, mib):
    polled = lines(poll)
    assert len(polled) == 1, polled
    expected = json.load(open(mib))
    assert polled[0]["report"] == expected, f"{poll} differs from {mib}"
    print(f"ok   {polled[0]['target']}: report = {os.path.basename(mib)}")


def ipp(poll, ipptool_out):
    """Compares the mapped report with the attributes `ipptool -tv` printed."""
    attrs = {}
    for line in open(ipptool_out, encoding="utf-8", errors="replace"):
        m = re.match(r"\s+([a-z0-9-]+) \(([^)]*)\) = (.*)$", line.rstrip("\n"))
        if m:
            attrs[m.group(1)] = m.group(3)
    for need in ["printer-make-and-model", "printer-state", "printer-device-id", "printer-supply"]:
        assert need in attrs, f"ipptool did not print {need}: is the printer up?"
    report = lines(poll)[0]["report"]
    ident = report["identity"]
    device_id = dict(kv.split(":", 1) for kv in attrs["printer-device-id"].split(";") if ":" in kv)
    assert ident.get("make") == device_id.get("MFG"), (ident, device_id)
    assert ident.get("model") == device_id.get("MDL"), (ident, device_id)
    assert ident.get("product_name") == attrs["printer-make-and-model"], ident
    assert report["snapshot"]["status"]["printer"] == attrs["printer-state"], report["snapshot"]["status"]
    supplies = [dict(kv.split("=", 1) for kv in s.split(";") if "=" in kv) for s in re.split(r",(?=index=)", attrs["printer-supply"])]
    consumables = {c["record_id"]: c for c in report["snapshot"]["consumables"]}
    assert len(consumables) == len(supplies), (consumables, supplies)
    for s in supplies:
        c = consumables[int(s["index"])]
        assert c["level"] == int(s["level"]) and c["capacity"] == int(s["maxcapacity"]), (c, s)
    descriptions = attrs.get("printer-supply-description", "").split(",")
    assert [consumables[int(s["index"])]["description"] for s in supplies] == descriptions, descriptions
    print(f"ok   IPP: make, model, state and {len(supplies)} supplies agree with ipptool")


if __name__ == "__main__":
    cmd, *rest = sys.argv[1:]
    {"layout": layout, "discovery": discovery, "moved": moved, "same-report": same_report, "ipp": ipp}[cmd](*rest)
