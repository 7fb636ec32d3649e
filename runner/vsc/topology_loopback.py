"""The loopback topology: one guest runs both roles, which meet through vsock_loopback (CID 1)."""

NAME = "loopback"
DESCRIPTION = "one guest; server and client in it, over vsock_loopback (CID 1)"

# virtio_console carries the KTAP port; the virtio vsock transport is loaded (without a device)
# so the cases see the transports a real guest has.
MODULES = ("virtio_pci", "virtio_console", "vsock", "vsock_loopback",
           "vmw_vsock_virtio_transport", "vsock_diag")


def test_args() -> list[str]:
    """The CIDs the cases need, as arguments of the test program."""
    return ["--peer-cid", "1", "--local-cid", "1"]
