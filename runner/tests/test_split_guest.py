"""Split mode with real vsock: both sides of the suite in one bookworm guest, over loopback.

vsc-split-pair runs vsockcheck-tests as the server side (--solo) and the client side over a
socketpair; a plain loopback run of the same cases is the reference. The split path must give
the same verdicts (a skip then names the side that could not run its role)."""

import shutil
import tempfile
import unittest
from pathlib import Path

from vsc import catalogue, guest_session, kernels, topology_loopback
from vsc.cli import DEFAULT_KERNEL
from vsc.topology import GUEST_TOOLS, TEST_PROGRAM
from vsc.errors import UserError
from vsc.ktap import Parser
from vsc.paths import GUEST_BIN_DIR

SPLIT_PAIR = GUEST_BIN_DIR / "vsc-split-pair"
CLIENT_PREFIX = "# client-side: "
# Two-role cases across the areas (names, data, shutdown, close, MSG_PEEK, seqpacket bounds,
# credit, SO_RCVLOWAT, splice, a case skipped for the kernel version) and one-process cases.
PICKED = ("connect_accept_names", "shutdown_wr", "close_by_server", "stream_msg_peek",
          "seqpacket_msg_bounds", "stream_16mib_checksum", "credit_update_on_low_rx_bytes",
          "sockopt_rcvlowat_poll", "splice_vsock_to_pipe", "zerocopy_not_coalesced",
          "connect_no_listener", "bind_port_any")


def kernel_or_none():
    try:
        return kernels.resolve(DEFAULT_KERNEL, fetch=False)
    except UserError:
        return None


def parse(lines):
    parser = Parser()
    for line in lines:
        parser.feed(line)
    return parser.finish()


@unittest.skipUnless(TEST_PROGRAM.exists() and SPLIT_PAIR.exists(), "the programs are not built: run make")
@unittest.skipUnless(kernel_or_none(), f"{DEFAULT_KERNEL} is not cached: run 'vsockcheck kernels fetch'")
class SplitInOneGuest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.top = Path(tempfile.mkdtemp(prefix="vsc-split-guest-"))
        kernel = kernel_or_none()
        cases = catalogue.read(TEST_PROGRAM, [",".join(PICKED)])
        args = topology_loopback.test_args() + catalogue.selection_args([",".join(PICKED)], [])
        cls.runs = {}
        for label, program, test_args, tools in (
                ("loopback", TEST_PROGRAM, args, GUEST_TOOLS),
                ("split", SPLIT_PAIR, [f"/usr/bin/{TEST_PROGRAM.name}", *args], (TEST_PROGRAM, *GUEST_TOOLS))):
            spec = guest_session.GuestSpec(kernel=kernel, modules=topology_loopback.MODULES, test_program=program,
                                           test_args=test_args, cases=cases, guest_tools=tools, accel="tcg")
            results = cls.top / label
            results.mkdir()
            run = guest_session.run(spec, cls.top / f"work-{label}", results)
            cls.runs[label] = (run.report, (results / "guest.ktap").read_text(errors="replace").splitlines())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top, ignore_errors=True)

    def statuses(self, report):
        return {r.name: (r.status, r.reason) for r in report.results}

    def test_every_picked_case_ran_split(self):
        report, _ = self.runs["split"]
        self.assertEqual(sorted(r.name for r in report.results), sorted(PICKED))
        self.assertNotIn("error", [r.status for r in report.results], self.statuses(report))

    def test_split_verdicts_are_the_loopback_verdicts(self):
        loopback = self.statuses(self.runs["loopback"][0])
        split = self.statuses(self.runs["split"][0])
        for name in PICKED:
            with self.subTest(case=name):
                self.assertEqual(split[name][0], loopback[name][0])
                if split[name][0] == "skip" and loopback[name][1]:
                    # A skip found before the run names the side; the reason is the same.
                    self.assertTrue(split[name][1].endswith(loopback[name][1]), split[name][1])

    def test_both_sides_print_the_same_verdicts(self):
        report, raw = self.runs["split"]
        client = parse(line[len(CLIENT_PREFIX):] for line in raw if line.startswith(CLIENT_PREFIX))
        self.assertEqual(client.problems, [])
        self.assertEqual([(r.number, r.name, r.status, r.reason) for r in client.results],
                         [(r.number, r.name, r.status, r.reason) for r in report.results])
        self.assertIn("# vsc-split-pair: server side exit=", "\n".join(raw))


if __name__ == "__main__":
    unittest.main()
