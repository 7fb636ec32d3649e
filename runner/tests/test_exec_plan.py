"""vsockcheck exec without guests: input checks, placements, the guest script, status lines."""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from vsc import exec_net, exec_placement, exec_plan
from vsc.errors import UserError
from vsc.exec_plan import CLIENT, SERVER, PeerEnv
from vsc.exec_run import Peer
from vsc.paths import GUEST_BIN_DIR, PROJECT_ROOT

VSOCKCHECK = PROJECT_ROOT / "runner" / "vsockcheck"
PINGPONG = GUEST_BIN_DIR / "vsock-pingpong"
COMMANDS = {SERVER: "vsock-pingpong server", CLIENT: "vsock-pingpong client"}


class Inputs(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-exec-"))
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", str(self.tmp)]))

    def error(self, commands, files):
        with self.assertRaises(UserError) as caught:
            exec_plan.check_inputs(commands, files)
        return str(caught.exception)

    def test_missing_file_is_named(self):
        missing = self.tmp / "nope"
        self.assertEqual(self.error(COMMANDS, [missing]), f"--files {missing}: no such file")

    def test_dynamic_program_must_be_static(self):
        message = self.error(COMMANDS, [Path("/bin/true")])
        self.assertIn("--files /bin/true: a dynamically linked program", message)
        self.assertIn("must be static", message)

    def test_directory_is_refused(self):
        self.assertIn("not a regular file", self.error(COMMANDS, [self.tmp]))

    def test_same_name_twice_is_refused(self):
        (self.tmp / "a").mkdir()
        (self.tmp / "a" / "x").write_text("one")
        (self.tmp / "x").write_text("two")
        self.assertIn("has the same name", self.error(COMMANDS, [self.tmp / "a" / "x", self.tmp / "x"]))

    def test_empty_command_is_named(self):
        self.assertEqual(self.error({SERVER: "  ", CLIENT: "x"}, []), "--server: the command is empty")
        self.assertEqual(self.error({SERVER: "x", CLIENT: ""}, []), "--client: the command is empty")

    def test_static_program_and_data_pass(self):
        data = self.tmp / "payload.txt"
        data.write_text("hello")
        files = [data] + ([PINGPONG] if PINGPONG.exists() else [])
        self.assertEqual(exec_plan.check_inputs(COMMANDS, files), tuple(files))


class CommandLine(unittest.TestCase):
    """Bad input ends with one line and exit 2, before any kernel is fetched or guest booted."""

    def exec_(self, *args):
        env = dict(os.environ, XDG_CACHE_HOME=tempfile.mkdtemp(prefix="vsc-exec-cache-"))
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", env["XDG_CACHE_HOME"]]))
        done = subprocess.run([sys.executable, str(VSOCKCHECK), "exec", *args], capture_output=True, text=True,
                              timeout=60, env=env)
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        lines = done.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        return lines[0]

    def test_missing_file(self):
        line = self.exec_("--topology", "loopback", "--server", "a", "--client", "b", "--files", "/no/such/file")
        self.assertEqual(line, "vsockcheck: error: --files /no/such/file: no such file")

    def test_dynamic_file(self):
        line = self.exec_("--topology", "g2g", "--server", "a", "--client", "b", "--files", "/bin/true")
        self.assertRegex(line, r"^vsockcheck: error: --files /bin/true: a dynamically linked program.*static")

    def test_empty_command(self):
        line = self.exec_("--topology", "g2h", "--server", "", "--client", "b")
        self.assertEqual(line, "vsockcheck: error: --server: the command is empty")

    def test_bad_timeout(self):
        line = self.exec_("--topology", "loopback", "--server", "a", "--client", "b", "--timeout", "0")
        self.assertEqual(line, "vsockcheck: error: --timeout 0: must be more than 0 seconds")


class Placements(unittest.TestCase):
    def test_every_topology_names_both_peers_and_their_cids(self):
        expected = {"loopback": ((1, 1, "127.0.0.1"), (1, 1, "127.0.0.1")),
                    "g2g": ((3, 4, "0.0.0.0"), (4, 3, "10.0.2.2")),
                    "g2h": ((3, 2, "0.0.0.0"), (2, 3, "127.0.0.1"))}
        for name, (server, client) in expected.items():
            placement = exec_placement.PLACEMENTS[name](4242)
            for role, (local, peer, host) in ((SERVER, server), (CLIENT, client)):
                self.assertEqual(placement.envs[role], PeerEnv(local, peer, host, 4242), (name, role))
                self.assertIn(role, placement.where)
            in_guests = [role for g in placement.guests for role in g.peers]
            on_host = [placement.host_peer] if placement.host_peer else []
            self.assertEqual(sorted(in_guests + on_host), [CLIENT, SERVER], name)

    def test_the_server_guest_forwards_the_control_port_where_a_peer_is_elsewhere(self):
        for name in ("g2g", "g2h"):
            guests = exec_placement.PLACEMENTS[name](4242).guests
            server_guest = next(g for g in guests if SERVER in g.peers)
            self.assertTrue(server_guest.forward_control and server_guest.network, name)
        self.assertFalse(exec_placement.place_loopback(4242).guests[0].network)

    def test_user_network_arguments(self):
        self.assertEqual(exec_net.qemu_args(4242),
                         ["-netdev", "user,id=vsc_net,hostfwd=tcp:127.0.0.1:4242-:4242",
                          "-device", "virtio-net-pci,netdev=vsc_net"])
        self.assertNotIn("hostfwd", " ".join(exec_net.qemu_args(None)))

    def test_free_port_is_a_port(self):
        self.assertTrue(1024 <= exec_net.free_tcp_port() <= 65535)


class GuestScript(unittest.TestCase):
    ENV = PeerEnv(3, 4, "0.0.0.0", 4242)

    def test_a_command_reaches_the_shell_as_one_word(self):
        script = exec_plan.guest_script({SERVER: ("it's $CONTROL_PORT", self.ENV)}, network=True)
        self.assertIn("run_peer server 'it'\"'\"'s $CONTROL_PORT' VSOCK_PEER_CID=4 VSOCK_LOCAL_CID=3 "
                      "CONTROL_HOST=0.0.0.0 CONTROL_PORT=4242 &", script)
        self.assertIn("ip route add default via 10.0.2.2", script)
        self.assertIn("listening 4242", script)

    def test_loopback_starts_the_client_only_once_the_server_listens(self):
        script = exec_plan.guest_script({SERVER: ("s", self.ENV), CLIENT: ("c", self.ENV)}, network=False)
        self.assertLess(script.index("listening 4242"), script.index("run_peer client"))
        self.assertIn('if [ "$listened" = 1 ]; then', script)
        self.assertNotIn("ip addr", script)

    def test_a_lone_client_waits_for_the_runners_word(self):
        script = exec_plan.guest_script({CLIENT: ("c", self.ENV)}, network=True)
        self.assertLess(script.index("wait_port vsockcheck.peer"), script.index("run_peer client"))

    def test_the_script_is_valid_busybox_shell(self):
        script = exec_plan.guest_script({SERVER: ("s", self.ENV), CLIENT: ("c", self.ENV)}, network=True)
        done = subprocess.run(["/usr/bin/busybox", "sh", "-n"], input=script, capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_status_lines(self):
        self.assertEqual(exec_plan.parse_status("# vsockcheck-exec: client exit=3"), (CLIENT, "exit", 3))
        self.assertEqual(exec_plan.parse_status("# vsockcheck-exec: server listening\r"),
                         (SERVER, "listening", None))
        self.assertIsNone(exec_plan.parse_status("# vsockcheck-exec: peer exit=3"))
        self.assertIsNone(exec_plan.parse_status("client exit=3"))


class PeerOutcome(unittest.TestCase):
    def peer(self, **fields):
        return Peer(CLIENT, "somewhere", Path("client.log"), **fields)

    def test_how_each_ending_is_told(self):
        self.assertEqual(self.peer(status=3).how(), "exit 3")
        self.assertEqual(self.peer(status=139).how(), "exit 139 (killed by SIGSEGV, as its shell reports it)")
        self.assertEqual(self.peer(killed_by=9).how(), "killed by SIGKILL")
        self.assertEqual(self.peer(problem="timed out after 5 s (still running)").how(),
                         "timed out after 5 s (still running)")
        self.assertTrue(self.peer(status=0).ok)
        self.assertFalse(self.peer(problem="x").ok)
        self.assertFalse(self.peer().done)
