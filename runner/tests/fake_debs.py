"""Test helpers for code that downloads Debian packages: real .deb files built with dpkg-deb (for
the faked apt to hand out), and a private cache directory per test."""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock


def build_deb(work: Path, name: str, files: dict[str, bytes | tuple[bytes, int]], version: str,
              arch: str = "amd64") -> Path:
    """A .deb of `name` holding files (path -> bytes, or (bytes, mode))."""
    root = work / name
    for relpath, content in files.items():
        data, mode = content if isinstance(content, tuple) else (content, None)
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)
        if mode is not None:
            (root / relpath).chmod(mode)
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "DEBIAN/control").write_text(f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\n"
                                         "Maintainer: Test <test@example.org>\nDescription: test package\n")
    deb = work / f"{name}_{version}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


def temp_cache(test: unittest.TestCase) -> Path:
    """A temporary directory for the test, removed after it, whose cache/ is $XDG_CACHE_HOME meanwhile."""
    tmp = tempfile.TemporaryDirectory()
    test.addCleanup(tmp.cleanup)
    patcher = mock.patch.dict(os.environ, {"XDG_CACHE_HOME": str(Path(tmp.name) / "cache")})
    patcher.start()
    test.addCleanup(patcher.stop)
    return Path(tmp.name)
