"""vsockcheck bisect (and the hidden bisect-step that git bisect run calls): the command line."""

import argparse
import sys
from pathlib import Path

from vsc import bisect, bisect_step, catalogue, kbuild, topology_loopback
from vsc.errors import UserError
from vsc.topology import TEST_PROGRAM


def add_commands(commands, topologies: dict) -> None:
    cmd = commands.add_parser(
        "bisect", help="find the commit of a kernel git tree that makes one case fail (git bisect run)",
        description="Checks that the case passes at --good and fails at --bad, then lets git bisect run "
                    "build each commit it picks (build-kernel, incremental), boot it and run the case: "
                    "pass/xfail is good, fail/timeout bad, skip/error/boot or build failure skips the "
                    "commit. Prints the first bad commit and the case's log. The tree goes back to where "
                    "it was (git bisect reset). Exits 0 found, 1 no single commit (skips), 2 bad input, "
                    "130 interrupted.")
    cmd.add_argument("--good", required=True, metavar="REV", help="a commit where the case passes")
    cmd.add_argument("--bad", required=True, metavar="REV", help="a later commit where it fails")
    _add_case_options(cmd, topologies)
    cmd.add_argument("src", type=Path, metavar="SRC", help="the kernel source: the top of a git work tree")
    cmd.set_defaults(func=_cmd_bisect)
    # The step git bisect run calls; not for users, so it has no help line.
    step_cmd = commands.add_parser("bisect-step")
    _add_case_options(step_cmd, topologies)
    step_cmd.add_argument("src", type=Path, metavar="SRC")
    step_cmd.set_defaults(func=_cmd_bisect_step)


def _add_case_options(cmd: argparse.ArgumentParser, topologies: dict) -> None:
    cmd.add_argument("--test", required=True, metavar="NAME", help="the one case to run (its exact name)")
    cmd.add_argument("--topology", default=topology_loopback.NAME, choices=list(topologies),
                     help="where the case runs (default loopback)")
    cmd.add_argument("--config", action="append", default=[], metavar="FRAGMENT",
                     help="a kconfig fragment, by name (kconfig/NAME.config) or path; repeatable "
                          "(default: " + " ".join(kbuild.DEFAULT_FRAGMENTS) + ")")
    cmd.add_argument("--results", type=Path, metavar="DIR",
                     help="where each step's results go, one directory per commit "
                          "(default vsockcheck-results/bisect-<test>)")


def _cmd_bisect(args) -> int:
    if args.test not in {c.name for c in catalogue.read(TEST_PROGRAM)}:
        raise UserError(f"--test {args.test}: no case of that name (vsockcheck list shows them)")
    # Checked here, and absolute: the step runs in SRC, not in the caller's directory.
    fragments = [str(kbuild.fragment_path(f).resolve()) for f in args.config or kbuild.DEFAULT_FRAGMENTS]
    results_dir = (args.results or Path("vsockcheck-results") / f"bisect-{args.test}").resolve()
    step = [sys.executable, str(bisect_step.VSOCKCHECK), "bisect-step", "--test", args.test,
            "--topology", args.topology, "--results", str(results_dir)]
    step += [arg for fragment in fragments for arg in ("--config", fragment)]
    return bisect.run(args.src, args.good, args.bad, args.test, results_dir, step + [str(args.src.resolve())])


def _cmd_bisect_step(args) -> int:
    return bisect_step.main(args.src, args.test, args.topology, args.config or list(kbuild.DEFAULT_FRAGMENTS),
                            args.results or Path("vsockcheck-results") / f"bisect-{args.test}")
