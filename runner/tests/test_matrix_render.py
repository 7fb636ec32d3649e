"""The matrix renderers: exact text and Markdown for a small matrix, the HTML page's structure and
escaping, and how each marks a changed cell."""

import html.parser
import re
import tempfile
import unittest
from pathlib import Path

from tests.matrix_inputs import small_columns
from vsc import matrix_compare, matrix_html, matrix_markdown, matrix_model, matrix_text
from vsc.matrix_model import Column

ORDER = ["addr_bind", "credit_update", "seqpacket_bounds"]


class Page(html.parser.HTMLParser):
    """The tags, ids, links and text of a page, and any script or external reference."""

    def __init__(self, text: str):
        super().__init__()
        self.ids, self.links, self.tags, self.text_by_id, self._open_ids = set(), [], [], {}, []
        self.external = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        for key in ("src", "href"):
            if key in attrs and not attrs[key].startswith("#"):
                self.external.append(attrs[key])
        if "id" in attrs:
            self.ids.add(attrs["id"])
            self._open_ids.append([attrs["id"], tag, 0])
        elif self._open_ids and tag == self._open_ids[-1][1]:
            self._open_ids[-1][2] += 1
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if self._open_ids and tag == self._open_ids[-1][1]:
            if self._open_ids[-1][2] == 0:
                self._open_ids.pop()
            else:
                self._open_ids[-1][2] -= 1

    def handle_data(self, data):
        for anchor_id, _, _ in self._open_ids:
            self.text_by_id[anchor_id] = self.text_by_id.get(anchor_id, "") + data


class RenderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.matrix = matrix_model.build(small_columns(Path(self.tmp.name)), ORDER)

    def tearDown(self):
        self.tmp.cleanup()

    def changed(self):
        """The same matrix compared with one where credit_update passed on sid."""
        old = matrix_model.build(small_columns(Path(self.tmp.name) / "old"), ORDER)
        old.cells[("credit_update", 1)].status = "pass"
        matrix_compare.compare(self.matrix, old, "old.json")
        return self.matrix

    def test_text_is_an_aligned_table_with_numbered_reasons(self):
        self.assertEqual(matrix_text.render(self.matrix), """\
columns:
  1  bullseye 5.10.262 loopback
  2  sid 7.2.13 loopback
case              1          2
addr_bind         ok         ok
credit_update     xfail [1]  FAIL [2]
seqpacket_bounds  skip [3]   ok
notes:
  [1] known bug before 6.6.14
  [2] [server] credit.c:71: no POLLIN <script>alert(1)</script> & more
  [3] no SOCK_SEQPACKET (added in 5.14)
4 passed, 1 failed, 1 skipped
""")

    def test_text_marks_a_change_and_ends_with_the_summary_and_total(self):
        text = matrix_text.render(self.changed())
        self.assertIn("credit_update     xfail [1]  pass→FAIL [2]\n", text)
        self.assertTrue(text.endswith("changed since old.json: 1 cells (1 regressions)\n"
                                      "4 passed, 1 failed, 1 skipped\n"), text)

    def test_text_shows_an_error_column_and_no_control_characters(self):
        m = matrix_model.build([(Column("debian:sid", "g2h", error="guest never booted\x1b[2J"), {})], ["a"])
        text = matrix_text.render(m)
        self.assertIn("  1  sid g2h  ERROR: guest never booted\ufffd[2J\n", text)
        self.assertIn("a     ERROR [1]\n", text)
        self.assertNotIn("\x1b", text)

    def test_markdown_is_a_github_table_with_escaped_reasons(self):
        self.assertEqual(matrix_markdown.render(self.matrix), """\
| case | bullseye 5.10.262 loopback | sid 7.2.13 loopback |
|---|---|---|
| addr_bind | ok | ok |
| credit_update | xfail: known bug before 6.6.14 | **FAIL**: \\[server\\] credit.c:71: no POLLIN \
&lt;script&gt;alert(1)&lt;/script&gt; &amp; more |
| seqpacket_bounds | skip: no SOCK_SEQPACKET (added in 5.14) | ok |

4 passed, 1 failed, 1 skipped
""")

    def test_markdown_marks_a_change_and_a_pipe_cannot_split_a_cell(self):
        self.matrix.cells[("addr_bind", 0)].reason = "a | b"
        text = matrix_markdown.render(self.changed())
        self.assertIn("| **pass→FAIL**: \\[server\\]", text)
        self.assertIn("ok: a \\| b", text)
        self.assertIn("changed since old.json: 1 cells (1 regressions)  \n", text)

    def test_html_is_self_contained_and_links_each_failure_to_its_escaped_excerpt(self):
        text = matrix_html.render(self.matrix)
        page = Page(text)
        self.assertNotIn("script", page.tags)
        self.assertEqual(page.external, [])
        self.assertNotIn("<script>", text)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more", text)
        target = matrix_html.anchor(ORDER.index("credit_update"), 1)
        self.assertEqual(page.links, ["#" + target])
        excerpt = page.text_by_id[target]
        self.assertIn("<script>alert(1)</script> & more", excerpt)  # as text, after unescaping
        self.assertIn("kernel: WARNING: at net/vmw_vsock/af_vsock.c:42", excerpt)
        self.assertIn('class="cell fail"', text)
        self.assertIn("position: sticky", text)

    def test_html_marks_a_changed_cell_with_its_own_class_and_tooltip(self):
        text = matrix_html.render(self.changed())
        self.assertRegex(text, r'<td class="cell fail changed" title="was pass, now fail: \[server\] '
                               r'credit.c:71: no POLLIN &lt;script&gt;')
        self.assertIn("changed since old.json: 1 cells (1 regressions)", text)

    def test_html_error_column_links_to_one_excerpt_with_the_reason(self):
        m = matrix_model.build([(Column("debian:sid", "g2h", error="run exited with status 2: <no guest>"), {})],
                               ["a", "b"])
        page = Page(matrix_html.render(m))
        self.assertEqual(set(page.links), {"#" + matrix_html.column_anchor(0)})
        self.assertIn("run exited with status 2: <no guest>", page.text_by_id[matrix_html.column_anchor(0)])

    def test_cells_have_fixed_sizes_for_the_layout_cell_box_describes(self):
        text = matrix_html.render(self.matrix)
        self.assertIn(f"height: {matrix_html.ROW_H}px", text)
        self.assertIn(f"width: {matrix_html.CELL_W}px", text)
        self.assertEqual(re.findall(r"#top \{ height: (\d+)px", text), [str(matrix_html.TOP_H)])
        self.assertEqual(matrix_html.cell_box(0, 0), (matrix_html.CASE_W, matrix_html.TOP_H + matrix_html.HEAD_H,
                                                      matrix_html.CASE_W + matrix_html.CELL_W,
                                                      matrix_html.TOP_H + matrix_html.HEAD_H + matrix_html.ROW_H))


if __name__ == "__main__":
    unittest.main()
