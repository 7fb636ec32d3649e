"""A sanitizer report in the backend's log fails the run that used it, naming the log."""

import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from vsc.errors import UserError
from vsc.vhost_user_device import PROGRAM_ENV, VhostUserDevice, VmPort

# Stands in for the ASan backend: "listens" (creates the socket path), reports, waits for SIGTERM.
FAKE_BACKEND = """#!/bin/sh
while [ $# -gt 0 ]; do
    case "$1" in --vm) socket=${2#*socket=}; socket=${socket%%,*}; shift ;; esac
    shift
done
echo "==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011"
: > "$socket"
exec sleep 30
"""


class SanitizerReportFailsTheRun(unittest.TestCase):
    def test_a_report_is_an_error_naming_the_log(self):
        with tempfile.TemporaryDirectory(prefix="vsc-asan-") as tmp:
            fake = Path(tmp) / "fake-backend"
            fake.write_text(FAKE_BACKEND)
            fake.chmod(0o755)
            log = Path(tmp) / "backend.log"
            with mock.patch.dict(os.environ, {PROGRAM_ENV: str(fake)}):
                with self.assertRaises(UserError) as raised:
                    with VhostUserDevice([VmPort(3, Path(tmp) / "vu.sock")], log):
                        pass
            self.assertIn(str(log), str(raised.exception))
            self.assertIn("heap-buffer-overflow", str(raised.exception))

    def test_an_error_already_leaving_is_not_replaced(self):
        with tempfile.TemporaryDirectory(prefix="vsc-asan-") as tmp:
            fake = Path(tmp) / "fake-backend"
            fake.write_text(FAKE_BACKEND)
            fake.chmod(0o755)
            with mock.patch.dict(os.environ, {PROGRAM_ENV: str(fake)}):
                with self.assertRaises(KeyError):
                    with VhostUserDevice([VmPort(3, Path(tmp) / "vu.sock")], Path(tmp) / "log"):
                        raise KeyError("the guest failed first")
