"""A stand-in kernel source tree for build-kernel's tests: its Makefile and merge_config.sh act the
way Kbuild's do on the files build-kernel reads, in a few shell lines, without compiling anything.

Fragment options steer it: CONFIG_FAIL=y makes the image fail with a compiler-style error,
CONFIG_SLOW=y makes it wait on a child process (for interrupt tests), and olddefconfig drops
CONFIG_VSOCKMON unless CONFIG_VHOST_VSOCK=y (a Kconfig dependency). Every step it runs is
appended to O/calls, so a test can see what was (re)built."""

from pathlib import Path

from tests import fake_kernel

RELEASE = "6.99.0-fake"

MAKEFILE = """\
O ?= .
R := {release}
CFG := $(O)/.config
IMAGE := $(O)/arch/x86/boot/bzImage
.PHONY: tinyconfig olddefconfig bzImage modules modules_install

tinyconfig:
\tprintf 'CONFIG_64BIT=y\\nCONFIG_X86=y\\n' > $(CFG)
\techo tinyconfig CC=$(CC) >> $(O)/calls

olddefconfig:
\tgrep -qx CONFIG_VHOST_VSOCK=y $(CFG) || sed -i '/^CONFIG_VSOCKMON=/d' $(CFG)
\techo olddefconfig >> $(O)/calls

bzImage: $(IMAGE)

$(IMAGE): $(CFG) init/main.c
\techo compile >> $(O)/calls
\tif grep -qx CONFIG_FAIL=y $(CFG); then echo 'init/main.c:3:1: error: planted failure'; \\
\t\techo 'make[2]: *** [init/main.o] Error 1'; exit 2; fi
\tif grep -qx CONFIG_SLOW=y $(CFG); then sleep 60 & echo $$! > $(O)/sleeper.pid; wait; fi
\tmkdir -p $(O)/arch/x86/boot $(O)/include/config
\techo $(R) > $(O)/include/config/kernel.release
\tcat init/main.c > $@

modules:
\techo modules >> $(O)/calls

modules_install:
\tmkdir -p $(INSTALL_MOD_PATH)/lib/modules/$(R)/kernel
\tcp fake-modules/*.ko $(INSTALL_MOD_PATH)/lib/modules/$(R)/kernel/
\techo modules_install >> $(O)/calls
"""

# -m -O DIR BASE FRAGMENT...: the fragments appended to BASE (a later line wins when read).
MERGE_CONFIG = """\
#!/bin/sh
[ "$1" = -m ] || exit 9
[ "$2" = -O ] || exit 9
base=$4
shift 4
cat "$@" >> "$base"
echo merge >> "$(dirname "$base")/calls"
"""

KCONFIG = """\
config VSOCKMON
\ttristate "Virtual vsock monitoring device"
\tdepends on VHOST_VSOCK
\thelp
\t  depends on nothing said in help text

config VHOST_VSOCK
\ttristate "vhost virtio-vsock driver"
\tdepends on VSOCKETS && \\
\t\tEVENTFD
"""


def make_tree(root: Path) -> Path:
    """A fake kernel source tree at root; returns root."""
    for relpath, text in {"Makefile": MAKEFILE.format(release=RELEASE), "Kconfig": KCONFIG,
                          "scripts/kconfig/merge_config.sh": MERGE_CONFIG,
                          "net/vmw_vsock/Kconfig": "", "init/main.c": "int main;\n"}.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(text)
    (root / "fake-modules").mkdir()
    (root / "fake-modules/hv_sock.ko").write_bytes(fake_kernel.elf_module("hv_sock", ["hv_vmbus"]))
    (root / "fake-modules/hv_vmbus.ko").write_bytes(fake_kernel.elf_module("hv_vmbus", []))
    return root


def calls(obj: Path) -> list[str]:
    path = obj / "calls"
    return path.read_text().split("\n")[:-1] if path.is_file() else []
