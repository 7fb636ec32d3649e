"""The matrix model (rows, cells, error columns, counts), matrix.json and --compare."""

import json
import tempfile
import unittest
from pathlib import Path

from tests.matrix_inputs import case, column, small_columns
from vsc import matrix_compare, matrix_json, matrix_model
from vsc.errors import UserError
from vsc.matrix_model import Column


class ModelTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_rows_follow_the_catalogue_and_take_every_columns_cases(self):
        a = column(self.dir, "debian:bookworm", "loopback", "6.1.0-56-cloud-amd64", "6.1.192-2",
                   [case("b", "pass"), case("c", "pass")])
        b = column(self.dir, "debian:bookworm", "nested", "6.1.0-56-cloud-amd64", "6.1.192-2",
                   [case("l2/a", "pass"), case("l1/a", "pass"), case("l1/nested_only", "skip", "why")])
        m = matrix_model.build([a, b], ["a", "b", "c"])
        self.assertEqual(m.cases, ["l1/a", "l2/a", "b", "c", "l1/nested_only"])
        self.assertIsNone(m.cell("b", 1))
        self.assertEqual(m.cell("l1/nested_only", 1).reason, "why")

    def test_column_label_names_suite_upstream_release_and_topology(self):
        col = Column("debian:bookworm", "loopback", "6.1.0-56-cloud-amd64", "6.1.192-2")
        self.assertEqual(col.label, "bookworm 6.1.192 loopback")
        local = Column("/srv/kernels/guest", "g2h", "6.12.117", "6.12.117")
        self.assertEqual(local.label, "guest 6.12.117 g2h")

    def test_fail_reason_is_the_first_diagnostic_and_subtests_join_the_excerpt(self):
        sub = case("inner", "fail", "", ["inner said no"])
        outer = case("outer", "fail", "", ["outer said no"])
        outer["subtests"] = [sub]
        _, cells = column(self.dir, "debian:sid", "loopback", "7.2", "7.2", [outer])
        self.assertEqual(cells["outer"].reason, "outer said no")
        self.assertEqual(cells["outer"].excerpt, ["outer said no", "subtest inner: fail", "  inner said no"])

    def test_error_column_has_an_error_cell_with_the_reason_in_every_row(self):
        good = column(self.dir, "debian:sid", "loopback", "7.2", "7.2", [case("a", "pass"), case("b", "skip", "n/a")])
        bad = Column("debian:bullseye", "g2h", error="run exited with status 2: guest never booted")
        m = matrix_model.build([good, (bad, {})], ["a", "b"])
        self.assertEqual([m.cell(c, 1).status for c in m.cases], ["error", "error"])
        self.assertEqual(m.cell("a", 1).reason, "run exited with status 2: guest never booted")
        self.assertEqual(matrix_model.format_counts(m), "1 passed, 2 failed, 1 skipped")

    def test_a_broken_results_json_is_named(self):
        path = self.dir / "results.json"
        path.write_text('{"schema": "other"}')
        with self.assertRaisesRegex(UserError, "results.json: not a readable results.json.*'other'"):
            matrix_model.column_from_results(Column("k", "loopback"), path)


class JsonAndCompareTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def matrix(self, statuses: dict, release="6.1.0-56-cloud-amd64", version="6.1.192-2", kernels=("debian:bookworm",)):
        columns = [column(self.dir / str(i), k, "loopback", release, version,
                          [case(name, status, "why" if status != "pass" else "") for name, status in statuses.items()])
                   for i, k in enumerate(kernels)]
        return matrix_model.build(columns, list(statuses))

    def test_json_round_trip_keeps_columns_cells_and_counts(self):
        m = matrix_model.build(small_columns(self.dir), ["addr_bind", "credit_update", "seqpacket_bounds"])
        path = self.dir / "matrix.json"
        path.write_text(matrix_json.render(m))
        data = json.loads(path.read_text())
        self.assertEqual((data["schema"], data["schema_version"]), ("vsockcheck-matrix", 1))
        self.assertEqual(data["counts"], {"passed": 4, "failed": 1, "skipped": 1})
        self.assertEqual(data["columns"][1]["label"], "sid 7.2.13 loopback")
        back = matrix_json.load(path)
        self.assertEqual(back.cases, m.cases)
        self.assertEqual(back.cells, m.cells)

    def test_compare_marks_changed_cells_regressions_cases_columns_and_releases(self):
        old = self.matrix({"a": "pass", "b": "fail", "c": "skip", "gone": "pass"}, "6.1.0-55-cloud-amd64", "6.1.190-1",
                          kernels=("debian:bookworm", "debian:bullseye"))
        new = self.matrix({"a": "fail", "b": "pass", "c": "skip", "fresh": "pass"},
                          kernels=("debian:bookworm", "debian:sid"))
        summary = matrix_compare.compare(new, old, "old.json")
        self.assertEqual(new.cell("a", 0).was, "pass")
        self.assertEqual(new.cell("b", 0).was, "fail")
        self.assertIsNone(new.cell("c", 0).was)
        self.assertEqual(summary["summary"], "changed since old.json: 2 cells (1 regressions)")
        self.assertEqual(summary["new_cases"], ["fresh"])
        self.assertEqual(summary["removed_cases"], ["gone"])
        self.assertEqual(summary["new_columns"], ["sid 6.1.192 loopback"])
        self.assertEqual(summary["removed_columns"], ["bullseye 6.1.190 loopback"])
        self.assertEqual(summary["release_changes"], ["debian:bookworm loopback: 6.1.190 -> 6.1.192"])
        self.assertEqual(new.columns[0].was_release, "6.1.190")
        data = matrix_json.to_json(new)
        self.assertEqual(data["rows"][0]["cells"][0]["was"], "pass")
        self.assertNotIn("was", data["rows"][2]["cells"][0])
        self.assertEqual(data["compare"]["regressions"], 1)

    def test_compare_rejects_a_file_that_is_not_a_matrix(self):
        path = self.dir / "results.json"
        path.write_text('{"schema": "vsockcheck-results", "schema_version": 1}')
        with self.assertRaisesRegex(UserError, r"--compare .*results.json: not a readable matrix.json"):
            matrix_json.load(path)


if __name__ == "__main__":
    unittest.main()
