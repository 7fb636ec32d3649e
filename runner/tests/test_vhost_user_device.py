"""Our vhost-user vsock device with a real QEMU and guest: the driver binds and reads its CID.

A first step of the device (packets are not carried yet): QEMU's whole start-up and stop
sequence must be served, and the guest must see the CID from the device's config space."""

import re
import tempfile
import unittest
from pathlib import Path

from vsc import catalogue, guest_session, kernels, topology_loopback
from vsc.cli import DEFAULT_KERNEL, TEST_PROGRAM
from vsc.errors import UserError
from vsc.vhost_user_device import PROGRAM

GUEST_CID = 4242


def default_kernel():
    try:
        return kernels.resolve(DEFAULT_KERNEL, fetch=False)
    except UserError:
        return None


@unittest.skipUnless(PROGRAM.exists() and TEST_PROGRAM.exists(), "not built: run make")
@unittest.skipUnless(default_kernel(), f"{DEFAULT_KERNEL} is not cached")
class DeviceInGuest(unittest.TestCase):
    def test_guest_driver_reads_the_cid_from_our_config_space(self):
        picks = ["dev_vsock_local_cid", "bind_local_cid"]
        spec = guest_session.GuestSpec(
            kernel=default_kernel(), modules=topology_loopback.MODULES, test_program=TEST_PROGRAM,
            test_args=["--peer-cid", "1", "--local-cid", str(GUEST_CID), "--device-cid", str(GUEST_CID)]
            + catalogue.selection_args(picks, []),
            cases=catalogue.read(TEST_PROGRAM, picks), accel="tcg", device_cid=GUEST_CID)
        with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as out:
            run = guest_session.run(spec, Path(work), Path(out))
            log = (Path(out) / "vhost-user-vsock.log").read_text()
        statuses = {r.name: r.status for r in run.report.results}
        # The ioctl reports the device's CID, and binding to it works: the driver took our config.
        self.assertEqual(statuses, {"dev_vsock_local_cid": "pass", "bind_local_cid": "pass"},
                         [r.diagnostics for r in run.report.results])
        self.assertNotIn("dropping the connection", log)
        requests = re.findall(r"vhost-user-vsock: (\w+) ", log)
        for needed in ("GET_PROTOCOL_FEATURES", "GET_CONFIG", "SET_MEM_TABLE", "SET_VRING_ADDR",
                       "SET_VRING_KICK", "GET_VRING_BASE"):
            self.assertIn(needed, requests)
        # QEMU stops both rings at power-off.
        self.assertEqual(requests.count("GET_VRING_BASE"), 2)
