"""matrix.html as a browser shows it: headless Chromium takes a screenshot of a known matrix (pass,
fail, skip, xfail and a changed cell) and the test reads its pixels where the fixed layout puts each
cell; Chromium's --dump-dom shows that the failure's link target holds its excerpt. The page and
its screenshot stay in build/matrix-screenshot/ for a human to look at."""

import shutil
import struct
import subprocess
import tempfile
import unittest
import zlib
from pathlib import Path

from tests.matrix_inputs import case, column
from tests.png_decode import SIGNATURE as PNG_SIGNATURE, paeth, decode
from tests.test_matrix_render import Page
from vsc import matrix_compare, matrix_html, matrix_model
from vsc.paths import BUILD_DIR

OUT_DIR = BUILD_DIR / "matrix-screenshot"
WINDOW = (720, 400)
CHROMIUM = shutil.which("chromium")
# (case, status in column 0, status in column 1); the last row's column 1 passed in the old matrix.
ROWS = [("stream_pass", "pass", "pass"), ("stream_fail", "fail", "pass"), ("seqpacket_skip", "skip", "skip"),
        ("credit_xfail", "xfail", "pass"), ("now_fails", "pass", "fail")]
CHANGED = (4, 1)
KERNELS = (("debian:bullseye", "5.10.0-46-cloud-amd64", "5.10.262-1"), ("debian:sid", "7.2.13+deb14-cloud-amd64", "7.2.13-1"))
EXCERPT = "[server] testcases/stream.c:40: recv() gave 3 bytes <expected 4> & stopped"


def chromium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    # As root Chromium needs --no-sandbox; its stderr carries harmless D-Bus noise.
    with tempfile.TemporaryDirectory(prefix="vsc-chromium-") as profile:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)


def known_matrix(tmp: Path) -> matrix_model.Matrix:
    def columns(changed_status: str):
        built = []
        for i, (kernel, release, version) in enumerate(KERNELS):
            cases = []
            for row, (name, *statuses) in enumerate(ROWS):
                status = changed_status if (row, i) == CHANGED else statuses[i]
                reason = "" if status == "pass" else f"why {name}"
                cases.append(case(name, status, reason, [EXCERPT, "kernel: WARNING: CPU: 0 PID: 1"]))
            built.append(column(tmp / changed_status, kernel, "loopback", release, version, cases))
        return built
    names = [name for name, *_ in ROWS]
    matrix = matrix_model.build(columns("fail"), names)
    matrix_compare.compare(matrix, matrix_model.build(columns("pass"), names), "old.json")
    return matrix


@unittest.skipUnless(CHROMIUM, "chromium is not installed (make deps installs it): the HTML is not checked in a browser")
class ScreenshotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            cls.matrix = known_matrix(Path(tmp))
        cls.page = OUT_DIR / "matrix.html"
        cls.page.write_text(matrix_html.render(cls.matrix), encoding="utf-8")
        cls.png = OUT_DIR / "matrix.png"
        cls.png.unlink(missing_ok=True)
        done = chromium(f"--screenshot={cls.png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", cls.page.as_uri())
        if done.returncode != 0 or not cls.png.exists():
            raise AssertionError(f"chromium --screenshot failed (status {done.returncode}): {done.stderr[-500:]}")
        cls.image = decode(cls.png.read_bytes())

    def test_screenshot_has_the_window_size_and_is_not_blank(self):
        self.assertEqual((self.image.width, self.image.height), WINDOW)
        histogram = self.image.histogram()
        white = histogram[(255, 255, 255)]
        self.assertLess(white, 0.8 * WINDOW[0] * WINDOW[1])
        self.assertGreater(len(histogram), 20)  # text, header, cells: not one flat colour

    def test_each_status_colour_covers_its_cells(self):
        histogram = self.image.histogram()
        cells = [status for _, *statuses in ROWS for status in statuses]
        for status in ("pass", "fail", "skip", "xfail"):
            area = cells.count(status) * matrix_html.CELL_W * matrix_html.ROW_H
            self.assertGreater(histogram[matrix_html.COLOURS[status]], 0.6 * area, status)

    def test_each_cell_has_its_colour_where_the_layout_puts_it(self):
        for row, (name, *statuses) in enumerate(ROWS):
            for col, status in enumerate(statuses):
                left, top, right, bottom = matrix_html.cell_box(row, col)
                # The right end of the cell: past its text, inside its border and outline.
                pixel = self.image.pixel(right - 12, (top + bottom) // 2)
                self.assertColour(pixel, matrix_html.COLOURS[status], f"{name} column {col}")

    def test_the_changed_cell_has_a_border_the_others_do_not(self):
        for row, (name, *statuses) in enumerate(ROWS):
            for col, status in enumerate(statuses):
                left, top, right, bottom = matrix_html.cell_box(row, col)
                # Inside the cell's 1-pixel white border: the outline of a changed cell, else its colour.
                pixel = self.image.pixel(left + 2, (top + bottom) // 2)
                expected = matrix_html.CHANGED_BORDER if (row, col) == CHANGED else matrix_html.COLOURS[status]
                self.assertColour(pixel, expected, f"left edge of {name} column {col}")

    def test_the_failure_links_to_an_anchor_holding_its_excerpt(self):
        done = chromium("--dump-dom", self.page.as_uri())
        self.assertEqual(done.returncode, 0, done.stderr[-500:])
        page = Page(done.stdout)
        target = matrix_html.anchor(1, 0)  # stream_fail in column 0
        self.assertIn("#" + target, page.links)
        self.assertIn(target, page.ids)
        self.assertIn(EXCERPT, page.text_by_id[target])
        self.assertIn("kernel: WARNING: CPU: 0 PID: 1", page.text_by_id[target])
        self.assertIn("#" + matrix_html.anchor(*CHANGED), page.links)

    def assertColour(self, pixel, expected, what):
        self.assertTrue(all(abs(a - b) <= 2 for a, b in zip(pixel, expected)),
                        f"{what}: pixel {pixel}, expected {expected} (see {self.png})")


class PngDecoderTest(unittest.TestCase):
    """The decoder on a PNG written here with each of the five row filters (Chromium used three)."""

    def encode(self, rows: list[bytes], bpp: int, colour_type: int) -> bytes:
        raw, previous = b"", bytes(len(rows[0]))
        for kind, row in enumerate(rows):
            kind %= 5
            filtered = bytearray()
            for i, value in enumerate(row):
                left = row[i - bpp] if i >= bpp else 0
                up, upper_left = previous[i], previous[i - bpp] if i >= bpp else 0
                predictor = (0, left, up, (left + up) >> 1, paeth(left, up, upper_left))[kind]
                filtered.append((value - predictor) & 0xFF)
            raw += bytes([kind]) + bytes(filtered)
            previous = row

        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        header = struct.pack(">IIBBBBB", len(rows[0]) // bpp, len(rows), 8, colour_type, 0, 0, 0)
        return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

    def test_every_filter_type_in_rgb_and_rgba(self):
        for bpp, colour_type in ((3, 2), (4, 6)):
            rows = [bytes((x * 37 + y * 91 + c * 13) % 256 for x in range(4) for c in range(bpp)) for y in range(6)]
            image = decode(self.encode(rows, bpp, colour_type))
            self.assertEqual((image.width, image.height), (4, 6))
            self.assertEqual(image.rows, rows)
            self.assertEqual(image.pixel(1, 2), tuple(rows[2][bpp:bpp + 3]))

    def test_what_it_cannot_read_is_named(self):
        with self.assertRaisesRegex(ValueError, "not a PNG"):
            decode(b"GIF89a")
        with self.assertRaisesRegex(ValueError, "colour type 3"):
            decode(self.encode([bytes(4)], 4, 3))


if __name__ == "__main__":
    unittest.main()
