#!/usr/bin/env python3
"""Prints the ratios the issues set targets for, from criterion's estimates of the last
`cargo bench -p printfleet-benches` run (target/criterion/<group>/<function>/new/estimates.json),
and the encoded sizes. Usage, from the repository root: python3 benches/ratios.py
(`python3 benches/results.py --update-readme` writes the README's results table, ratios only.)
"""
import json
import os
import pathlib
import sys

# Criterion writes under the target directory ($CARGO_TARGET_DIR when set).
CRITERION = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"


def mean_ns(group, function):
    path = CRITERION / group / function / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["mean"]["point_estimate"]


def main():
    found = False
    for report in ["typical", "large_format"]:
        t = {f: mean_ns(f"decode_{report}", f) for f in ["protobuf", "xml", "json", "serde_json_baseline"]}
        e = {f: mean_ns(f"encode_{report}", f) for f in ["protobuf", "xml", "json", "serde_json_baseline"]}
        if None in t.values():
            continue
        found = True
        print(f"{report}:")
        print(f"  decode  protobuf {t['protobuf'] / 1e3:9.1f} us  ({1e9 / t['protobuf']:10.0f} reports/s)")
        print(f"          xml      {t['xml'] / 1e3:9.1f} us    json {t['json'] / 1e3:9.1f} us    serde_json {t['serde_json_baseline'] / 1e3:9.1f} us")
        print(f"  serde_json decode / protobuf decode = {t['serde_json_baseline'] / t['protobuf']:.2f}x   (target >= 5x)")
        print(f"  xml decode / protobuf decode        = {t['xml'] / t['protobuf']:.2f}x   (target <= 3x)")
        floors = {f: mean_ns(f"decode_{report}", f) for f in ["prost_generated_floor", "quick_xml_tokens_floor", "quick_xml_ns_attributes_floor"]}
        if None not in floors.values():
            print(f"  floors: prost's generated decoder {floors['prost_generated_floor'] / 1e3:.2f} us"
                  f" (serde_json / prost = {t['serde_json_baseline'] / floors['prost_generated_floor']:.2f}x);"
                  f" quick-xml tokens alone {floors['quick_xml_tokens_floor'] / 1e3:.2f} us,"
                  f" with namespaces and attributes {floors['quick_xml_ns_attributes_floor'] / 1e3:.2f} us")
        if None not in e.values():
            print(f"  encode  protobuf {e['protobuf'] / 1e3:9.1f} us    xml {e['xml'] / 1e3:9.1f} us    json {e['json'] / 1e3:9.1f} us    serde_json {e['serde_json_baseline'] / 1e3:9.1f} us")
    for size in [256, 1024, 16384, 65536]:
        g = f"frame_{size}"
        t = {(op, who): mean_ns(g, f"{op}/{who}") for op in ["seal", "open"] for who in ["printfleet", "bare", "fernet"]}
        if None in t.values():
            continue
        found = True
        ours = t[("seal", "printfleet")] + t[("open", "printfleet")]
        print(f"frames {size} B: seal {t[('seal', 'printfleet')] / 1e3:.2f} us, open {t[('open', 'printfleet')] / 1e3:.2f} us")
        print(f"  open / bare open           = {t[('open', 'printfleet')] / t[('open', 'bare')]:.2f}x   (target at 16 KiB <= 1.3x)")
        print(f"  fernet / printfleet (s+o)  = {(t[('seal', 'fernet')] + t[('open', 'fernet')]) / ours:.2f}x   (target at 1 KiB >= 3x)")
        print(f"  fernet / bare (s+o)        = {(t[('seal', 'fernet')] + t[('open', 'fernet')]) / (t[('seal', 'bare')] + t[('open', 'bare')]):.2f}x   (the most any AES-CBC+HMAC frame could reach)")
    h, v, f = mean_ns("auth", "handshake_server_side"), mean_ns("auth", "one_shot_verify"), mean_ns("auth", "hmac_floor")
    if None not in (h, v, f):
        found = True
        print(f"auth: handshake (server side) {h / 1e3:.2f} us = {1e9 / h:,.0f}/s per core (target >= 100,000/s)")
        print(f"      one-shot verification  {v / 1e3:.2f} us = {1e9 / v:,.0f}/s per core (target >= 500,000/s)")
        print(f"      one HMAC-SHA256 over the transcript: {f / 1e3:.2f} us (floor)")
    for name in ["typical", "large_format"]:
        d, e = mean_ns("diff", f"{name}_diff_apply"), mean_ns("diff", f"{name}_equality_floor")
        if None not in (d, e):
            found = True
            print(f"diff {name}: diff + 2 applies {d / 1e3:.2f} us = at least {1e9 / d:,.0f} diff+apply pairs/s per core (target typical >= 1,000,000/s); equality {e:.0f} ns")
    u, r = mean_ns("delta_codec", "typical_update_protobuf"), mean_ns("delta_codec", "typical_full_report_protobuf")
    if None not in (u, r):
        found = True
        print(f"delta codec typical: steady-state update encode+decode {u / 1e3:.2f} us, full report {r / 1e3:.2f} us ({r / u:.1f}x)")
    m, b = mean_ns("meter_ingest", "printfleet"), mean_ns("meter_ingest", "btreemap_baseline")
    if None not in (m, b):
        found = True
        n = json.loads((CRITERION / "meter_ingest" / "printfleet" / "new" / "benchmark.json").read_text())["throughput"]["Elements"]
        print(f"meter: {n:,} observations in {m / 1e9:.3f} s = {n * 1e9 / m:,.0f} observations/s per core (target >= 2,000,000/s);"
              f" BTreeMap baseline {n * 1e9 / b:,.0f}/s ({b / m:.2f}x)")
        cl, cb = mean_ns("meter_close", "printfleet"), mean_ns("meter_close", "sum_deltas_baseline")
        if None not in (cl, cb):
            print(f"       closing one month: {cl / 1e6:.1f} ms (sum-the-deltas baseline {cb / 1e6:.1f} ms)")
    t = {f: mean_ns("pipeline", f) for f in ["agent_printfleet", "agent_naive", "portal_printfleet", "portal_naive"]}
    if None not in t.values():
        found = True
        n = json.loads((CRITERION / "pipeline" / "portal_printfleet" / "new" / "benchmark.json").read_text())["throughput"]["Elements"]
        rate = {f: n * 1e9 / v for f, v in t.items()}
        print(f"pipeline ({n:,} reports of the simulator's fleet):")
        print(f"  portal: printfleet {rate['portal_printfleet']:,.0f} reports/s, naive {rate['portal_naive']:,.0f} reports/s"
              f" = {rate['portal_printfleet'] / rate['portal_naive']:.2f}x   (target >= 10x)")
        print(f"  agent:  printfleet {rate['agent_printfleet']:,.0f} reports/s, naive {rate['agent_naive']:,.0f} reports/s"
              f" = {rate['agent_printfleet'] / rate['agent_naive']:.2f}x")
    stages = ["floor_open", "floor_decode", "floor_apply", "floor_hash", "floor_extract", "floor_reply"]
    ingest = {f: mean_ns("ingest", f) for f in stages + ["sans_io", "bare"]}
    if None not in ingest.values():
        found = True
        n = json.loads((CRITERION / "ingest" / "sans_io" / "new" / "benchmark.json").read_text())["throughput"]["Elements"]
        per = {f: v / n for f, v in ingest.items()}
        floor = sum(per[f] for f in stages)
        print("ingest (per steady-state update, ns): " + ", ".join(f"{f[6:]} {per[f]:.0f}" for f in stages))
        print(f"  floor {floor:.0f} ns = {1e9 / floor:,.0f}/s; sans_io {per['sans_io']:.0f} ns = {1e9 / per['sans_io']:,.0f}/s"
              f" per core ({floor / per['sans_io']:.0%} of the floor; issue 17 asked >= 500,000/s); bare {1e9 / per['bare']:,.0f}/s")
    if not found:
        sys.exit("no criterion results: run `cargo bench -p printfleet-benches` first")


if __name__ == "__main__":
    main()
