# guest_lib.sh: shell functions every guest image carries (/usr/lib/vsockcheck/guest_lib.sh),
# sourced by guest_init.sh and by the scripts a guest runs (MODE script): one way to find a
# virtio-serial port by name.

# find_port NAME: prints the /dev node of the port named NAME, or fails. A port's sysfs entry
# and /dev node appear asynchronously once virtio_console has probed the device.
find_port() {
	for dir in /sys/class/virtio-ports/*; do
		[ -r "$dir/name" ] || continue
		if [ "$(cat "$dir/name")" = "$1" ] && [ -c "/dev/${dir##*/}" ]; then
			echo "/dev/${dir##*/}"
			return 0
		fi
	done
	return 1
}

# wait_port NAME: prints the port's /dev node, or fails after about 5 s.
wait_port() {
	tries=0
	until find_port "$1"; do
		tries=$((tries + 1))
		[ "$tries" -gt 100 ] && return 1
		sleep 0.05
	done
}
