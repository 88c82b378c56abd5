"""`python3 -m tools.plan.stacks`: the project's stacks as a JSON list, for CI matrices.

One stack per `Pulumi.<stack>.yaml` in the project's stackConfigDir (`Pulumi.yaml`), so a new
stack file gets its pull-request comment, lock check, preview and deploy without editing a
workflow. Standard library only: CI runs it before `make setup`.

    python3 -m tools.plan.stacks                             ["dev", "prod", "staging"]
    python3 -m tools.plan.stacks --exclude dev --exclude prod   ["staging"]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def stack_config_dir(project: Path) -> Path:
    """The stackConfigDir of `project/Pulumi.yaml` (a top-level scalar; default: the project)."""
    text = (project / "Pulumi.yaml").read_text()
    match = re.search(r"^stackConfigDir:\s*['\"]?([^'\"#\s]+)", text, re.MULTILINE)
    return project / match.group(1) if match else project


def stacks(project: Path) -> list[str]:
    folder = stack_config_dir(project)
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in folder.glob("Pulumi.*.yaml"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python3 -m tools.plan.stacks", description=__doc__.splitlines()[0]
    )
    p.add_argument("--project", type=Path, default=REPO_ROOT, help="Pulumi project folder")
    p.add_argument("--exclude", action="append", default=[], help="leave this stack out")
    args = p.parse_args(argv)
    if not (args.project / "Pulumi.yaml").is_file():
        print(f"error: no Pulumi project:\n  {args.project}: no Pulumi.yaml here", file=sys.stderr)
        return 2
    print(json.dumps([s for s in stacks(args.project) if s not in args.exclude]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
