#!/bin/sh
# nested_l1.sh: L1 of the nested topology (run by guest_init.sh's MODE script, stdout on the
# KTAP port). Boots the L2 guests under QEMU with vhost_vsock, then runs both passes of the suite
# against L2a over one L2a boot: pass l2 with the server and the one-process cases in L2a (whose
# KTAP reaches the runner through the port vsockcheck.l2ktap), then pass l1 with them here (its
# KTAP on stdout is the runner's pass-l1 result). What the runner chose is in /etc/vsockcheck/nested/.

CONF=/etc/vsockcheck/nested
RUN=/run/vsockcheck
PORTS=$RUN/ports
# The control channels to L2a, one per pass (topology_nested.py says why).
PEER_SOCKET=$RUN/l2-peer.sock
PEER_SOCKET_L1=$RUN/l2-peer-l1.sock
TEST_BIN=/usr/bin/vsockcheck-tests
# How long L2a's QEMU may take to create its control socket, and L2a to power off after its pass.
SOCKET_WAIT_TENTHS=300
POWEROFF_WAIT_TENTHS=300

# A line for the runner; '#' keeps the KTAP stream valid.
say() {
	echo "# vsockcheck-nested: $*"
}

# shellcheck source=nested_lib.sh
. /usr/lib/vsockcheck/nested_lib.sh
link_ports

# qemu_failed NAME: says that NAME's QEMU ended, with its log as comment lines.
qemu_failed() {
	say "error: $1's QEMU exited; its messages:"
	sed 's/^/# /' "$RUN/$1-qemu.log"
}

# Both L2 guests boot at once, each on one of L1's two vCPUs: L2b booting later, during the
# tests, would starve L2a's side of them (measured: a 10 s case timed out that way).
start_l2 l2a "$RUN/l2a-qemu.log"
l2a=$!
l2b=
if [ -r "$CONF/l2b.argv" ]; then
	start_l2 l2b "$RUN/l2b-qemu.log"
	l2b=$!
fi
say "l2 started"

tenths=0
until [ -S "$PEER_SOCKET" ]; do
	if ! alive "$l2a"; then
		qemu_failed l2a
		exit 1
	fi
	tenths=$((tenths + 1))
	if [ "$tenths" -gt "$SOCKET_WAIT_TENTHS" ]; then
		say "error: L2a's QEMU made no $PEER_SOCKET in $((SOCKET_WAIT_TENTHS / 10)) s"
		exit 1
	fi
	sleep 0.1
done

# L2a writes a line on its port vsockcheck.ready (this file) just before its first pass. Its boot
# takes minutes on a busy machine: wait while its QEMU lives (the runner bounds the whole wait).
READY=$RUN/l2a.ready
until [ -s "$READY" ]; do
	if ! alive "$l2a"; then
		qemu_failed l2a
		exit 1
	fi
	sleep 0.2
done
say "l2a ready"

# Pass l2 first (unless the selection left it no case), then pass l1.
# The arguments are plain words chosen by the runner: split them, never glob them.
set -f
if [ -r "$CONF/pass-l2.args" ]; then
	# shellcheck disable=SC2046
	"$TEST_BIN" $(cat "$CONF/pass-l2.args") --control "$PEER_SOCKET" </dev/null \
		>"$PORTS/vsockcheck.l1b" 2>/dev/console
	say "pass l2 exit=$?"
fi
# shellcheck disable=SC2046
"$TEST_BIN" $(cat "$CONF/pass-l1.args") --control "$PEER_SOCKET_L1" </dev/null 2>/dev/console
say "pass l1 exit=$?"
set +f

# L2a powers off by itself once its last pass ends.
tenths=0
while alive "$l2a" && [ "$tenths" -lt "$POWEROFF_WAIT_TENTHS" ]; do
	sleep 0.1
	tenths=$((tenths + 1))
done
if alive "$l2a"; then
	say "error: L2a did not power off within $((POWEROFF_WAIT_TENTHS / 10)) s of its pass"
	kill "$l2a"
fi
[ -n "$l2b" ] && kill "$l2b" 2>/dev/null
exit 0
