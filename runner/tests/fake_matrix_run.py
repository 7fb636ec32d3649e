#!/usr/bin/python3
"""A stand-in for `vsockcheck run` in the matrix tests: no QEMU. It logs its start and end to
$FAKE_RUN_LOG, holds a temporary directory under $FAKE_RUN_TMP for $FAKE_RUN_SLEEP seconds, then
writes a results.json (addr_bind's status from $FAKE_RUN_ADDR_BIND, default pass). A kernel path naming "broken" exits 2 with an error line, "crash" aborts.
SIGTERM removes the temporary directory (after a short clean-up delay) and exits 130, as the real
one does."""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.matrix_inputs import case, results_json  # noqa: E402

CLEANUP_S = 0.5


def log(line: str) -> None:
    with open(os.environ["FAKE_RUN_LOG"], "a") as f:
        f.write(f"{time.monotonic():.3f} {os.getpid()} {line}\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("--kernel")
    parser.add_argument("--topology")
    parser.add_argument("--results", type=Path)
    args, _ = parser.parse_known_args()
    name = f"{Path(args.kernel).name}-{args.topology}"
    workdir = tempfile.mkdtemp(prefix="fake-run-", dir=os.environ["FAKE_RUN_TMP"])

    def stopped(signum, frame):
        time.sleep(CLEANUP_S)  # the real run stops QEMU: not instantaneous
        shutil.rmtree(workdir)
        log(f"stopped {name}")
        sys.exit(130)

    signal.signal(signal.SIGTERM, stopped)
    log(f"start {name}")
    time.sleep(float(os.environ.get("FAKE_RUN_SLEEP", "0")))
    shutil.rmtree(workdir)
    log(f"end {name}")
    if "broken" in args.kernel:
        print("vsockcheck: starting", file=sys.stderr)
        print("vsockcheck: error: guest never booted: no output in 60 s", file=sys.stderr)
        return 2
    if "crash" in args.kernel:
        os.abort()
    release = Path(args.kernel).name.removeprefix("vmlinuz-")
    cases = [case("addr_bind", os.environ.get("FAKE_RUN_ADDR_BIND", "pass")),
             case("credit_update", "fail", "", ["[server] no credit"])]
    (args.results / "results.json").write_text(json.dumps(results_json(release, release, args.topology, cases)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
