"""vsock-perf: its bridge modes against a fake hybrid-vsock bridge, and loopback in a guest.

On the build machine the tool only ever runs with --bridge or --bridge-listen (Unix sockets):
AF_VSOCK here would reach a foreign hypervisor."""

import json
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

from tests.unix_server import UnixServer, read_line
from vsc import bench_vsock, guest_script, guest_session, kernels, topology_loopback, vsock_perf
from vsc.cli import DEFAULT_KERNEL, TEST_PROGRAM
from vsc.errors import UserError

PERF = str(vsock_perf.PROGRAM)


class FakeBridge(UnixServer):
    """Plays the device's bridge: answers 'CONNECT <port>' as the guest listener of that port
    would. behaviour[port] is 'sink' (count bytes to EOF, then close), 'echo' (one byte back,
    close), 'refuse' (close without OK) or 'garbage' (a wrong answer)."""

    def __init__(self, path: Path, behaviour: dict[int, str]):
        self.behaviour = behaviour
        self.received: list[int] = []   # bytes per sink connection
        self.connections = 0
        super().__init__(path, backlog=64)

    def handle(self, conn):
        request = read_line(conn)
        if not request.endswith(b"\n"):
            return
        port = int(request.split()[1])
        self.connections += 1
        what = self.behaviour.get(port, "refuse")
        if what == "refuse":
            return
        if what == "garbage":
            conn.sendall(b"NOPE\n")
            return
        conn.sendall(b"OK 1073741824\n")
        if what == "echo":
            conn.sendall(conn.recv(1))
            return
        total = 0
        while chunk := conn.recv(1 << 16):
            total += len(chunk)
        self.received.append(total)


@unittest.skipUnless(vsock_perf.PROGRAM.exists(), "vsock-perf is not built: run make")
class BridgeModes(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="vsc-perf-"))
        self.uds = self.tmp / "bridge.sock"
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", str(self.tmp)]))

    def bridge(self, behaviour):
        fake = FakeBridge(self.uds, behaviour)
        self.addCleanup(fake.close)
        return fake

    def perf(self, *args, timeout=30):
        return subprocess.run([PERF, *args], capture_output=True, text=True, timeout=timeout)

    def one_error_line(self, done, status=1):
        self.assertEqual(done.returncode, status, done.stdout + done.stderr)
        lines = done.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        return lines[0]

    def test_send_counts_every_byte(self):
        fake = self.bridge({5000: "sink"})
        size = 3 * (1 << 20) + 17  # not a whole number of chunks
        done = self.perf("send", "--bridge", str(self.uds), "--port", "5000", "--bytes", str(size))
        self.assertEqual(done.returncode, 0, done.stderr)
        mode, figures = vsock_perf.report(done.stdout.strip())
        self.assertEqual((mode, int(figures["bytes"])), ("send", size))
        self.assertGreater(float(figures["mib_per_s"]), 0)
        self.assertEqual(fake.received, [size])

    def test_send_size_suffixes(self):
        fake = self.bridge({5000: "sink"})
        done = self.perf("send", "--bridge", str(self.uds), "--port", "5000", "--bytes", "2M",
                         "--chunk", "4K")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(fake.received, [2 << 20])

    def test_connrate_makes_count_connections(self):
        fake = self.bridge({5003: "echo"})
        done = self.perf("connrate", "--bridge", str(self.uds), "--port", "5003", "--count", "40")
        self.assertEqual(done.returncode, 0, done.stderr)
        mode, figures = vsock_perf.report(done.stdout.strip())
        self.assertEqual((mode, figures["count"]), ("connrate", "40"))
        self.assertGreater(float(figures["conn_per_s"]), 0)
        self.assertEqual(fake.connections, 40)

    def test_refused_connect_names_bridge_and_port(self):
        self.bridge({})
        line = self.one_error_line(self.perf("send", "--bridge", str(self.uds), "--port", "5009",
                                             "--bytes", "1"))
        self.assertTrue(line.startswith("vsock-perf: send: "), line)
        self.assertIn(str(self.uds), line)
        self.assertIn("CONNECT 5009", line)

    def test_wrong_answer_is_quoted(self):
        self.bridge({5009: "garbage"})
        line = self.one_error_line(self.perf("connrate", "--bridge", str(self.uds), "--port", "5009",
                                             "--count", "1"))
        self.assertIn("answered 'NOPE'", line)

    def test_missing_bridge_socket_names_path_and_errno(self):
        line = self.one_error_line(self.perf("send", "--bridge", str(self.uds), "--port", "1",
                                             "--bytes", "1"))
        self.assertIn(f"connect to bridge {self.uds}", line)
        self.assertIn("ENOENT", line)

    def listener(self, *args):
        """A --bridge-listen process, returned once it says it listens."""
        proc = subprocess.Popen([PERF, *args, "--bridge-listen", str(self.uds), "--timeout", "30"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        first = proc.stdout.readline().strip()
        port = args[args.index("--port") + 1]
        if "--json" in args:
            self.assertEqual(json.loads(first)["event"], "listening", first)
        else:
            self.assertTrue(first.endswith(" listening port=" + port),
                            first + proc.stderr.read() if proc.poll() is not None else first)
        return proc

    def guest_connect(self, port):
        """What the device does for a guest connecting to host port `port`."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(f"{self.uds}_{port}")
        return conn

    def test_recv_counts_every_byte_and_removes_its_socket(self):
        proc = self.listener("recv", "--port", "5001")
        size = 5 * (1 << 20) + 3
        with self.guest_connect(5001) as conn:
            conn.sendall(b"x" * size)
            conn.shutdown(socket.SHUT_WR)
            self.assertEqual(conn.recv(1), b"")  # recv closes once it has reported
        out, err = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 0, err)
        mode, figures = vsock_perf.report(out.strip())
        self.assertEqual((mode, int(figures["bytes"])), ("recv", size))
        self.assertFalse(Path(f"{self.uds}_5001").exists())

    def test_echo_serves_count_connections(self):
        proc = self.listener("echo", "--port", "5003", "--count", "3")
        for byte in (b"a", b"b", b"c"):
            with self.guest_connect(5003) as conn:
                conn.sendall(byte)
                self.assertEqual(conn.recv(1), byte)
        out, err = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(vsock_perf.report(out.strip()), ("echo", {"connections": "3"}))

    def test_send_can_be_the_listening_side(self):
        proc = self.listener("send", "--port", "5004", "--bytes", "3M", "--chunk", "4096")
        with self.guest_connect(5004) as conn:
            total = 0
            while chunk := conn.recv(1 << 16):
                total += len(chunk)
                if total == 3 << 20:
                    break
            conn.shutdown(socket.SHUT_WR)   # the receiver's close ends send's wait
        out, err = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(total, 3 << 20)
        mode, figures = vsock_perf.report(out.strip().splitlines()[-1])
        self.assertEqual((mode, int(figures["bytes"])), ("send", 3 << 20))

    def test_latency_listener_echoes_until_eof_and_reports_json(self):
        proc = self.listener("latency", "--port", "5005", "--json")
        with self.guest_connect(5005) as conn:
            for i in range(20):
                conn.sendall(bytes([i]) * 64)
                got = b""
                while len(got) < 64:
                    got += conn.recv(64 - len(got))
                self.assertEqual(got, bytes([i]) * 64)
            conn.shutdown(socket.SHUT_WR)
            self.assertEqual(conn.recv(1), b"")
        out, err = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 0, err)
        report = json.loads(out.strip())
        self.assertEqual((report["tool"], report["mode"], report["role"], report["echoed_bytes"]),
                         ("vsock-perf", "latency", "echo", 20 * 64))

    def test_timeout_says_what_it_waited_for(self):
        done = self.perf("recv", "--port", "5001", "--bridge-listen", str(self.uds), "--timeout", "1")
        line = self.one_error_line(done, status=3)
        self.assertEqual(line, "vsock-perf: recv: timed out while waiting for a connection")
        self.assertFalse(Path(f"{self.uds}_5001").exists())

    def test_bad_command_lines(self):
        # Each fails while parsing, before any socket is opened.
        for args, words in ((["nosuch"], "unknown mode 'nosuch'"), ([], "the first argument is the mode"),
                            (["recv"], "--port is required"),
                            (["send", "--bridge", "x", "--port", "1"], "--bytes is required"),
                            (["send", "--bridge", "x", "--port", "1", "--bytes", "1Q"], "--bytes '1Q'"),
                            (["echo", "--port", "1", "--bridge", "x"], "--bridge"),
                            (["recv", "--port", "1", "--bridge", "x", "--vsk-size", "1M"], "AF_VSOCK only"),
                            (["latency", "--bridge", "x", "--port", "1"], "--count is required"),
                            (["connrate", "--bridge", "x", "--port", "1"], "--count is required")):
            with self.subTest(args=args):
                self.assertIn(words, self.one_error_line(self.perf(*args), status=2))

    def test_help(self):
        done = self.perf("--help")
        self.assertEqual(done.returncode, 0)
        for mode in ("recv", "send", "echo", "connrate", "--bridge-listen", "--timeout"):
            self.assertIn(mode, done.stdout)


def default_kernel():
    try:
        return kernels.resolve(DEFAULT_KERNEL, fetch=False)
    except UserError:
        return None


@unittest.skipUnless(vsock_perf.PROGRAM.exists() and TEST_PROGRAM.exists(), "not built: run make")
@unittest.skipUnless(default_kernel(), f"{DEFAULT_KERNEL} is not cached")
class LoopbackInGuest(unittest.TestCase):
    def test_send_and_recv_count_the_same_bytes(self):
        size = 8 << 20
        script = (f"vsock-perf recv --port 5000 --background --timeout 60 && "
                  f"vsock-perf send --cid 1 --port 5000 --bytes {size} --timeout 60")
        spec = guest_session.GuestSpec(kernel=default_kernel(), modules=topology_loopback.MODULES,
                                       test_program=TEST_PROGRAM, test_args=[], cases=[],
                                       guest_tools=(vsock_perf.PROGRAM,), accel="tcg")
        with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as out:
            run = guest_script.run(spec, script, Path(work), Path(out), timeout_s=90)
        self.assertEqual(run.exit_status, 0, run.lines)
        reports = dict(filter(None, map(vsock_perf.report, run.lines)))
        self.assertEqual(int(reports["recv"]["bytes"]), size, run.lines)
        self.assertEqual(int(reports["send"]["bytes"]), size, run.lines)
        self.assertIn(vsock_perf.listening_line("recv", 5000), run.lines)


if __name__ == "__main__":
    unittest.main()


class BenchTable(unittest.TestCase):
    def test_ratios_are_over_the_mean_loopback_and_gaps_are_named(self):
        figures = bench_vsock.Figures(
            mib_per_s={"loopback_before": 220.0, "loopback_after": 180.0, "g2h": 50.0},
            conn_per_s=120.5, backend_cpu_s={"g2h": 1.25},
            problems=["host send: the guest's recv never said it listens"])
        lines = bench_vsock.table(figures)
        rows = {line[:32].strip(): line[32:].split() for line in lines[1:]}
        self.assertEqual(rows["loopback (CID 1), before"], ["220.0", "1.10", "-"])
        self.assertEqual(rows["guest -> host"], ["50.0", "0.25", "1.25"])
        self.assertEqual(rows["host -> guest"], ["-", "-", "-"])
        self.assertEqual(rows["connections/s guest -> host"], ["120.5", "-"])
        self.assertIn("problem: host send: the guest's recv never said it listens", lines[-1])

    def test_each_phase_follows_its_marker(self):
        commands = bench_vsock.guest_commands(1 << 20, 7).splitlines()
        marks = [i for i, line in enumerate(commands) if bench_vsock.PHASE_MARK in line]
        self.assertEqual([commands[i].split()[-1].strip("'") for i in marks],
                         list(bench_vsock.PHASES) + ["end"])
        after = {commands[i].split()[-1].strip("'"): commands[i + 1] for i in marks[:-1]}
        self.assertIn(f"--cid 1 --port {bench_vsock.LOOPBACK_PORT} --bytes 1048576", after["loopback_before"])
        self.assertIn(f"--cid 2 --port {bench_vsock.G2H_PORT} --bytes 1048576", after["g2h"])
        self.assertIn(f"recv --port {bench_vsock.H2G_PORT}", after["h2g"])
        self.assertIn(f"--cid 2 --port {bench_vsock.CONNRATE_PORT} --count 7", after["connrate"])
        self.assertEqual(after["loopback_after"], after["loopback_before"])
