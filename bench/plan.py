"""Offline plan benchmark: `make bench-plan` (or `python -m bench.plan`) prints a table.

Per shipped stack: wall time (median and range of N runs) and peak RSS of
`python -m tools.plan --stack NAME`, each run in a fresh process as a user runs it, plus the
resource count. Timings are for this machine; nothing here asserts on them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from optimizer.cli import table

ROOT = Path(__file__).resolve().parents[1]
# A child that runs one offline plan and reports its own wall time and its child's peak RSS,
# so every run is measured alone (RUSAGE_CHILDREN is a maximum over all children).
_PROBE = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def run_once(stack: str, out: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one offline plan of `stack`."""
    command = [sys.executable, "-m", "tools.plan", "--stack", stack, "--out", str(out)]
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, rss_kb, code = probe.stdout.split()
    return float(seconds), int(rss_kb) / 1024, int(code)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.plan", description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="runs per stack (default 3)")
    p.add_argument(
        "--stack",
        action="append",
        help="stack to measure (repeatable; default every stacks/Pulumi.*.yaml)",
    )
    args = p.parse_args(argv)
    stacks = args.stack or sorted(
        f.name[len("Pulumi.") : -len(".yaml")] for f in (ROOT / "stacks").glob("Pulumi.*.yaml")
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for stack in stacks:
            out = Path(tmp) / stack
            runs = [run_once(stack, out) for _ in range(args.repeat)]
            walls = [r[0] for r in runs]
            resources = len(json.loads((out / "resources.json").read_text()))
            rows.append(
                [
                    stack,
                    str(resources),
                    f"{statistics.median(walls):.2f}",
                    f"{min(walls):.2f}-{max(walls):.2f}",
                    f"{max(r[1] for r in runs):.0f}",
                    ",".join(sorted({str(r[2]) for r in runs})),
                ]
            )
    print(
        table(
            ["STACK", "RESOURCES", "MEDIAN S", "RANGE S", "PEAK RSS MB", "EXIT"],
            rows,
            right={1, 2, 3, 4},
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
