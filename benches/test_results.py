#!/usr/bin/env python3
"""Tests of results.py's parsing and README rewrite on the small criterion sample checked in
under testdata/criterion (and testdata/demo-summary.json). Run: python3 benches/test_results.py
"""
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import results  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
CRITERION = HERE / "testdata" / "criterion"
DEMO = HERE / "testdata" / "demo-summary.json"


def row(rows, prefix):
    found = [r for r in rows if r[0].startswith(prefix)]
    assert len(found) == 1, (prefix, [r[0] for r in rows])
    return found[0]


class Criterion(unittest.TestCase):
    def test_reads_the_mean_estimate(self):
        self.assertEqual(results.mean_ns(CRITERION, "pipeline", "portal_printfleet"), 40_000_000.0)

    def test_missing_or_corrupt_is_none(self):
        self.assertIsNone(results.mean_ns(CRITERION, "pipeline", "no_such_function"))
        self.assertIsNone(results.mean_ns(CRITERION / "nowhere", "pipeline", "portal_printfleet"))
        self.assertIsNone(results.mean_ns(CRITERION, "agent_cycle", "steady_agent"))  # truncated file

    def test_ratios_are_baseline_over_ours_in_one_group(self):
        rows = results.bench_rows(CRITERION)
        _, ratio, _, met = row(rows, "portal pipeline")
        self.assertAlmostEqual(ratio, 2.5)
        self.assertIs(met, False)  # the target is 10x
        _, ratio, _, met = row(rows, "agent pipeline")
        self.assertAlmostEqual(ratio, 3.0)
        self.assertIsNone(met)  # no target
        _, ratio, _, met = row(rows, "protobuf encode vs serde_json, typical")
        self.assertAlmostEqual(ratio, 3.3)
        self.assertIs(met, True)

    def test_benchmark_ids_add_up_seal_and_open(self):
        _, ratio, _, met = row(results.bench_rows(CRITERION), "1 KiB frame")
        self.assertAlmostEqual(ratio, 3.0)
        self.assertIsNone(met)  # no issue sets a target for it

    def test_ingest_share_of_the_floor(self):
        _, ratio, _, met = row(results.bench_rows(CRITERION), "sans-IO ingest")
        self.assertAlmostEqual(ratio, 4.0 / 5.0)
        self.assertIs(met, True)

    def test_anything_missing_is_not_measured(self):
        rows = results.bench_rows(CRITERION)
        self.assertIsNone(row(rows, "protobuf encode vs serde_json, large-format")[1])  # no baseline
        self.assertIsNone(row(rows, "agent layer")[1])  # corrupt estimate
        self.assertIsNone(row(rows, "meter: observations")[1])  # group absent
        text = results.table(HERE / "nowhere", None)
        cells = [line.split(" | ")[1] for line in text.splitlines()[2:] if line.startswith("| ")]
        self.assertEqual(len(cells), len(results.BENCH_ROWS) + 1 + len(results.DEMO_TARGETS) + 1)
        self.assertEqual(set(cells), {results.NOT_MEASURED})


class Demo(unittest.TestCase):
    def test_byte_ratios_per_kind_from_the_summary(self):
        rows = results.demo_rows(results.read_demo(DEMO))
        prefix = "demo wire bytes per device-day, naive / ours: "
        _, ratio, _, met = row(rows, prefix + "office_mono (every device)")
        self.assertAlmostEqual(ratio, 1_134_000 / 210_000)
        self.assertIsNone(met, "no target for every device of an office kind")
        _, ratio, _, met = row(rows, prefix + "office_mono (read by a collector)")
        self.assertAlmostEqual(ratio, 907_200 / 45_000)
        self.assertIs(met, True)
        # Large format: every device is direct in the sample (none read by a collector).
        _, ratio, _, met = row(rows, prefix + "large_format (direct)")
        self.assertAlmostEqual(ratio, 5.0)
        self.assertIs(met, True)
        self.assertIsNone(row(rows, prefix + "large_format (read by a collector)")[1])
        # Direct is every device less those read by a collector.
        summary = {"kinds": [{"kind": "large_format", "ours_up": 300, "ours_down": 100, "naive": 3000}],
                   "via_collector": [{"kind": "large_format", "ours_up": 100, "ours_down": 100, "naive": 2000}]}
        derived = results.demo_rows(summary)
        self.assertAlmostEqual(row(derived, prefix + "large_format (direct)")[1], 1000 / 200)
        self.assertAlmostEqual(row(derived, prefix + "large_format (read by a collector)")[1], 2000 / 200)
        self.assertAlmostEqual(row(rows, prefix + "whole fleet")[1], 1_834_000 / 350_000)
        # Kinds the summary does not have.
        self.assertIsNone(row(rows, prefix + "inkjet_mfp (every device)")[1])
        self.assertIsNone(row(rows, prefix + "office_colour (read by a collector)")[1])

    def test_missing_or_malformed_summary(self):
        self.assertIsNone(results.read_demo(HERE / "nowhere.json"))
        for summary in [None, {}, {"kinds": "x"}, {"kinds": [{"kind": "office_mono", "ours_up": "a"}]}]:
            self.assertTrue(all(r[1] is None for r in results.demo_rows(summary)), summary)


class Readme(unittest.TestCase):
    def test_rewrites_between_the_markers_only(self):
        text = f"# Title\n\nbefore\n{results.BEGIN}\nold table\n{results.END}\nafter\n"
        body = results.table(CRITERION, results.read_demo(DEMO))
        updated = results.replace_between_markers(text, body)
        self.assertTrue(updated.startswith(f"# Title\n\nbefore\n{results.BEGIN}\n| measure"))
        self.assertTrue(updated.endswith(f"{results.END}\nafter\n"))
        self.assertNotIn("old table", updated)
        self.assertIn("| 2.50x | >= 10x (#18) | not met |", updated)
        # Idempotent.
        self.assertEqual(results.replace_between_markers(updated, body), updated)

    def test_refuses_a_readme_without_markers(self):
        with self.assertRaises(ValueError):
            results.replace_between_markers("no markers\n", "x")
        with self.assertRaises(ValueError):
            results.replace_between_markers(f"{results.END}\n{results.BEGIN}\n", "x")

    def test_main_updates_a_file(self):
        with tempfile.TemporaryDirectory() as d:
            readme = pathlib.Path(d) / "README.md"
            readme.write_text(f"a\n{results.BEGIN}\n{results.END}\nb\n")
            code = results.main(["--criterion", str(CRITERION), "--demo", str(DEMO), "--readme", str(readme),
                                 "--update-readme"])
            self.assertEqual(code, 0)
            self.assertIn("5.00x", readme.read_text())
            readme.write_text("no markers\n")
            self.assertEqual(results.main(["--criterion", str(CRITERION), "--readme", str(readme), "--update-readme"]), 1)


if __name__ == "__main__":
    unittest.main()
