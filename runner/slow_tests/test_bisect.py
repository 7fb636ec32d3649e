"""make check-slow: `vsockcheck bisect` finds a planted vsock regression in a small kernel history.

A throwaway git repository holds Debian trixie's linux-source as its base commit, then 10 commits:
harmless ones (comments in net/vmw_vsock/*.c, so that each build really recompiles and relinks,
and a documentation line, which rebuilds nothing) and, at a seeded random position,
revert-cap-tx-credit.patch, which undoes the fix that credit_tx_bounded_by_own_buffer guards.
Bisect over that history must name exactly the planted commit, leave the repository on its branch
with a clean status, and build incrementally (bisect_history.py has the test itself).
"""

import unittest
from pathlib import Path

from slow_tests.bisect_history import PlantedRevert


class BisectFindsPlantedRevert(PlantedRevert, unittest.TestCase):
    CASE = "credit_tx_bounded_by_own_buffer"
    PATCH = Path(__file__).with_name("revert-cap-tx-credit.patch")
    PLANTED_SUBJECT = 'Revert the effect of "vsock/virtio: cap TX credit to local buffer size"'
    TOPOLOGY = "loopback"
    # (file, line appended): C comments rebuild vsock, the .rst line rebuilds nothing.
    HARMLESS = (
        ("net/vmw_vsock/af_vsock.c", "/* bisect test, harmless commit {n} */\n"),
        ("net/vmw_vsock/virtio_transport_common.c", "/* bisect test, harmless commit {n} */\n"),
        ("Documentation/networking/index.rst", "\n.. bisect test, harmless commit {n}\n"),
        ("net/vmw_vsock/vsock_loopback.c", "/* bisect test, harmless commit {n} */\n"),
    )
    LOG_TEXT = "more than our own 65536-byte buffer"


if __name__ == "__main__":
    unittest.main()
