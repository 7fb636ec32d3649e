"""Interop of our vhost-user vsock backend with real guests and socat: the hybrid-vsock bridge
both ways, guest->guest between two guests of one backend, a transfer far beyond the credit
window, and one QEMU killed and restarted while another VM keeps its connection."""

import errno
import hashlib
import os
import socket
import subprocess
import threading
import unittest

from tests.bridge_rig import Rig, SOCAT, bridge_connect, missing, recv_all, wait_listening

WHY_NOT = missing()
BIG = 64 << 20


def host_socat(*args, input: bytes, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(SOCAT), "-t", "5", *args], input=input, capture_output=True,
                          timeout=timeout)


@unittest.skipIf(WHY_NOT, WHY_NOT)
class Bridge(unittest.TestCase):
    def test_connect_line_both_ways_and_refusals(self):
        with Rig() as rig:
            rig.backend([3])
            uds = rig.uds(3)
            # (b) the guest calls CID 2 port 5678: a host socat listens on <uds>_5678.
            listener = subprocess.Popen(
                [str(SOCAT), "-t", "5", f"UNIX-LISTEN:{uds}_5678", "-"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.addCleanup(lambda: listener.poll() is None and listener.kill())
            guest = rig.guest(3, (
                "socat VSOCK-LISTEN:1234 SYSTEM:'echo hello-from-guest; cat >/tmp/got' & "
                f"{wait_listening(1234)}; echo READY; wait; echo GOT:$(cat /tmp/got); "
                "echo hello-from-guest-b | socat -t 5 - VSOCK-CONNECT:2:5678 >/tmp/b; "
                "echo B:$(cat /tmp/b); echo DONE; sleep 3600"))  # up for (c): powered off, it would not answer
            guest.wait_for("READY")
            # (a) a host program asks for the guest's port 1234: the first bridged host port.
            done = host_socat("-", f"UNIX-CONNECT:{uds}", input=b"CONNECT 1234\nhello-from-host\n")
            self.assertEqual(done.stdout, b"OK 1073741824\nhello-from-guest\n", done.stderr)
            self.assertIn("GOT:hello-from-host", guest.wait_for("GOT:"))
            # (b) both ways through <uds>_5678
            out, err = listener.communicate(b"hello-from-host-b\n", timeout=120)
            self.assertEqual(out, b"hello-from-guest-b\n", err)
            self.assertIn("B:hello-from-host-b", guest.wait_for("DONE"))
            # (c) no guest listener on 4321: the stream is closed, with no OK.
            s, line = bridge_connect(uds, 4321)
            self.assertEqual(line, b"")
            s.close()
            # Malformed CONNECT lines are closed without an answer.
            for bad in (b"CONNECT x\n", b"HELLO 1234\n", b"CONNECT " + b"1" * 30 + b"\n"):
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(10)
                    s.connect(str(uds))
                    s.sendall(bad)
                    try:
                        answer = recv_all(s)
                    except ConnectionResetError:
                        answer = b""  # closed over bytes it did not read (the too-long line)
                    self.assertEqual(answer, b"", bad)
            self.assertNotIn("dropping the connection", rig.backend_log())

    def test_large_transfer_both_ways(self):
        # (e) 64 MiB each way, 256 times the credit window: only flow control keeps it whole.
        payload = os.urandom(BIG)
        with Rig() as rig:
            rig.backend([3])
            uds = rig.uds(3)
            received = {}
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(f"{uds}_5679")
            server.listen(1)
            server.settimeout(600)
            self.addCleanup(server.close)

            def take():
                conn, _ = server.accept()
                conn.settimeout(600)
                received["sha"] = hashlib.sha256(recv_all(conn)).hexdigest()
                conn.close()
            taker = threading.Thread(target=take, daemon=True)
            taker.start()
            guest = rig.guest(3, (
                "socat -u VSOCK-LISTEN:1234 SYSTEM:'sha256sum >/tmp/h2g' & "
                f"{wait_listening(1234)}; echo READY; wait; echo H2G:$(cat /tmp/h2g); "
                f"dd if=/dev/urandom of=/tmp/big bs=1M count={BIG >> 20} 2>/dev/null; "
                "echo G2H:$(sha256sum /tmp/big); socat -u FILE:/tmp/big VSOCK-CONNECT:2:5679; "
                "echo DONE"))
            guest.wait_for("READY")
            s, line = bridge_connect(uds, 1234, timeout=600)
            self.assertTrue(line.startswith(b"OK "), line)
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_all(s), b"")
            s.close()
            text = guest.wait_for("DONE", timeout=900)
            self.assertIn("H2G:" + hashlib.sha256(payload).hexdigest(), text)
            taker.join(600)
            guest_sha = text.split("G2H:")[1].split()[0]
            self.assertEqual(received.get("sha"), guest_sha)
            self.assertNotIn("beyond credit", rig.backend_log())
            self.assertNotIn("credit left", rig.backend_log())

    def test_guest_closing_over_unread_data_is_eof_for_the_host(self):
        # The guest stops reading, its credit runs out, then it closes: what the host program
        # still has queued is lost, and it reads EOF (vsock sets no error), not ECONNRESET.
        with Rig() as rig:
            rig.backend([3])
            uds = rig.uds(3)
            guest = rig.guest(3, (
                "socat -u VSOCK-LISTEN:1234 SYSTEM:'sleep 3' & "
                f"{wait_listening(1234)}; echo READY; wait; echo CLOSED"))
            guest.wait_for("READY")
            s, line = bridge_connect(uds, 1234, timeout=60)
            self.assertTrue(line.startswith(b"OK "), line)
            sent = {}

            def flood():
                try:
                    s.sendall(b"x" * (4 << 20))
                except OSError as e:
                    sent["error"] = e.errno
            sender = threading.Thread(target=flood, daemon=True)
            sender.start()
            guest.wait_for("CLOSED", timeout=120)
            s.settimeout(60)
            self.assertEqual(recv_all(s), b"")
            sender.join(60)
            self.assertEqual(sent.get("error"), errno.EPIPE)
            s.close()

    def test_guest_to_guest(self):
        # (d) two guests of one backend: the packets never leave the process.
        with Rig() as rig:
            rig.backend([3, 4], bridges=False)
            a = rig.guest(3, (
                "socat VSOCK-LISTEN:1234 SYSTEM:'echo hello-from-a; cat >/tmp/got' & "
                f"{wait_listening(1234)}; echo READY; wait; echo GOT:$(cat /tmp/got)"))
            a.wait_for("READY")
            b = rig.guest(4, "echo hello-from-b | socat -t 5 - VSOCK-CONNECT:3:1234 >/tmp/r; "
                             "echo REPLY:$(cat /tmp/r)")
            self.assertIn("REPLY:hello-from-a", b.wait_for("REPLY:"))
            self.assertIn("GOT:hello-from-b", a.wait_for("GOT:"))

    def test_one_qemu_restarts_while_another_vm_keeps_its_connection(self):
        # (f) VM 4's QEMU is killed and started again; VM 3's open connection never notices.
        echo = ("socat VSOCK-LISTEN:1234,fork EXEC:cat & "
                f"{wait_listening(1234)}; echo READY; wait")
        with Rig() as rig:
            rig.backend([3, 4])
            a = rig.guest(3, echo)
            b = rig.guest(4, echo)
            a.wait_for("READY")
            b.wait_for("READY")
            sa, line = bridge_connect(rig.uds(3), 1234, timeout=60)
            self.assertTrue(line.startswith(b"OK "), line)
            sb, line = bridge_connect(rig.uds(4), 1234, timeout=60)
            self.assertTrue(line.startswith(b"OK "), line)
            for s in (sa, sb):
                s.sendall(b"ping\n")
                self.assertEqual(s.recv(5), b"ping\n")
            b.kill()
            self.assertEqual(recv_all(sb), b"")  # VM 4's host stream is closed with it
            sa.sendall(b"still\n")
            self.assertEqual(sa.recv(6), b"still\n")
            b2 = rig.guest(4, echo)
            b2.wait_for("READY")
            sb2, line = bridge_connect(rig.uds(4), 1234, timeout=60)
            self.assertTrue(line.startswith(b"OK "), line)
            sb2.sendall(b"again\n")
            self.assertEqual(sb2.recv(6), b"again\n")
            sa.sendall(b"after\n")
            self.assertEqual(sa.recv(6), b"after\n")
            for s in (sa, sb, sb2):
                s.close()
            log = rig.backend_log()
            self.assertNotIn("cid 3: dropping", log)


if __name__ == "__main__":
    unittest.main()
