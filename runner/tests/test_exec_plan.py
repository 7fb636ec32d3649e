"""vsockcheck exec without guests: input checks, placements, the guest script, status lines."""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from types import SimpleNamespace

from vsc import exec_nested, exec_net, exec_placement, exec_plan, exec_run
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

    def test_l2_kernel_outside_nested(self):
        line = self.exec_("--topology", "g2g", "--server", "a", "--client", "b", "--l2-kernel", "debian:trixie")
        self.assertEqual(line, "vsockcheck: error: --l2-kernel: only topology nested has L2 guests (not g2g)")

    def test_bad_timeout(self):
        line = self.exec_("--topology", "loopback", "--server", "a", "--client", "b", "--timeout", "0")
        self.assertEqual(line, "vsockcheck: error: --timeout 0: must be more than 0 seconds")


class Placements(unittest.TestCase):
    def test_every_topology_names_both_peers_and_their_cids(self):
        expected = {"loopback": ((1, 1, "127.0.0.1"), (1, 1, "127.0.0.1")),
                    "g2g": ((3, 4, "0.0.0.0"), (4, 3, "10.0.2.2")),
                    "g2h": ((3, 2, "0.0.0.0"), (2, 3, "127.0.0.1")),
                    "nested": ((2, 5, "0.0.0.0"), (5, 2, "10.0.2.2"))}
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
        self.assertEqual(exec_plan.parse_status("# vsockcheck-exec: client l2-gone=1"), (CLIENT, "l2-gone", 1))
        self.assertEqual(exec_plan.parse_status("# vsockcheck-exec: server started"), (SERVER, "started", None))
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


class Nested(unittest.TestCase):
    """The nested placement: the server in L1, the client in L2a, which L1 boots once the server listens."""

    PLACEMENT = exec_placement.place_nested(4242)

    def l1_script(self):
        return exec_plan.guest_script({SERVER: ("s", self.PLACEMENT.envs[SERVER])}, network=False,
                                      client_lines=exec_nested.l1_client_lines())

    def l2a_script(self):
        return exec_plan.guest_script({CLIENT: ("c", self.PLACEMENT.envs[CLIENT])}, network=True, await_go=False)

    def test_l1_on_our_device_runs_both_and_the_client_in_l2a(self):
        (l1,) = self.PLACEMENT.guests
        self.assertEqual((l1.device_cid, l1.peers, l1.in_l2, l1.network), (3, (SERVER, CLIENT), (CLIENT,), False))
        self.assertIsNone(self.PLACEMENT.host_peer)
        self.assertEqual(self.PLACEMENT.where[CLIENT], "L2a, CID 5, a guest of L1")

    def test_l1_boots_l2a_only_once_the_server_listens(self):
        script = self.l1_script()
        listens = script.index("listening 4242")
        self.assertLess(script.index("run_peer server s "), listens)
        self.assertLess(listens, script.index('if [ "$listened" = 1 ]; then'))
        self.assertLess(script.index('if [ "$listened" = 1 ]; then'), script.index("start_l2 l2a"))
        self.assertIn(". /usr/lib/vsockcheck/nested_lib.sh", script)
        self.assertIn('wait "$l2a"\n\techo "# vsockcheck-exec: client l2-gone=$?"', script)
        self.assertNotIn("run_peer client", script)
        self.assertNotIn("ip addr", script)  # L1 has no network of its own

    def test_l2a_runs_the_client_at_once_on_its_network(self):
        script = self.l2a_script()
        self.assertNotIn("vsockcheck.peer", script)
        self.assertLess(script.index("ip route add default via 10.0.2.2"), script.index("run_peer client c "))
        self.assertIn("VSOCK_PEER_CID=2 VSOCK_LOCAL_CID=5 CONTROL_HOST=10.0.2.2 CONTROL_PORT=4242", script)

    def test_both_scripts_are_valid_busybox_shell(self):
        for script in (self.l1_script(), self.l2a_script()):
            done = subprocess.run(["/usr/bin/busybox", "sh", "-n"], input=script, capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)

    def test_l2a_command_line(self):
        argv = exec_nested.l2a_argv()
        line = " ".join(argv)
        self.assertIn("vhost-vsock-pci,id=vsc_l2_vsock,guest-cid=5,bus=vsc_l2_rp", line)
        self.assertIn("-netdev user,id=vsc_net -device virtio-net-pci,netdev=vsc_net", line)
        self.assertNotIn("hostfwd", line)
        # The client's port writes into L1's port of the same name; L2a's status and console into L1's.
        self.assertIn("file,id=vsc_out_vsockcheck_client,path=/run/vsockcheck/ports/vsockcheck.client", line)
        self.assertIn("name=vsockcheck.client", line)
        self.assertIn("path=/run/vsockcheck/ports/vsockcheck.l2status", line)
        self.assertIn("-serial file:/run/vsockcheck/ports/vsockcheck.l2con", line)
        self.assertEqual(argv[argv.index("-initrd") + 1], "/l2/a.img")
        self.assertNotIn("vsockcheck.peer", line)  # no split-run control port

    def test_l1_ports_carry_l2as_output_to_the_results(self):
        with tempfile.TemporaryDirectory() as tmp:
            args = " ".join(exec_nested.l1_port_args(Path(tmp)))
            for port, name in (("vsockcheck.l2status", "l2a.ktap"), ("vsockcheck.l2con", "l2a-console.log"),
                               ("vsockcheck.l2qemu", "l2a-qemu.log")):
                self.assertIn(f"path={tmp}/{name} -device virtserialport,bus=vsc_serial.0,"
                              f"chardev=vsc_out_{port.replace('.', '_')},name={port}", args)
                self.assertEqual((Path(tmp) / name).read_bytes(), b"")


class NestedShellLib(unittest.TestCase):
    """nested_lib.sh, which L1 sources in both vsockcheck run and vsockcheck exec."""

    LIB = PROJECT_ROOT / "runner" / "vsc" / "nested_lib.sh"

    def test_start_l2_runs_the_argv_file_in_the_background_with_its_log(self):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "x.argv").write_text("sh\n-c\necho \"one arg: $0\"; exit 3\nwith space\n")
            script = (f"CONF={tmp}\n. {self.LIB}\nstart_l2 x {tmp}/x.log\npid=$!\n"
                      'wait "$pid"\necho "status=$?"\n'
                      # alive: true while it runs, false once it has ended and been waited for.
                      'sleep 30 & s=$!\nalive "$s" && echo running\nkill "$s"\nwait "$s"\n'
                      'alive "$s" || echo gone\n')
            done = subprocess.run(["/usr/bin/busybox", "sh", "-c", script], capture_output=True, text=True,
                                  timeout=30)
            self.assertEqual(done.stdout, "status=3\nrunning\ngone\n", done.stderr)
            self.assertEqual((Path(tmp) / "x.log").read_text(), "one arg: with space\n")


class NestedOutcome(unittest.TestCase):
    """How exec_run judges a client whose L2a has gone without its exit status."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-exec-nested-"))
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", str(self.tmp)]))
        self.files = exec_nested.l2_files(self.tmp)
        exec_nested.l1_port_args(self.tmp)
        (l1,) = exec_placement.place_nested(4242).guests
        self.guest = SimpleNamespace(placement=l1, l2_files=self.files, l2_gone=1)
        self.peers = {role: Peer(role, role, self.tmp / f"{role}.log") for role in (SERVER, CLIENT)}

    def test_a_qemu_that_never_booted_l2a_is_quoted(self):
        self.files.qemu_log.write_text("qemu-system-x86_64: -device vhost-vsock-pci: no /dev/vhost-vsock\n")
        consoles = []
        exec_run._l2_gone(self.guest, self.peers, consoles)
        self.assertEqual(self.peers[CLIENT].how(),
                         "never started: L2a, CID 5: QEMU exited (status 1) before its harness finished; its QEMU "
                         "said: qemu-system-x86_64: -device vhost-vsock-pci: no /dev/vhost-vsock")
        self.assertFalse(self.peers[SERVER].done)  # the server is L1's, not L2a's
        self.assertEqual(consoles, [])

    def test_a_panic_in_l2a_comes_with_its_console(self):
        self.peers[CLIENT].started = True
        self.files.console.write_text("booting\nKernel panic - not syncing: sysrq triggered crash\n")
        consoles = []
        exec_run._l2_gone(self.guest, self.peers, consoles)
        self.assertEqual(self.peers[CLIENT].how(), "no exit status: L2a, CID 5: its kernel panicked "
                                                   "(Kernel panic - not syncing: sysrq triggered crash)")
        self.assertEqual(consoles, [("L2a, CID 5", "l2a-console.log",
                                     ["booting", "Kernel panic - not syncing: sysrq triggered crash"])])

    def test_a_client_with_its_status_keeps_it(self):
        self.peers[CLIENT].status = 0
        exec_run._l2_gone(self.guest, self.peers, [])
        self.assertEqual(self.peers[CLIENT].how(), "exit 0")

    def test_l2as_lines_are_taken_and_its_notes_named(self):
        result = exec_run.ExecResult(self.peers, 4242)
        guest = SimpleNamespace(l2_gone=None)
        exec_run._take_line("# vsockcheck-exec: client exit=0", "L2a, CID 5", guest, self.peers, result, 4242)
        exec_run._take_line("# vsockcheck-init: insmod virtio_net.ko failed: x", "L2a, CID 5", guest, self.peers,
                            result, 4242)
        exec_run._take_line("# vsockcheck-exec: client l2-gone=0", "", guest, self.peers, result, 4242)
        self.assertEqual(self.peers[CLIENT].how(), "exit 0")
        self.assertEqual(result.notes, ["L2a, CID 5: vsockcheck-init: insmod virtio_net.ko failed: x"])
        self.assertEqual(guest.l2_gone, 0)
