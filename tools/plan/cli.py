"""`python -m tools.plan`: the whole program for one stack, offline (design 12).

Loads `stacks/Pulumi.<stack>.yaml`, runs the project's `__main__.py` under the Pulumi SDK's
mock engine, evaluates the policy pack on what it registered, prints a summary and writes
`plan.json`, `resources.json`, `policy.json`, `summary.md` (the pull-request comment) and
`diff.json` (what changes against `--compare-to`, see `tools.plan.diff`). Nothing is sent to
any cloud. A program that exports no `placement` (one composing the components by hand) gets a
`null` plan.json and diff.json and a summary that says so.

Exit codes: 0 ok, 1 a mandatory policy violation, 2 bad input (stack config, infeasible
placement, missing stack file).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from components.settings import project_stack_config, read_project, stack_names
from optimizer.errors import InputError, print_problems

from . import diff, policy, summary
from .engine import Capture, run_program

REPO_ROOT = Path(__file__).resolve().parents[2]
BANNER = "tricloud offline plan: Pulumi mock engine, no credentials used, nothing sent to any cloud"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.splitlines()[0])
    p.add_argument(
        "--stack", default="dev", help="stack name: stacks/Pulumi.<stack>.yaml (default dev)"
    )
    p.add_argument(
        "--project",
        type=Path,
        default=REPO_ROOT,
        help="Pulumi project folder holding Pulumi.yaml and __main__.py (default: this repo)",
    )
    p.add_argument("--out", type=Path, default=None, help="output folder (default out/<stack>)")
    p.add_argument(
        "--compare-to",
        type=Path,
        default=None,
        help="folder of an earlier offline plan (its plan.json); summary.md and diff.json then "
        "show what changes (a folder without plan.json: a new stack)",
    )
    p.add_argument(
        "--write-lock",
        action="store_true",
        help="write the placement to stacks/placement.<stack>.json (the lock the next run keeps)",
    )
    return p


def _problems(heading: str, lines: list[str]) -> int:
    print_problems(heading, lines)
    return 2


def dumps(doc: Any) -> str:
    return json.dumps(doc, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    print(BANNER)
    project = args.project.resolve()
    if not (project / "Pulumi.yaml").is_file():
        return _problems("no Pulumi project", [f"{project}: no Pulumi.yaml here"])
    _, stacks = read_project(project)
    stack_file = stacks / f"Pulumi.{args.stack}.yaml"
    known = stack_names(project)
    if args.stack not in known:
        return _problems(
            "unknown stack",
            [
                f"--stack: {args.stack!r} has no {stack_file.relative_to(project)}; known: {', '.join(known)}"
            ],
        )
    started = time.perf_counter()
    try:
        capture = capture_for(args.stack, project)
    except InputError as e:
        return _problems(e.heading, e.lines())
    except SystemExit as e:
        # The program reported bad input itself (one line per problem on stderr).
        return int(e.code) if isinstance(e.code, int) else 2
    seconds = time.perf_counter() - started

    verdicts = policy.evaluate(capture, args.stack, project)
    out_dir = args.out or project / "out" / args.stack
    out_dir.mkdir(parents=True, exist_ok=True)
    placement = capture.outputs.get("placement")
    (out_dir / "plan.json").write_text(dumps(placement))
    (out_dir / "resources.json").write_text(dumps([r.to_json() for r in capture.resources]))
    (out_dir / "policy.json").write_text(dumps([v.to_json() for v in verdicts.items]))
    before = summary.load_previous(args.compare_to) if args.compare_to else None
    doc = summary.compare(args.stack, capture, verdicts, before)
    (out_dir / "diff.json").write_text(diff.dumps(doc))
    (out_dir / "summary.md").write_text(summary.render(args.stack, capture, verdicts, before, doc))
    print(summary.console(args.stack, capture, verdicts, seconds))
    if args.compare_to:
        print(summary.console_changes(doc, _shown(args.compare_to, project)))
    if args.write_lock and placement is None:
        return _problems(
            "nothing to lock", ["--write-lock: the program exports no placement (no optimizer)"]
        )
    if args.write_lock:
        lock = stacks / f"placement.{args.stack}.json"
        lock.write_text(dumps(placement))
        print(f"lock written: {lock.relative_to(project)}")
    print(f"wrote {', '.join(n for n in summary.FILES)} to {_shown(out_dir, project)}")
    return 1 if verdicts.mandatory_failures() else 0


def _shown(path: Path, project: Path) -> str:
    try:
        return str(path.resolve().relative_to(project))
    except ValueError:
        return str(path)


def capture_for(stack: str, project: Path = REPO_ROOT) -> Capture:
    """Run the project's program for a stack under the mock engine and return the capture.

    Raises `InputError` for an unreadable stack file; the program's own bad-input exit is a
    `SystemExit`.
    """
    config = project_stack_config(project, stack)
    return run_program(
        project / "__main__.py",
        project=read_project(project)[0],
        stack=stack,
        config=config.values,
        secret_keys=sorted(config.secret_keys),
    )
