#!/bin/sh
# vsockcheck guest /init: mount, load modules, run the test program with its KTAP on a virtio-serial port, power off.

PORT_NAME=vsockcheck.ktap
# The runner writes this word into TEST_ARGS where the control port to the peer's /dev node goes.
PEER_PORT_NAME=vsockcheck.peer
PEER_PORT_WORD=@peer-port@
MODULE_DIR=/lib/modules/vsockcheck
# One line per module that did not load, "NAME.ko: insmod's message": the kmod cases quote it.
INSMOD_FAILED=/run/vsockcheck/insmod-failed
export PATH=/bin:/usr/bin

# busybox --install finds its own path through /proc/self/exe, so /proc comes first.
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
# debugfs holds kmemleak's control file, which the leak cases use where the kernel has it.
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

console() {
	echo "vsockcheck-init: $*" >/dev/console
}

finish() {
	sync
	poweroff -f
	# poweroff -f does not return; if it ever does, never let init exit (that would panic).
	while :; do sleep 3600; done
}

MODE=suite
TEST_BIN=
TEST_ARGS=
SCRIPT=
CAPTURE_PORT=
if [ -r /etc/vsockcheck/run.conf ]; then
	# shellcheck source=/dev/null
	. /etc/vsockcheck/run.conf
else
	console "no /etc/vsockcheck/run.conf: the initramfs tail was not unpacked"
fi

# A failed insmod is reported, not fatal: the tests that need the module will say what is missing.
# Our own test modules (run --kmod) come last in the list, after the vsock modules they use, and
# load before the test program takes its taint baseline (they taint the kernel: O, E).
insmod_failures=
mkdir -p "${INSMOD_FAILED%/*}"
while IFS= read -r module; do
	[ -n "$module" ] || continue
	if ! message=$(insmod "$MODULE_DIR/$module" 2>&1); then
		console "insmod $module failed: $message"
		echo "$module: $message" >>"$INSMOD_FAILED"
		insmod_failures="$insmod_failures# vsockcheck-init: insmod $module failed: $message
"
	fi
done </etc/vsockcheck/modules

ip link set lo up || console "ip link set lo up failed"

# find_port and wait_port, shared with the scripts a guest runs.
# shellcheck source=guest_lib.sh
. /usr/lib/vsockcheck/guest_lib.sh

# with_peer_port ARGS DEV: the words of ARGS, with the placeholder word replaced by DEV.
with_peer_port() {
	printf '%s\n' "$1" | sed "s|$PEER_PORT_WORD|$2|g"
}

if ! port=$(wait_port "$PORT_NAME"); then
	console "no virtio-serial port named $PORT_NAME (is virtio_console loaded?); powering off"
	finish
fi
exec 3>"$port"
printf '%s' "$insmod_failures" >&3

# Only topologies with a peer elsewhere give the guest a control port, and name it in TEST_ARGS
# (or, for a guest that runs several passes, in SCRIPT).
case " $TEST_ARGS $SCRIPT " in
*"$PEER_PORT_WORD"*)
	if peer_port=$(wait_port "$PEER_PORT_NAME"); then
		TEST_ARGS=$(with_peer_port "$TEST_ARGS" "$peer_port")
		SCRIPT=$(with_peer_port "$SCRIPT" "$peer_port")
	else
		console "no virtio-serial port named $PEER_PORT_NAME"
		echo "# vsockcheck-guest: no virtio-serial port named $PEER_PORT_NAME for the peer channel" >&3
		MODE=no-peer-port
	fi
	;;
esac

# run --capture: vsockmon-capture records what vsockmon taps, as pcap on a port of its own, from
# before the test program starts until it has ended. What it says goes to the console, marked
# "vsockcheck-capture: " (the runner's vsc.guest_capture reads it); "not recording: " says it is not.
CAPTURE_LOG=/run/vsockcheck/capture.log
capture_pid=
capture_console() {
	echo "vsockcheck-capture: $*" >/dev/console
}

start_capture() {
	if ! capture_dev=$(wait_port "$CAPTURE_PORT"); then
		capture_console "not recording: no virtio-serial port named $CAPTURE_PORT"
		return
	fi
	vsockmon-capture --out "$capture_dev" </dev/null >"$CAPTURE_LOG" 2>&1 &
	capture_pid=$!
	# It says "capturing on" once its socket is bound; until then packets would be missed.
	tries=0
	until grep -q "capturing on" "$CAPTURE_LOG"; do
		if ! kill -0 "$capture_pid" 2>/dev/null; then
			wait "$capture_pid"
			capture_console "not recording: vsockmon-capture ended (exit $?): $(tr '\n' ' ' <"$CAPTURE_LOG")"
			capture_pid=
			return
		fi
		tries=$((tries + 1))
		if [ "$tries" -gt 200 ]; then
			kill -KILL "$capture_pid"
			wait "$capture_pid"
			capture_console "not recording: vsockmon-capture did not start within 10 s: $(tr '\n' ' ' <"$CAPTURE_LOG")"
			capture_pid=
			return
		fi
		sleep 0.05
	done
	capture_console "$(head -n 1 "$CAPTURE_LOG")"
}

stop_capture() {
	[ -n "$capture_pid" ] || return
	kill -TERM "$capture_pid"
	wait "$capture_pid"
	status=$?
	sed 1d "$CAPTURE_LOG" | while IFS= read -r line; do capture_console "$line"; done
	[ "$status" -eq 0 ] || capture_console "vsockmon-capture exited with status $status"
}

[ -n "$CAPTURE_PORT" ] && start_capture

case "$MODE" in
no-peer-port)
	;;
suite)
	if [ -z "$TEST_BIN" ]; then
		console "run.conf sets no TEST_BIN"
		echo "# vsockcheck-guest: no TEST_BIN in run.conf" >&3
		rc=127
	else
		# TEST_ARGS holds plain words chosen by the runner; split them, but never glob them.
		set -f
		# shellcheck disable=SC2086
		"$TEST_BIN" $TEST_ARGS </dev/null >&3 2>/dev/console
		rc=$?
		set +f
	fi
	echo "# vsockcheck-guest: exit=$rc" >&3
	;;
script)
	# SCRIPT holds shell commands chosen by the runner (make bench, tool tests); everything they
	# print goes to the port, and the last line says how the script ended.
	sh -c "$SCRIPT" </dev/null >&3 2>&1
	echo "# vsockcheck-guest: exit=$?" >&3
	;;
panic)
	echo c >/proc/sysrq-trigger
	;;
hang)
	while :; do sleep 3600; done
	;;
shell)
	# A new session whose controlling tty is the serial line (cttyhack finds it), so Ctrl-C and job
	# control work. Not exec'd: leaving the shell powers off instead of killing init.
	setsid cttyhack sh
	;;
*)
	console "unknown MODE '$MODE' in run.conf"
	echo "# vsockcheck-guest: unknown MODE '$MODE'" >&3
	;;
esac
stop_capture
exec 3>&-
finish
