"""The version probes' behaviours under the matrix: grouped by text, columns numbered, 'differs'
where the kernels disagree, in text, Markdown and HTML; nothing for a matrix without probes."""

import unittest

from vsc import matrix_behaviours, matrix_html, matrix_markdown, matrix_text
from vsc.ktap_syntax import FAIL, PASS
from vsc.matrix_model import Cell, Column, Matrix

BELIEVED = "data_size beyond the packet is believed: read 64 bytes (not validated)"
REFUSED = "data_size beyond the packet is refused: EIO (validated)"


def probe_matrix() -> Matrix:
    columns = [Column(f"debian:{suite}", "hvsock") for suite in ("bullseye", "bookworm", "trixie")]
    said = {0: BELIEVED, 1: REFUSED, 2: REFUSED}
    cells = {("hvsock_probe_untrusted_len", i): Cell(PASS, "", [f"[test] behaviour: {text}"]) for i, text in said.items()}
    cells.update({("hvsock_probe_fin_read", i): Cell(PASS, "", ["[client] behaviour: the read at FIN returns 0 (EOF)"])
                  for i in range(3)})
    cells[("hvsock_connect", 0)] = Cell(FAIL, "[test] x.c:1: boom", ["[test] x.c:1: boom"])
    return Matrix(columns, ["hvsock_connect", "hvsock_probe_untrusted_len", "hvsock_probe_fin_read"], cells)


class BehavioursTest(unittest.TestCase):
    def test_lines(self):
        self.assertEqual(matrix_behaviours.lines(probe_matrix()), [
            "behaviours:",
            "  hvsock_probe_untrusted_len (differs)",
            f"    1: {BELIEVED}",
            f"    2 3: {REFUSED}",
            "  hvsock_probe_fin_read",
            "    1 2 3: the read at FIN returns 0 (EOF)",
        ])

    def test_no_probe_no_section(self):
        matrix = probe_matrix()
        matrix.cells = {key: cell for key, cell in matrix.cells.items() if key[0] == "hvsock_connect"}
        self.assertEqual(matrix_behaviours.lines(matrix), [])
        self.assertNotIn("behaviours:", matrix_text.render(matrix))

    def test_every_renderer_shows_them(self):
        matrix = probe_matrix()
        text = matrix_text.render(matrix)
        self.assertIn(f"    1: {BELIEVED}\n", text)
        self.assertTrue(text.rstrip("\n").splitlines()[-1].startswith("6 passed, 1 failed"), text)
        self.assertIn("hvsock_probe_untrusted_len (differs)  \n", matrix_markdown.render(matrix))
        self.assertIn(f"<p>    1: {BELIEVED}</p>", matrix_html.render(matrix))


if __name__ == "__main__":
    unittest.main()
