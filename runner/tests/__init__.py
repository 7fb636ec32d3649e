"""Unit tests for the vsockcheck runner: no network, no QEMU, no AF_VSOCK."""
