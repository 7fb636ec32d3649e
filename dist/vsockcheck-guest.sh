#!/bin/sh
# vsockcheck-guest.sh: runs the vsockcheck AF_VSOCK suite inside the Linux system it is started in
# (a LinuxKit image, a QEMU CI image) and prints one KTAP document on stdout. POSIX sh (busybox
# ash is enough). It does what the project's own guest /init does, without the Python runner:
# load the vsock modules, put the tools where the cases exec them, run the test program over
# vsock_loopback. Exit status: 0 nothing failed, 1 a case failed, 2 the suite could not run.

HERE=$(cd "$(dirname "$0")" && pwd) || exit 2
# The settings the Python runner's source gives (written by make dist): VSC_TEST_PROGRAM,
# VSC_LOOPBACK_ARGS, VSC_COMMON_MODULES, VSC_VIRTIO_MODULE, VSC_HYPERV_MODULE, VSC_TOOLS, ...
# shellcheck source=/dev/null
. "$HERE/suite.conf" || { echo "vsockcheck-guest: cannot read $HERE/suite.conf" >&2; exit 2; }
# The cases exec their tools by absolute path (/usr/bin/vsock-ss, /usr/bin/vsockcat).
TOOL_DIR=/usr/bin
# One line per module that did not load, "NAME.ko: message": the kmod cases quote it.
INSMOD_FAILED=/run/vsockcheck/insmod-failed
PATH=$PATH:/sbin:/usr/sbin:/bin:/usr/bin
export PATH

usage() {
	cat <<EOF
usage: $0 [--pick GLOBS] [--skip GLOBS] [--module-dir DIR] [--no-modules] [--fixtures] [--list]

Runs the vsockcheck suite ($VSC_VERSION) in this system and prints KTAP on stdout.
  --pick GLOBS      run only the cases matching these comma-separated globs
  --skip GLOBS      leave out the cases matching these globs
  --module-dir DIR  where to find NAME.ko when modprobe cannot load a module (searched
                    below DIR; busybox insmod needs uncompressed .ko files)
  --no-modules      load no module: the system has what it needs built in or loaded
  --fixtures        run the packet fixtures against this kernel's vhost_vsock instead
                    (needs vhost_vsock; its results are named ${VSC_FIXTURE_PREFIX}<fixture>)
  --list            list the cases and exit
  --help            this text
It loads $VSC_COMMON_MODULES, and $VSC_VIRTIO_MODULE on a virtio vsock
device or $VSC_HYPERV_MODULE on Hyper-V's VMBus (modprobe, else insmod from --module-dir), links
the tools ($VSC_TOOLS) into $TOOL_DIR where missing (removed again at the end), and runs
$VSC_TEST_PROGRAM $VSC_LOOPBACK_ARGS: both ends of each case in this system over
vsock_loopback (CID 1). Cases that need a host peer report SKIP with the reason.
Needs root. Exit status: 0 nothing failed, 1 a case failed, 2 the suite could not run.
EOF
}

PICK=
SKIP=
MODULE_DIR=
LOAD_MODULES=yes
ACTION=suite
while [ $# -gt 0 ]; do
	case "$1" in
	--pick) [ $# -ge 2 ] || { usage >&2; exit 2; }; PICK=$2; shift ;;
	--skip) [ $# -ge 2 ] || { usage >&2; exit 2; }; SKIP=$2; shift ;;
	--module-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; MODULE_DIR=$2; shift ;;
	--no-modules) LOAD_MODULES=no ;;
	--fixtures) ACTION=fixtures ;;
	--list) ACTION=list ;;
	-h|--help) usage; exit 0 ;;
	*) echo "vsockcheck-guest: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

TEST_PROGRAM=$HERE/bin/$VSC_TEST_PROGRAM
if [ "$ACTION" = list ]; then
	exec "$TEST_PROGRAM" --list
fi

# What this runner noticed, as KTAP comments after the version line.
NOTES=
note() {
	NOTES="$NOTES# vsockcheck-guest: $*
"
	echo "vsockcheck-guest: $*" >&2
}

# The kernel interfaces the modules and cases need; an image's init usually mounted them.
mounted() {
	grep -q " $1 " /proc/mounts 2>/dev/null
}
[ -r /proc/self/stat ] || mount -t proc proc /proc || note "cannot mount /proc"
mounted /sys || mount -t sysfs sysfs /sys || note "cannot mount /sys"
[ -c /dev/null ] || mount -t devtmpfs devtmpfs /dev || note "cannot mount /dev"

RELEASE=$(uname -r)
# Where compressed modules are unpacked for insmod (removed at the end).
UNPACKED=${TMPDIR:-/tmp}/vsockcheck-modules.$$

# module_present NAME: loaded, or built into the kernel.
module_present() {
	[ -d "/sys/module/$1" ] && return 0
	[ -r "/lib/modules/$RELEASE/modules.builtin" ] &&
		sed 's|.*/||; s|\.ko.*||; s|-|_|g' "/lib/modules/$RELEASE/modules.builtin" | grep -qx "$1"
}

# module_file NAME: the first NAME.ko (or .ko.xz, .ko.gz, .ko.zst; '-' for '_' too) below MODULE_DIR.
module_file() {
	[ -n "$MODULE_DIR" ] || return 1
	dashed=$(echo "$1" | tr _ -)
	find "$MODULE_DIR" \( -name "$1.ko" -o -name "$1.ko.*" -o -name "$dashed.ko" -o -name "$dashed.ko.*" \) \
		2>/dev/null | head -n 1 | grep .
}

# plain_module FILE: FILE as an uncompressed .ko path (insmod may not read compressed ones).
plain_module() {
	case "$1" in
	*.ko) echo "$1"; return 0 ;;
	*.ko.xz) unpack="xz -dc" ;;
	*.ko.gz) unpack="gzip -dc" ;;
	*.ko.zst) unpack="zstd -dc" ;;
	*) return 1 ;;
	esac
	mkdir -p "$UNPACKED" || return 1
	plain=$UNPACKED/$(basename "$1" | sed 's/\.ko\..*$/.ko/')
	$unpack "$1" >"$plain" 2>/dev/null && echo "$plain"
}

# module_depends FILE: the modules a .ko needs, from the depends= string of its .modinfo (busybox
# modinfo reads only modules.dep's modules, not a file).
module_depends() {
	tr '\000' '\n' <"$1" | sed -n 's/^depends=//p' | head -n 1 | tr , ' '
}

# insmod_from_dir NAME: insmod NAME.ko found below MODULE_DIR, after the modules its .modinfo
# says it depends on (modprobe does this from modules.dep, which a bare directory lacks).
insmod_from_dir() {
	file=$(module_file "$1") || {
		message="$probe_message; no $1.ko${MODULE_DIR:+ below $MODULE_DIR} (see --module-dir)"
		return 1
	}
	file=$(plain_module "$file") || { message="cannot decompress $file"; return 1; }
	# The list is expanded once, before load (which comes back here) changes these variables.
	for dep in $(module_depends "$file"); do
		load "$dep" || { message="it needs module $dep, which did not load"; return 1; }
	done
	file=$(plain_module "$(module_file "$1")") && message=$(insmod "$file" 2>&1)
}

# load NAME: loads a module unless the kernel has it; a failure is noted, not fatal (the cases
# that need the module say what is missing).
load() {
	module_present "$1" && return 0
	[ "$LOAD_MODULES" = yes ] || { note "module $1 is not loaded (--no-modules)"; return 1; }
	probe_message="no modprobe"
	if command -v modprobe >/dev/null 2>&1; then
		probe_message=$(modprobe "$1" 2>&1) && module_present "$1" && return 0
		probe_message="modprobe: ${probe_message:-it did not load}"
	fi
	insmod_from_dir "$1" && return 0
	message=$(echo "$message" | tr '\n' ' ')
	note "cannot load module $1: $message"
	echo "$1.ko: $message" >>"$INSMOD_FAILED" 2>/dev/null
	return 1
}

# virtio_vsock_device: a virtio device with device ID 0x0013 (vsock) is on the virtio bus.
virtio_vsock_device() {
	for dev in /sys/bus/virtio/devices/*; do
		[ -r "$dev/device" ] && [ "$(cat "$dev/device")" = 0x0013 ] && return 0
	done
	return 1
}

load_modules() {
	mkdir -p "${INSMOD_FAILED%/*}" 2>/dev/null && : >"$INSMOD_FAILED" 2>/dev/null
	for module in $VSC_COMMON_MODULES; do
		load "$module"
	done
	# Only one guest-to-host transport may register: hv_sock on Hyper-V's VMBus, else the virtio
	# one, with or without a device (as in the project's own guests: the multi-transport cases
	# want a guest-to-host transport beside loopback).
	if [ -d /sys/bus/vmbus ]; then
		load "$VSC_HYPERV_MODULE"
	else
		load "$VSC_VIRTIO_MODULE"
	fi
}

LINKED=
trap cleanup EXIT
trap 'exit 130' INT TERM
load_modules
TRANSPORTS=
module_present vsock_loopback && TRANSPORTS="$TRANSPORTS loopback"
if module_present "$VSC_VIRTIO_MODULE"; then
	virtio_vsock_device && TRANSPORTS="$TRANSPORTS virtio" || TRANSPORTS="$TRANSPORTS virtio(no-device)"
fi
module_present "$VSC_HYPERV_MODULE" && TRANSPORTS="$TRANSPORTS hv_sock"
note "kernel $RELEASE, bundle $VSC_VERSION, transports:${TRANSPORTS:- none}"

# Put the tools where the cases look; remember which links are ours, to take them away again.
link_tools() {
	mkdir -p "$TOOL_DIR" 2>/dev/null
	for tool in $VSC_TOOLS; do
		[ -e "$TOOL_DIR/$tool" ] && continue
		if ln -s "$HERE/bin/$tool" "$TOOL_DIR/$tool" 2>/dev/null; then
			LINKED="$LINKED $TOOL_DIR/$tool"
		else
			note "cannot link $TOOL_DIR/$tool (read-only?): the cases that run it will SKIP"
		fi
	done
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	for link in $LINKED; do
		rm -f "$link"
	done
	rm -rf "$UNPACKED"
}

# with_notes: copies KTAP from stdin, with NOTES after its version line (a KTAP document starts
# with that line); prints a document of its own when the program printed none.
with_notes() {
	if IFS= read -r first; then
		printf '%s\n%s' "$first" "$NOTES"
		cat
	else
		printf 'KTAP version 1\n%s1..0\n' "$NOTES"
	fi
}

# run_ktap PROGRAM ARGS...: PROGRAM's KTAP through with_notes; its exit status.
run_ktap() {
	status_file=$(mktemp "${TMPDIR:-/tmp}/vsockcheck-guest.XXXXXX") || { echo "vsockcheck-guest: mktemp failed" >&2; return 2; }
	{ "$@" </dev/null; echo $? >"$status_file"; } | with_notes
	status=$(cat "$status_file")
	rm -f "$status_file"
	return "${status:-2}"
}

cant_run() {
	printf 'KTAP version 1\n%s1..0 # SKIP %s\n' "$NOTES" "$1"
	echo "vsockcheck-guest: $1" >&2
	exit 2
}

case "$ACTION" in
suite)
	module_present vsock_loopback ||
		cant_run "no vsock_loopback in this kernel (CONFIG_VSOCKETS_LOOPBACK): the suite's two ends meet over it"
	link_tools
	set -f  # the globs are the test program's, not the shell's
	# shellcheck disable=SC2086
	run_ktap "$TEST_PROGRAM" $VSC_LOOPBACK_ARGS ${PICK:+--pick "$PICK"} ${SKIP:+--skip "$SKIP"}
	status=$?
	;;
fixtures)
	load vhost_vsock || cant_run "no vhost_vsock (CONFIG_VHOST_VSOCK): the fixtures drive /dev/vhost-vsock"
	# The engine takes the files by their path from its working directory: every fixture sits one
	# directory below fixtures/ (schema.json and README.md at its top are none).
	cd "$HERE/fixtures" || cant_run "no directory $HERE/fixtures"
	set -- */*.json
	[ -e "$1" ] || cant_run "no fixtures in $HERE/fixtures"
	run_ktap "$HERE/bin/$VSC_FIXTURE_ENGINE" --agent "$HERE/bin/$VSC_FIXTURE_AGENT" \
		--prefix "$VSC_FIXTURE_PREFIX" "$@"
	status=$?
	;;
esac
# The programs exit 0 when nothing failed and 1 when something did; anything else means they
# could not run (bad usage, a crash).
case "$status" in
0|1) exit "$status" ;;
*) echo "vsockcheck-guest: $ACTION ended with status $status" >&2; exit 2 ;;
esac
