"""Where vsockcheck reads its own files and writes its caches."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = PROJECT_ROOT / "build"
GUEST_BIN_DIR = BUILD_DIR / "bin"


def cache_root() -> Path:
    """$XDG_CACHE_HOME/vsockcheck, or ~/.cache/vsockcheck: every download and cached image lives here."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vsockcheck"
