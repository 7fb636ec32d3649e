"""vsockcheck runner: boots kernels under QEMU and collects the KTAP the guest test programs print."""
