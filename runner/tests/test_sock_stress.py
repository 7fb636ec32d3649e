"""sock-stress on the build machine over unix: URLs (never AF_VSOCK here): its client against its
server, against a server that corrupts one byte, and against one that never answers (-t)."""

import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from tests.unix_server import UnixServer
from vsc.paths import GUEST_BIN_DIR

SOCK_STRESS = GUEST_BIN_DIR / "sock-stress"
TIMEOUT_S = 60


class CorruptingEcho(UnixServer):
    """Echoes a connection's bytes to its EOF with the middle byte flipped."""

    def handle(self, conn):
        data = bytearray()
        while chunk := conn.recv(65536):
            data += chunk
        if data:
            data[len(data) // 2] ^= 1
        conn.sendall(data)
        conn.close()


class Silent(UnixServer):
    """Accepts and reads, never echoes: the client's -t must end it."""

    def handle(self, conn):
        while conn.recv(65536):
            pass
        time.sleep(5)
        conn.close()


def run_client(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SOCK_STRESS), "-c", url, *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S)


@unittest.skipUnless(SOCK_STRESS.exists(), f"{SOCK_STRESS} is missing: run 'make'")
class SockStressTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="vsockcheck-sock-stress-")
        self.addCleanup(self.dir.cleanup)
        self.path = Path(self.dir.name) / "s"

    def serve(self, server_class) -> None:
        server = server_class(self.path, threaded=True)
        self.addCleanup(server.close)

    def test_client_against_server(self):
        server = subprocess.Popen([str(SOCK_STRESS), "-s", f"unix:{self.path}", "-i", "30", "-t", "50"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(server.kill)
        line = server.stderr.readline()
        self.assertIn("listening on", line)
        client = run_client(f"unix://{self.path}", "-i", "30", "-p", "5", "-L", "1", "-l", "200000",
                            "-B", "1", "-b", "70000", "-t", "50")
        out, err = server.communicate(timeout=TIMEOUT_S)
        self.assertEqual(client.returncode, 0, client.stderr)
        self.assertIn("connections=30 ok=30 failed=0", client.stdout)
        self.assertEqual(server.returncode, 0, err)
        self.assertIn("connections=30 ok=30 failed=0", out)
        # Both count the same bytes: every byte sent came back.
        sent = client.stdout.split("bytes=")[1].split()[0]
        self.assertEqual(out.split("bytes=")[1].split()[0], sent)

    def test_corrupted_echo_is_caught(self):
        self.serve(CorruptingEcho)
        client = run_client(f"unix:{self.path}", "-i", "3", "-L", "1000", "-l", "5000")
        self.assertEqual(client.returncode, 1)
        self.assertIn("ok=0 failed=3", client.stdout)
        self.assertIn("SHA-256", client.stderr)

    def test_exit_on_error(self):
        self.serve(CorruptingEcho)
        client = run_client(f"unix:{self.path}", "-i", "5", "-e", "-L", "10", "-l", "10")
        self.assertEqual(client.returncode, 1)
        self.assertIn("-e: exiting", client.stderr)
        self.assertEqual(client.stdout, "")

    def test_time_limit_ends_a_stalled_run(self):
        self.serve(Silent)
        start = time.monotonic()
        client = run_client(f"unix:{self.path}", "-i", "1", "-L", "10", "-l", "10", "-t", "2")
        self.assertLess(time.monotonic() - start, 10)
        self.assertEqual(client.returncode, 1)
        self.assertIn("time limit (-t) ran out", client.stderr)

    def test_usage_errors_name_the_input(self):
        for args, word in ((["-c", "vsock://:5"], "vsock://:5"), (["-c", "unix:"], "unix:"),
                           (["-c", "unix:/x", "-b", "10"], "-B"), (["-c", "tcp://1:2"], "tcp://1:2"),
                           (["-q"], "-q"), ([], "-c URL")):
            done = subprocess.run([str(SOCK_STRESS), *args], capture_output=True, text=True, timeout=TIMEOUT_S)
            self.assertEqual(done.returncode, 2, args)
            self.assertIn(word, done.stderr, args)
            self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)

    def test_connect_failure_names_the_url(self):
        client = run_client(f"unix:{self.path}", "-i", "2")
        self.assertEqual(client.returncode, 1)
        self.assertIn(f"connect unix:{self.path}", client.stderr)
        self.assertIn("ok=0 failed=2", client.stdout)


if __name__ == "__main__":
    unittest.main()
