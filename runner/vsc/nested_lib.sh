# nested_lib.sh: shell functions an L1 guest uses to run its L2 guests, sourced by nested_l1.sh
# (vsockcheck run) and by vsockcheck exec's L1 script. Expects CONF (where NAME.argv files are)
# and PORTS (where the port links go).

# link_ports: stable names for this guest's virtio-serial ports (no udev here), which the L2
# command lines use: $PORTS/<port name> -> /dev/vportNpM.
link_ports() {
	mkdir -p "$PORTS"
	for dir in /sys/class/virtio-ports/*; do
		[ -r "$dir/name" ] && ln -sf "/dev/${dir##*/}" "$PORTS/$(cat "$dir/name")"
	done
}

# start_l2 NAME LOG: QEMU with the arguments in $CONF/NAME.argv (one per line), in the background
# ($! is its pid), its own messages in LOG.
start_l2() {
	name=$1
	log=$2
	set --
	while IFS= read -r arg; do
		set -- "$@" "$arg"
	done <"$CONF/$name.argv"
	"$@" </dev/null >"$log" 2>&1 &
}

# alive PID: the process runs (an exited child stays a zombie until waited for).
alive() {
	state=
	[ -r "/proc/$1/stat" ] && read -r _ _ state _ <"/proc/$1/stat"
	[ -n "$state" ] && [ "$state" != Z ]
}
