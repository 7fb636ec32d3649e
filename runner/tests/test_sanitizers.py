"""Tests for finding sanitizer reports in a backend log."""

import unittest

from vsc.sanitizers import MAX_FINDINGS, sanitizer_findings

CLEAN_LOG = """\
vhost-user-vsock: GET_FEATURES (0 bytes, 0 fds)
vhost-user-vsock: SET_VRING_ADDR (40 bytes, 0 fds)
vhost-user-vsock: dropping the connection: guest broke the ring: runtime is fine (3)
"""

ASAN_LOG = """\
vhost-user-vsock: SET_MEM_TABLE (72 bytes, 2 fds)
=================================================================
==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011 at pc 0x55d
READ of size 2 at 0x602000000011 thread T0
    #0 0x55d in vu_queue_pop tools/vhost-user-vsock/vu_queue.c:57
SUMMARY: AddressSanitizer: heap-buffer-overflow tools/vhost-user-vsock/vu_queue.c:57 in vu_queue_pop
"""

UBSAN_LOG = """\
tools/vhost-user-vsock/vu_vsock.c:61:14: runtime error: shift exponent 64 is too large for 64-bit type 'long unsigned int'
    #0 0x4011 in handle_tx tools/vhost-user-vsock/vu_vsock.c:61
"""

LSAN_LOG = "==77==ERROR: LeakSanitizer: detected memory leaks\n\nDirect leak of 24 byte(s)\n"


class SanitizerFindings(unittest.TestCase):
    def test_a_clean_log_has_none(self):
        self.assertEqual(sanitizer_findings(CLEAN_LOG), [])
        self.assertEqual(sanitizer_findings(""), [])

    def test_asan_report_is_found_once_by_its_first_line(self):
        self.assertEqual(sanitizer_findings(ASAN_LOG), [
            "==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011 "
            "at pc 0x55d"])

    def test_ubsan_and_leak_reports_are_found(self):
        self.assertEqual(len(sanitizer_findings(UBSAN_LOG)), 1)
        self.assertIn("shift exponent 64", sanitizer_findings(UBSAN_LOG)[0])
        self.assertEqual(sanitizer_findings(LSAN_LOG), ["==77==ERROR: LeakSanitizer: detected memory leaks"])

    def test_findings_are_bounded(self):
        many = "x.c:1:1: runtime error: signed integer overflow\n" * (MAX_FINDINGS + 5)
        self.assertEqual(len(sanitizer_findings(many)), MAX_FINDINGS)


if __name__ == "__main__":
    unittest.main()
