#!/usr/bin/python3
"""make check-slow: the tests that build kernels from source (minutes each on a cold ccache):
unittest discovery over runner/slow_tests/, then one line counting them. Exits 1 if any failed.
An argument narrows the modules: `runner/check_slow.py test_bisect.py` (a glob)."""

import signal
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vsc.paths import PROJECT_ROOT  # noqa: E402


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # SIGTERM stops like Ctrl-C: builds stop make, runs stop QEMU, with-blocks clean up.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    runner = PROJECT_ROOT / "runner"
    pattern = sys.argv[1] if sys.argv[1:] else "test*.py"
    suite = unittest.defaultTestLoader.discover(str(runner / "slow_tests"), pattern=pattern,
                                                top_level_dir=str(runner))
    try:
        outcome = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    except KeyboardInterrupt:
        print("make check-slow: interrupted", file=sys.stderr)
        return 130
    failed = len(outcome.failures) + len(outcome.errors) + len(outcome.unexpectedSuccesses)
    skipped = len(outcome.skipped)
    print(f"{outcome.testsRun - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
