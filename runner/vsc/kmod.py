"""Build vsockcheck's out-of-tree test modules (Kbuild, testcases/kmod/) for a kernel, in a cached copy under build/kmod/."""

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from vsc import cache_entry, kernelspec, kmod_headers, modules
from vsc.errors import UserError
from vsc.paths import BUILD_DIR, PROJECT_ROOT

DEFAULT_OUT_DIR = BUILD_DIR / "kmod"
SOURCE_DIR = "testcases/kmod"
BUILT = "built"        # in a finished copy: the modules it made, one path a line, relative to it
LOG = "build.log"
ERROR_LINES = 3
# Kbuild switches given on every build:
# - the kernel's own compiler is usually not here: Debian's .kernelvariables names gcc-10 (5.10), gcc-14
#   (6.12) or gcc-16 (7.2), none of which bookworm has; modversions CRCs come from Module.symvers, so
#   this machine's gcc builds modules that load. 6.12+ configs then add -fmin-function-alignment, which
#   only gcc 14 knows; without CONFIG_CC_HAS_MIN_FUNCTION_ALIGNMENT Kbuild uses -falign-functions
#   (the same 16-byte alignment for all but cold functions);
# - headers that ship vmlinux (6.12+) have Kbuild generate module BTF with pahole, which the test
#   modules do not need and this machine may lack.
KBUILD_OVERRIDES = ("CONFIG_CC_HAS_MIN_FUNCTION_ALIGNMENT=", "CONFIG_DEBUG_INFO_BTF_MODULES=")
JOBS = 2


def build_modules(kernel, out_dir: Path = DEFAULT_OUT_DIR) -> list[Path]:
    """The test modules (.ko) built for `kernel` (a kernels.Kernel) in out_dir/<release>-<hash>/;
    the same sources against the same kernel tree are built once."""
    tree = build_tree(kernel)
    check_tree(kernel, tree)
    cc = compiler(tree)
    sources = source_files()
    copy = Path(out_dir) / cache_key(kernel.release, sources, tree, cc)
    with cache_entry.locked(copy.with_name(copy.name + ".lock")):
        built = _cached(copy)
        if built is None:
            built = _build(kernel, tree, cc, sources, copy)
    return built


def source_files(project: Path = PROJECT_ROOT) -> list[Path]:
    """Kbuild and the module sources, relative to the project, in a fixed order."""
    kmod_dir = project / SOURCE_DIR
    files = [p for p in sorted(kmod_dir.rglob("*")) if p.is_file() and (p.suffix in (".c", ".h") or p.name == "Kbuild")]
    if not (project / "Kbuild").is_file() or not files:
        raise UserError(f"{project}: no Kbuild or no module sources in {SOURCE_DIR}/")
    return [Path("Kbuild"), *(p.relative_to(project) for p in files)]


def cache_key(release: str, sources: list[Path], tree: Path, cc: str, project: Path = PROJECT_ROOT) -> str:
    """<release>-<hash> over the sources, the compiler and switches, and the kernel's .config and
    Module.symvers (what a module build reads that may change without the release changing)."""
    digest = hashlib.sha256(b"vsockcheck-kmod-1\n")
    for part in (cc, *KBUILD_OVERRIDES):
        digest.update(part.encode() + b"\0")
    for rel in sources:
        data = (project / rel).read_bytes()
        digest.update(b"%s\0%d\0" % (str(rel).encode(), len(data)) + data)
    for name in (".config", "Module.symvers"):
        data = (tree / name).read_bytes()
        digest.update(b"%s\0%d\0" % (name.encode(), len(data)) + data)
    return f"{release}-{digest.hexdigest()[:16]}"


def build_tree(kernel) -> Path:
    """Where `make -C` goes: a Debian kernel's linux-headers tree, a local kernel's build tree."""
    suite = debian_suite(kernel)
    if suite is not None:
        return kmod_headers.debian_headers(suite, kernel.release, kernel.version)
    _check_modules_enabled(kernel, kernel.config)
    spec = Path(kernel.name)
    candidates = [spec / "build", spec] if spec.is_dir() else [spec.parent / "build"]
    if kernel.modules_dir is not None:
        candidates.append(kernel.modules_dir / "build")
    for candidate in candidates:
        if (candidate / "Makefile").is_file() and (candidate / ".config").is_file():
            return candidate.resolve()
    raise UserError(f"kernel {kernel.name}: no kernel build tree to build the test modules against "
                    f"(looked for a Makefile and .config in {', '.join(str(c) for c in candidates)}): "
                    "use the output of 'vsockcheck build-kernel' (its build link) or the build tree itself")


def debian_suite(kernel) -> str | None:
    """The suite of a kernel resolved from debian:<suite> (its name starts with the spec), else None."""
    spec = kernel.name.split(" ", 1)[0]
    if not spec.startswith("debian:"):
        return None
    parsed = kernelspec.parse(spec)
    return parsed.suite if isinstance(parsed, kernelspec.DebianSpec) else None


def check_tree(kernel, tree: Path) -> None:
    """The tree must be of this kernel, with modules and vsock enabled and Module.symvers there."""
    config_path = tree / ".config"
    _check_modules_enabled(kernel, config_path)
    config = modules.parse_config(config_path.read_text())
    if config.get("CONFIG_VSOCKETS") not in ("y", "m"):
        raise UserError(f"kernel {kernel.name}: {config_path} has no CONFIG_VSOCKETS: the test modules need vsock")
    release = tree_release(tree)
    if release is not None and release != kernel.release:
        raise UserError(f"kernel {kernel.name}: build tree {tree} is of release {release}, "
                        f"not {kernel.release}: modules built there would not load")
    if not (tree / "Module.symvers").is_file():
        raise UserError(f"kernel {kernel.name}: build tree {tree} has no Module.symvers: "
                        "build the kernel with its modules ('make' or 'make modules') first")


def tree_release(tree: Path) -> str | None:
    """UTS_RELEASE of a build tree: what the modules' vermagic will say (Debian's include/config/kernel.release
    holds the upstream version instead; its Makefile overrides KERNELRELEASE)."""
    header = tree / "include/generated/utsrelease.h"
    m = re.search(r'#define UTS_RELEASE "([^"]+)"', header.read_text()) if header.is_file() else None
    return m.group(1) if m else None


def _check_modules_enabled(kernel, config_path: Path | None) -> None:
    if config_path is None or not config_path.is_file():
        return
    if modules.parse_config(config_path.read_text()).get("CONFIG_MODULES") != "y":
        raise UserError(f"kernel {kernel.name} is built without CONFIG_MODULES ({config_path}): "
                        "it cannot load test modules; use a kernel with CONFIG_MODULES=y")


def compiler(tree: Path) -> str:
    """The compiler a Debian headers tree names (.kernelvariables: gcc-N) if this machine has it,
    else this machine's gcc (see KBUILD_OVERRIDES for why that works)."""
    variables = tree / ".kernelvariables"
    if variables.is_file():
        m = re.search(r"\bgcc-\d+\b", variables.read_text())
        if m and shutil.which(m.group(0)):
            return m.group(0)
    return "gcc"


def make_argv(tree: Path, copy: Path, cc: str) -> list[str]:
    return ["make", "-C", str(tree), f"M={copy}", f"CC={cc}", *KBUILD_OVERRIDES, f"-j{JOBS}", "modules"]


def error_excerpt(log: str, count: int = ERROR_LINES) -> list[str]:
    """The first lines that say what failed (compiler errors, modpost's ERROR, a missing tool), not
    make's own '*** [...] Error N' echoes of them; else the last lines."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines
              if re.search(r"\berror\b|\bERROR\b|not found|No such file|No rule to make", line)
              and not re.match(r"make(\[\d+\])?: \*\*\*", line)]
    return (errors or lines[-count:])[:count]


def _cached(copy: Path) -> list[Path] | None:
    listing = copy / BUILT
    if not listing.is_file():
        return None
    built = [copy / line for line in listing.read_text().split()]
    return built if built and all(p.is_file() for p in built) else None


def _build(kernel, tree: Path, cc: str, sources: list[Path], copy: Path) -> list[Path]:
    shutil.rmtree(copy, ignore_errors=True)  # a copy that never finished
    for rel in sources:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT_ROOT / rel, copy / rel)
    argv = make_argv(tree, copy, cc)
    log = copy / LOG
    try:
        with open(log, "w") as out:
            out.write("$ " + " ".join(argv) + "\n")
            out.flush()
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                                  env=dict(os.environ, LC_ALL="C"), stdin=subprocess.DEVNULL)
    except OSError as e:
        raise UserError(f"kernel {kernel.name}: cannot run make to build the test modules: {e.strerror}") from None
    if proc.returncode != 0:
        excerpt = " | ".join(error_excerpt(log.read_text(errors="replace")))
        raise UserError(f"kernel {kernel.name}: building the test modules failed: {excerpt} (log: {log})")
    built = _modules_order(copy)
    missing = [str(p) for p in built if not p.is_file()]
    if not built or missing:
        raise UserError(f"kernel {kernel.name}: make did not leave the modules its modules.order names in "
                        f"{copy} ({', '.join(missing) or 'none listed'}; log: {log})")
    (copy / BUILT).write_text("".join(f"{p.relative_to(copy)}\n" for p in built))
    return built


def _modules_order(copy: Path) -> list[Path]:
    """modules.order as .ko paths (5.10 and 6.1 list path.ko, 6.12+ path.o; absolute or relative to M)."""
    order = copy / "modules.order"
    if not order.is_file():
        return []
    built = []
    for line in order.read_text().split():
        path = Path(line) if Path(line).is_absolute() else copy / line
        built.append(path.with_suffix(".ko"))
    return built
