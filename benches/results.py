#!/usr/bin/env python3
"""The README's results table, from criterion's output and the demo's summary.

Ratios only (ours against the baseline measured in the same criterion group, or on the same
simulated readings): the machine the benchmarks run on is shared and noisy, and a ratio from one
run survives that where an absolute figure does not.

Usage, from the repository root:

    cargo bench -p printfleet-benches --bench pipeline     # (and any other bench: codecs, agent, ...)
    cargo run --release -p printfleet-cli -- demo          # writes demo-out/summary.json
    python3 benches/results.py                             # prints the table
    python3 benches/results.py --update-readme             # rewrites it in README.md

The table goes between the README's `<!-- results:begin -->` and `<!-- results:end -->` lines.
Anything missing (a benchmark not run, no demo summary) reads "not measured"; nothing fails for
lack of data. `--criterion DIR` (default `$CARGO_TARGET_DIR/criterion`, else
`target/criterion`), `--demo FILE` (default `demo-out/summary.json`), `--readme FILE`.
"""
import argparse
import json
import os
import pathlib
import sys

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"
NOT_MEASURED = "not measured"


def default_criterion():
    return pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"


def mean_ns(criterion, group, function):
    """Criterion's mean estimate in ns for `group`/`function` (criterion's directory names:
    `/` in a group or function name becomes `_`; a `BenchmarkId` is a nested directory),
    or None when it was not measured or the file is unreadable."""
    path = pathlib.Path(criterion) / group / function / "new" / "estimates.json"
    try:
        return float(json.loads(path.read_text())["mean"]["point_estimate"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def total(values):
    """The sum, or None if any part is missing."""
    if any(v is None for v in values):
        return None
    return sum(values)


def speedup(baseline_ns, ours_ns):
    """How many times faster ours is than the baseline (None if either is missing)."""
    if baseline_ns is None or ours_ns is None or ours_ns <= 0:
        return None
    return baseline_ns / ours_ns


# (what, group, ours, baseline, target as a minimum speed-up or None, target's text)
# `ours` and `baseline` are lists of functions whose times add up (seal + open).
BENCH_ROWS = [
    ("portal pipeline per report (open, decode, apply, extract, meter) vs naive (Fernet, gunzip, serde_json, meter)",
     "pipeline", ["portal_printfleet"], ["portal_naive"], 10.0, ">= 10x (#18)"),
    ("agent pipeline per report (diff, encode, seal) vs naive (serde_json, gzip, Fernet of the full report)",
     "pipeline", ["agent_printfleet"], ["agent_naive"], None, "-"),
    ("protobuf encode vs serde_json, typical report", "encode_typical", ["protobuf"], ["serde_json_baseline"], 2.0,
     ">= 2x (#14)"),
    ("protobuf encode vs serde_json, large-format report (200 jobs)", "encode_large_format", ["protobuf"],
     ["serde_json_baseline"], 2.0, ">= 2x (#14)"),
    ("protobuf decode vs serde_json, typical report", "decode_typical", ["protobuf"], ["serde_json_baseline"], None,
     "-"),
    ("protobuf decode vs serde_json, large-format report", "decode_large_format", ["protobuf"],
     ["serde_json_baseline"], None, "-"),
    ("agent layer vs bare diff + encode + seal (steady state)", "agent_cycle", ["steady_agent"], ["steady_bare"],
     1 / 1.2, "overhead <= 20% (>= 0.83x)"),
    ("1 KiB frame seal + open vs Fernet", "frame_1024", ["seal/printfleet", "open/printfleet"],
     ["seal/fernet", "open/fernet"], None, "-"),
    ("meter: observations ingested vs BTreeMap baseline", "meter_ingest", ["printfleet"], ["btreemap_baseline"], None,
     "-"),
    ("meter: closing a month vs summing the deltas", "meter_close", ["printfleet"], ["sum_deltas_baseline"], None, "-"),
]

INGEST_STAGES = ["floor_open", "floor_decode", "floor_apply", "floor_hash", "floor_extract", "floor_reply"]

# The demo's rows: where in summary.json ("kinds": every device of the kind, "via_collector":
# those read by a collector), the kind, the byte target (naive bytes / ours, at least)
# and its text. An SDS-style fleet is a LAN monitor's: the office kinds read by a collector.
DEMO_TARGETS = [
    ("via_collector", "office_mono", 20.0, ">= 20x (SDS-style, #18)"),
    ("via_collector", "office_colour", 20.0, ">= 20x (SDS-style, #18)"),
    ("via_collector", "inkjet_mfp", 20.0, ">= 20x (SDS-style, #18)"),
    ("via_collector", "large_format", 5.0, ">= 5x (#18)"),
    ("direct", "large_format", 5.0, ">= 5x (#18)"),
    ("kinds", "office_mono", None, "-"),
    ("kinds", "office_colour", None, "-"),
    ("kinds", "inkjet_mfp", None, "-"),
]
DEMO_LABELS = {"via_collector": "read by a collector", "direct": "direct", "kinds": "every device"}


def bench_rows(criterion):
    """(what, ratio or None, target text, met or None) per benchmark row."""
    rows = []
    for what, group, ours, baseline, minimum, target in BENCH_ROWS:
        ratio = speedup(total([mean_ns(criterion, group, f) for f in baseline]),
                        total([mean_ns(criterion, group, f) for f in ours]))
        rows.append((what, ratio, target, None if ratio is None or minimum is None else ratio >= minimum))
    floor = total([mean_ns(criterion, "ingest", s) for s in INGEST_STAGES])
    sans_io = mean_ns(criterion, "ingest", "sans_io")
    # Both are over the same updates, so the ratio of the totals is that of the per-update times.
    share = speedup(floor, sans_io)
    rows.append(("sans-IO ingest vs its measured floor (sum of the stages, same updates)", share,
                 ">= 0.8x of the floor (proposed in #17)", None if share is None else share >= 0.8))
    return rows


def read_demo(path):
    """The demo's summary.json as a dict, or None if it is missing or unreadable."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None


def demo_rows(summary):
    """(what, ratio or None, target text, met or None) per demo row, then the whole fleet: the
    naive pipeline's bytes over ours (both directions) on the same readings."""
    def find(section, kind):
        if not isinstance(summary, dict):
            return None
        if section == "total":
            return summary.get("total")
        if section == "direct":
            # Every device of the kind less those read by a collector.
            every, collected = find("kinds", kind), find("via_collector", kind) or {}
            if not isinstance(every, dict) or not isinstance(collected, dict):
                return None
            try:
                return {f: int(every[f]) - int(collected.get(f, 0)) for f in ("ours_up", "ours_down", "naive")}
            except (KeyError, TypeError, ValueError):
                return None
        for k in summary.get(section, []) or []:
            if isinstance(k, dict) and k.get("kind") == kind:
                return k
        return None

    rows = []
    for section, kind, minimum, target in DEMO_TARGETS + [("total", "all", None, "-")]:
        k = find(section, kind)
        ratio = None
        if isinstance(k, dict):
            try:
                ours = int(k["ours_up"]) + int(k["ours_down"])
                ratio = int(k["naive"]) / ours if ours > 0 else None
            except (KeyError, TypeError, ValueError):
                ratio = None
        label = "whole fleet" if section == "total" else f"{kind} ({DEMO_LABELS[section]})"
        rows.append((f"demo wire bytes per device-day, naive / ours: {label}", ratio, target,
                     None if ratio is None or minimum is None else ratio >= minimum))
    return rows


def fmt_ratio(ratio):
    return NOT_MEASURED if ratio is None else f"{ratio:.2f}x"


def fmt_met(met):
    return {True: "met", False: "not met", None: ""}[met]


def table(criterion, summary):
    """The Markdown table (without the markers)."""
    lines = [
        "| measure | ours vs baseline | target | |",
        "|---|---:|---|---|",
    ]
    for what, ratio, target, met in bench_rows(criterion) + demo_rows(summary):
        lines.append(f"| {what} | {fmt_ratio(ratio)} | {target} | {fmt_met(met)} |")
    if isinstance(summary, dict) and "printers" in summary and "days" in summary:
        lines.append("")
        lines.append(f"Demo bytes from `printfleet demo` ({summary['printers']} printers, {summary['days']} days, "
                     f"seed {summary.get('seed', '?')}); speed ratios from criterion's means, each against the "
                     f"baseline in the same group of the same run.")
    else:
        lines.append("")
        lines.append("Speed ratios from criterion's means, each against the baseline in the same group of the same run.")
    return "\n".join(lines)


def replace_between_markers(text, body):
    """`text` with everything between the marker lines replaced by `body`. Raises ValueError if
    the markers are missing or out of order."""
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"the README needs the lines {BEGIN} and {END}, in that order")
    head = text[: start + len(BEGIN)]
    return head + "\n" + body.rstrip("\n") + "\n" + text[end:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criterion", default=None, help="criterion's output directory")
    parser.add_argument("--demo", default="demo-out/summary.json", help="the demo's summary.json")
    parser.add_argument("--readme", default="README.md", help="the README to update")
    parser.add_argument("--update-readme", action="store_true", help="rewrite the table in the README")
    args = parser.parse_args(argv)
    criterion = pathlib.Path(args.criterion) if args.criterion else default_criterion()
    body = table(criterion, read_demo(args.demo))
    if not args.update_readme:
        print(body)
        return 0
    readme = pathlib.Path(args.readme)
    try:
        updated = replace_between_markers(readme.read_text(), body)
    except (OSError, ValueError) as e:
        print(f"{readme}: {e}", file=sys.stderr)
        return 1
    readme.write_text(updated)
    print(f"{readme}: results table updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
