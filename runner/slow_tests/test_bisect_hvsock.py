"""make check-slow: `vsockcheck bisect --topology hvsock` finds a planted hv_sock regression with a
version probe.

The history is test_bisect.py's (bisect_history.py) on the same trixie source, built with
minimal + vsock-guest + hvsock-guest + hyperv (AF_VSOCK without the virtio transport; hv_sock and
hv_vmbus as modules) and booted in the hvsock topology: vmbus_sim, built against each commit's tree, with the commit's
own hv_sock.ko on top. The planted commit, revert-hv-validation.patch, takes back the packet-length
check of "hv_sock: Add validation for untrusted Hyper-V values"; the probe
hvsock_probe_untrusted_len then sees the guest believe a data_size beyond its packet (what 5.10
does), which on a 6.12 kernel is a failure.
"""

import unittest
from pathlib import Path

from vsc.paths import BUILD_DIR
from slow_tests.bisect_history import PlantedRevert


class BisectFindsPlantedHvsockRevert(PlantedRevert, unittest.TestCase):
    CASE = "hvsock_probe_untrusted_len"
    PATCH = Path(__file__).with_name("revert-hv-validation.patch")
    PLANTED_SUBJECT = 'Revert the packet-length check of "hv_sock: Add validation for untrusted Hyper-V values"'
    TOPOLOGY = "hvsock"
    CONFIG = ("minimal", "vsock-guest", "hvsock-guest", "hyperv")
    # hv_sock is a module: a comment there relinks hv_sock.ko only; one in af_vsock.c relinks vmlinux.
    HARMLESS = (
        ("net/vmw_vsock/hyperv_transport.c", "/* bisect test, harmless commit {n} */\n"),
        ("net/vmw_vsock/af_vsock.c", "/* bisect test, harmless commit {n} */\n"),
        ("Documentation/networking/index.rst", "\n.. bisect test, harmless commit {n}\n"),
    )
    # Fewer steps than test_bisect.py's: every step boots a guest that builds nothing new but
    # loads two modules, and check-slow's time is CI's.
    COMMITS = 6
    LOG_TEXT = "data_size beyond the packet is believed"
    WORK = BUILD_DIR / "slow" / "bisect-hvsock"


if __name__ == "__main__":
    unittest.main()
