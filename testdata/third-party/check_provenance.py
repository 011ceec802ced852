#!/usr/bin/env python3
"""Checks that every file under testdata/third-party has a provenance line with its SHA-256,
and every provenance line names a file that is there (exit 1 otherwise)."""
import hashlib
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent
failures = []
listed = set()
for provenance in sorted(root.rglob("PROVENANCE.txt")):
    folder = provenance.parent
    if folder.name == "hp_color_laserjet_m255dw":
        listed.add(provenance)  # upstream's own provenance file, kept as it came; the one above covers it
        continue
    for line in provenance.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        path, _repo, _upstream, commit, digest = line.split()
        file = folder / path
        listed.add(file)
        if len(commit) != 40:
            failures.append(f"{provenance}: bad commit for {path}")
        if not file.is_file():
            failures.append(f"{provenance}: {path} is missing")
        elif hashlib.sha256(file.read_bytes()).hexdigest() != digest:
            failures.append(f"{provenance}: {path} does not match its SHA-256")
for file in sorted(p for p in root.rglob("*") if p.is_file()):
    rel = file.relative_to(root)
    ours = ("LICENSE", "PROVENANCE.txt", "derive.py", "derive_logs.py")  # our scripts that made a folder's derived files
    if rel.parts[0] in ("README.md", "check_provenance.py") or file.name in ours:
        continue
    if file not in listed:
        failures.append(f"{rel}: no provenance line")
for f in failures:
    print(f, file=sys.stderr)
print(f"{len(listed)} files checked, {len(failures)} failures")
sys.exit(1 if failures else 0)
