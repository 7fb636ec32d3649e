"""vsockcheck exec in the nested topology: L1's guest (QEMU, the L2 kernel and L2a's image in it)
and the lines of L1's script that boot L2a once the server listens; L2a's own script runs the
client. What L2a writes comes back through L1's virtio-serial ports into the results directory:
its status lines (l2a.ktap), its console (l2a-console.log), its QEMU's messages (l2a-qemu.log),
and the client's output (client.log, through L1's port vsockcheck.client)."""

from __future__ import annotations

from pathlib import Path

from vsc import cpio, exec_net, exec_plan, guest_session, initramfs, nested_payload, qemu, topology, topology_nested
from vsc.exec_placement import GuestPlacement, Placement
from vsc.exec_plan import CLIENT, SERVER, ExecRequest

L2A_LABEL = "l2a"
# L1's ports that carry L2a's output to the results directory.
STATUS_PORT = "vsockcheck.l2status"
CONSOLE_PORT = "vsockcheck.l2con"
QEMU_PORT = "vsockcheck.l2qemu"


def l2_files(results_dir: Path) -> guest_session.GuestFiles:
    return guest_session.GuestFiles.named(results_dir, L2A_LABEL)


def l1_port_args(results_dir: Path) -> list[str]:
    """L1's ports for L2a's output, into files of the results directory, emptied now (the runner
    reads them from the start, and QEMU creates them only as it starts)."""
    files = l2_files(results_dir)
    for path in (files.ktap, files.console, files.qemu_log):
        path.write_bytes(b"")
    return (qemu.output_port_args(STATUS_PORT, files.ktap) + qemu.output_port_args(CONSOLE_PORT, files.console)
            + qemu.output_port_args(QEMU_PORT, files.qemu_log))


def _in_l1(port: str) -> str:
    return f"{topology_nested.L1_PORTS}/{port}"


def l2a_argv() -> list[str]:
    """L2a's QEMU in L1: the nested topology's L2a (vhost-vsock-pci, CID 5) with a network card
    (its user network runs in L1's QEMU) and the client's output port, which writes into L1's own."""
    client_port = exec_plan.OUTPUT_PORT.format(role=CLIENT)
    more = exec_net.qemu_args(None) + qemu.output_port_args(client_port, Path(_in_l1(client_port)))
    return topology_nested.l2_argv(
        initrd=topology_nested.L2A_INITRD, ktap=_in_l1(STATUS_PORT), console=_in_l1(CONSOLE_PORT),
        cid=topology_nested.L2A_CID, memory_mib=topology_nested.L2A_MEMORY_MIB, control=False,
        qmp=topology_nested.QMP_SOCKET, more_devices=more)


def l1_client_lines() -> str:
    """L1's way to run the client: boot L2a and wait for its QEMU to exit; its exit status then
    tells the runner that L2a is gone, after L2a's own status lines (the runner judges a client
    without an exit status by L2a's console and QEMU messages)."""
    return (f"CONF=/{topology_nested.CONF_DIR}\n"
            f"PORTS={topology_nested.L1_PORTS}\n"
            f". {nested_payload.SHELL_LIB}\n"
            "link_ports\n"
            f'start_l2 l2a "$PORTS/{QEMU_PORT}"\n'
            "l2a=$!\n"
            'wait "$l2a"\n'
            f'echo "# vsockcheck-exec: {CLIENT} l2-gone=$?"\n')


def l1_spec(request: ExecRequest, placement: Placement, g: GuestPlacement) -> guest_session.GuestSpec:
    """L1: the server, vhost_vsock, this machine's QEMU and the L2 kernel; in its per-run tail
    L2a's image (whose script runs the client at once: L1 boots it only once the server listens),
    L2a's command line and the --files, which both guests get."""
    l2_kernel = request.l2_kernel or request.kernel
    user_files = tuple(initramfs.user_file_entries(list(request.files), guest_session.USER_FILES_DIR))
    client = {CLIENT: (request.commands[CLIENT], placement.envs[CLIENT])}
    l2a = guest_session.GuestSpec(
        kernel=l2_kernel, modules=topology.MODULES + exec_net.MODULES, test_program=topology.TEST_PROGRAM,
        test_args=[], cases=[], mode="script", script=exec_plan.guest_script(client, network=True, await_go=False),
        run_files=user_files)
    run_files = (cpio.file(topology_nested.L2A_INITRD, nested_payload.l2_image(l2a, request.workdir / L2A_LABEL)),
                 topology_nested.argv_file("l2a", l2a_argv()), *user_files)
    server = {SERVER: (request.commands[SERVER], placement.envs[SERVER])}
    return guest_session.GuestSpec(
        kernel=request.kernel, modules=topology_nested.L1_MODULES, test_program=topology.TEST_PROGRAM,
        test_args=[], cases=[], mode="script",
        script=exec_plan.guest_script(server, g.network, client_lines=l1_client_lines()),
        accel=request.accel, boot_timeout_s=request.timeout_s, memory_mib=topology_nested.L1_MEMORY_MIB,
        cpu_model=topology_nested.L1_CPU_MODEL, image_files=tuple(nested_payload.l1_entries(l2_kernel)),
        run_files=run_files)
