"""Our vhost-user vsock device with a real QEMU and guest.

The device's first layers: QEMU's whole start-up and stop sequence is served, the guest sees the
CID from the device's config space, and the rings carry packets: with no host endpoint yet,
every connection request is refused with RST."""

import re
import tempfile
import unittest
from pathlib import Path

from vsc import catalogue, guest_session, kernels, topology_loopback
from vsc.cli import DEFAULT_KERNEL, TEST_PROGRAM
from vsc.errors import UserError
from vsc.vhost_user_device import program

GUEST_CID = 4242


def default_kernel():
    try:
        return kernels.resolve(DEFAULT_KERNEL, fetch=False)
    except UserError:
        return None


@unittest.skipUnless(program().exists() and TEST_PROGRAM.exists(), "not built: run make")
@unittest.skipUnless(default_kernel(), f"{DEFAULT_KERNEL} is not cached")
class DeviceInGuest(unittest.TestCase):
    def run_cases(self, picks, peer_cid):
        """Runs cases in a guest with our device attached; (statuses by name, backend log)."""
        spec = guest_session.GuestSpec(
            kernel=default_kernel(), modules=topology_loopback.MODULES, test_program=TEST_PROGRAM,
            test_args=["--peer-cid", str(peer_cid), "--local-cid", str(GUEST_CID), "--device-cid",
                       str(GUEST_CID)] + catalogue.selection_args(picks, []),
            cases=catalogue.read(TEST_PROGRAM, picks), accel="tcg", device_cid=GUEST_CID)
        with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as out:
            run = guest_session.run(spec, Path(work), Path(out))
            log = (Path(out) / "vhost-user-vsock.log").read_text()
        self.report = run.report
        return {r.name: r.status for r in run.report.results}, log

    def test_guest_driver_reads_the_cid_from_our_config_space(self):
        statuses, log = self.run_cases(["dev_vsock_local_cid", "bind_local_cid"], peer_cid=1)
        # The ioctl reports the device's CID, and binding to it works: the driver took our config.
        self.assertEqual(statuses, {"dev_vsock_local_cid": "pass", "bind_local_cid": "pass"},
                         [r.diagnostics for r in self.report.results])
        self.assertNotIn("dropping the connection", log)
        requests = re.findall(r"vhost-user-vsock: (\w+) ", log)
        for needed in ("GET_PROTOCOL_FEATURES", "GET_CONFIG", "SET_MEM_TABLE", "SET_VRING_ADDR",
                       "SET_VRING_KICK", "GET_VRING_BASE"):
            self.assertIn(needed, requests)
        # QEMU stops both rings at power-off.
        self.assertEqual(requests.count("GET_VRING_BASE"), 2)

    def test_a_request_to_the_host_is_refused_with_rst(self):
        # Nothing listens on the host side yet: the device answers every REQUEST with RST, which
        # the guest's transport turns into ECONNRESET, blocking and non-blocking alike.
        statuses, log = self.run_cases(["connect_no_listener", "connect_nonblocking_refused"],
                                       peer_cid=2)
        self.assertEqual(statuses, {"connect_no_listener": "pass", "connect_nonblocking_refused": "pass"},
                         [r.diagnostics for r in self.report.results])
        self.assertNotIn("dropping the connection", log)
        self.assertNotIn("dropped op", log)
