"""`python -m tools.plan.lockcheck` (`make lock-check`): is every stack's placement lock what
the optimizer returns now?

For each stack (default: every `Pulumi.<stack>.yaml` in the project's stackConfigDir) the
config is read as the offline plan reads it (`Pulumi.yaml`'s defaults, then the stack file),
validated by `components.settings.parse`, and solved by `components.platform.solve_plan` with
the lock `placement.<stack>.json` as the incumbent: exactly what `__main__.py` does, without
declaring resources. The result is compared with the lock.

Why: the lock is what is deployed, and the program keeps it unless moving saves
`stability.minSavingsPercent`. A pull request that changes a stack's config, the catalog or the
optimizer so that the placement moves must carry the rewritten lock (`make lock STACK=NAME`),
so the move is a reviewable diff of `stacks/placement.<stack>.json`, not a surprise at deploy.

Exit codes: 0 every lock matches (the stacks checked are listed), 1 a lock differs or is
missing (one line per stack naming the change and the fix), 2 bad input (stack config, an
infeasible stack, no project), one line per problem.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.settings import parse, project_stack_config, read_project, stack_names
from optimizer.errors import InputError, print_problems

from . import diff

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    stack: str
    status: str  # ok | differs | missing | bad
    changes: list[str] = field(default_factory=list)


def solve_stack(project: Path, stack: str) -> dict[str, Any]:
    """The placement the program would export for `stack` (raises `InputError` on bad config,
    `SystemExit(2)` after printing the explanation when no placement is feasible)."""
    from components.platform import solve_plan

    name, stacks = read_project(project)
    config = project_stack_config(project, stack)
    settings = parse(config.values, stack=stack, stacks_dir=stacks, project=name)
    return solve_plan(settings).to_json(include_seconds=False)


def _fields(lock: dict[str, Any], plan: dict[str, Any]) -> list[str]:
    keys = sorted(lock.keys() | plan.keys())
    return [k for k in keys if lock.get(k) != plan.get(k)]


def check(project: Path, stack: str) -> Result:
    _, stacks = read_project(project)
    lock_path = stacks / f"placement.{stack}.json"
    try:
        plan = solve_stack(project, stack)
    except InputError as e:
        print_problems(e.heading, e.lines())
        return Result(stack, "bad")
    except SystemExit:  # infeasible: solve_plan printed the explanation
        return Result(stack, "bad")
    if not lock_path.is_file():
        cost = plan["cost"]["monthlyUsd"]["total"]
        return Result(
            stack,
            "missing",
            [
                f"no lock {lock_path.name}; the optimizer places "
                f"{diff.plural(len(plan['clusters']), 'cluster')}, total {cost:,.2f} USD/month"
            ],
        )
    lock = json.loads(lock_path.read_text())  # parse() has validated it
    if lock == plan:
        return Result(stack, "ok")
    changes = diff.lock_changes(diff.compare(lock, plan, (), stack=stack))
    if not any(not c.startswith("total ") for c in changes):
        # Same pools and routing: prices, the catalog, assignments or the solver's record moved.
        changes = [*changes, f"fields differ: {', '.join(_fields(lock, plan))}"]
    return Result(stack, "differs", changes)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.plan.lockcheck", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--project",
        type=Path,
        default=REPO_ROOT,
        help="Pulumi project folder holding Pulumi.yaml and the stacks (default: this repo)",
    )
    p.add_argument(
        "--stack",
        action="append",
        default=[],
        help="check only this stack (repeatable; default: every Pulumi.<stack>.yaml)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    project = args.project.resolve()
    if not (project / "Pulumi.yaml").is_file():
        print_problems("no Pulumi project", [f"{project}: no Pulumi.yaml here"])
        return 2
    known = stack_names(project)
    unknown = [s for s in args.stack if s not in known]
    if unknown:
        print("error: unknown stack:", file=sys.stderr)
        for s in unknown:
            print(
                f"  --stack: {s!r} has no Pulumi.{s}.yaml; known: {', '.join(known)}",
                file=sys.stderr,
            )
        return 2
    started = time.perf_counter()
    results = [check(project, s) for s in (args.stack or known)]
    seconds = time.perf_counter() - started
    stale = [r for r in results if r.status in ("differs", "missing")]
    for r in stale:
        print(
            f"{r.stack}: {'; '.join(r.changes)}; run make lock STACK={r.stack} and commit the lock",
            file=sys.stderr,
        )
    if any(r.status == "bad" for r in results):
        bad = ", ".join(r.stack for r in results if r.status == "bad")
        print(f"lock check: bad input in {bad}", file=sys.stderr)
        return 2
    if stale:
        print(
            f"lock check: {len(stale)} of {len(results)} stacks differ from their lock "
            f"({', '.join(r.stack for r in stale)})",
            file=sys.stderr,
        )
        return 1
    checked = ", ".join(r.stack for r in results)
    print(f"lock check: every lock matches the optimizer ({checked}; {seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
