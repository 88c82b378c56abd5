"""`python -m tools.plan`: the whole program for one stack, offline.

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
    against = p.add_mutually_exclusive_group()
    against.add_argument(
        "--compare-to",
        type=Path,
        default=None,
        help="what summary.md and diff.json compare against: the --out folder of an earlier "
        "offline plan (its plan.json) or a plan file; default: the committed lock "
        "stacks/placement.<stack>.json (none: a new stack)",
    )
    against.add_argument(
        "--new-stack",
        action="store_true",
        help="compare against nothing: the stack has no earlier plan",
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
    lock = stacks / f"placement.{args.stack}.json"
    if args.compare_to is not None:
        against: Path | None = args.compare_to
    else:
        against = None if args.new_stack or not lock.is_file() else lock
    try:
        before = summary.load_previous(against) if against is not None else None
        policy.stack_config(project, args.stack)  # bad policy config is bad input: exit 2
    except InputError as e:
        return _problems(e.heading, e.lines())
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
    doc = summary.compare(args.stack, capture, verdicts, before)
    (out_dir / "diff.json").write_text(diff.dumps(doc))
    (out_dir / "summary.md").write_text(summary.render(args.stack, capture, verdicts, before, doc))
    print(summary.console(args.stack, capture, verdicts, seconds))
    if doc is not None:
        print("\n".join(line.replace("**", "")[2:] for line in diff.guarantee_lines(doc) if line))
    if against is not None:
        print(summary.console_changes(doc, _shown(against, project)))
    elif placement is not None and not args.new_stack:
        print(
            f"no lock {_shown(lock, project)}: nothing to compare against (shown as a new "
            f"stack); make lock STACK={args.stack} writes it"
        )
    if args.write_lock and placement is None:
        return _problems(
            "nothing to lock", ["--write-lock: the program exports no placement (no optimizer)"]
        )
    if args.write_lock:
        try:
            written = write_lock(project, args.stack, placement)
        except InputError as e:
            return _problems(e.heading, e.lines())
        print(f"lock written: {_shown(written, project)}")
    print(f"wrote {', '.join(n for n in summary.FILES)} to {_shown(out_dir, project)}")
    return 1 if verdicts.mandatory_failures() else 0


def write_lock(project: Path, stack: str, placement: dict[str, Any]) -> Path:
    """Write `placement` as the stack's lock, at the point `make lock-check` accepts.

    The placement records how it was reached (`stability`: the previous lock, kept or not, the
    savings). Solved again with itself as the incumbent it records `kept: true` against
    itself, which is what the lock check computes; so the lock is re-solved once against
    itself and rewritten until it no longer changes (once in practice: a kept incumbent keeps
    its pools).
    """
    from .lockcheck import solve_stack

    _, stacks = read_project(project)
    lock = stacks / f"placement.{stack}.json"
    for _ in range(3):
        # keys sorted, as plan.json is (the engine's capture sorts them): byte-identical files
        lock.write_text(json.dumps(placement, indent=2, sort_keys=True) + "\n")
        again = solve_stack(project, stack)
        if again == placement:
            break
        placement = again
    return lock


def _shown(path: Path, project: Path) -> str:
    """A path as the user can open it: relative to the working directory when under it (a
    project in examples/ writes to examples/<name>/out/<stack>, not out/<stack>)."""
    path = path.resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
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
