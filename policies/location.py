"""`python -m policies.location`: the folder to pass as `--policy-pack`, for any project.

The pack `tricloud-guardrails` ships inside the `tricloud` distribution (`policies/`, with its
`PulumiPolicy.yaml`). Pulumi runs a Python pack in the virtual environment its
`PulumiPolicy.yaml` names. In this repository that is `../.venv` and the package folder itself
is the pack. Where tricloud is installed into another environment (a project composing the
components), the package folder sits in site-packages, so this command writes a small pack
folder naming the current environment and serving the installed policies, and prints it:

    pulumi preview --policy-pack "$(python -m policies.location)" \\
        --policy-pack-config policy.dev.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
MAIN = '''"""tricloud-guardrails, served from the installed tricloud distribution."""

from policies.serve import main

main()
'''


def _runs_here(package_dir: Path, prefix: Path) -> bool:
    """The package folder's own PulumiPolicy.yaml names the environment `prefix`."""
    doc = yaml.safe_load((package_dir / "PulumiPolicy.yaml").read_text())
    venv = (doc.get("runtime") or {}).get("options", {}).get("virtualenv")
    return bool(venv) and (package_dir / venv).resolve() == prefix.resolve()


def pack_dir(
    out: Path | None = None, *, prefix: Path | None = None, package_dir: Path = PACKAGE_DIR
) -> Path:
    """A pack folder Pulumi can run with the environment `prefix` (default: this one)."""
    prefix = Path(sys.prefix if prefix is None else prefix).resolve()
    if out is None and _runs_here(package_dir, prefix):
        return package_dir
    out = (out or prefix / "share" / "tricloud-guardrails").resolve()
    out.mkdir(parents=True, exist_ok=True)
    own = yaml.safe_load((package_dir / "PulumiPolicy.yaml").read_text())
    doc = {
        "runtime": {"name": "python", "options": {"virtualenv": str(prefix)}},
        "version": own["version"],
        "description": own["description"],
    }
    (out / "PulumiPolicy.yaml").write_text(
        "# Written by python -m policies.location: the tricloud-guardrails pack of the\n"
        f"# tricloud distribution installed in {prefix}.\n" + yaml.safe_dump(doc, sort_keys=False)
    )
    (out / "__main__.py").write_text(MAIN)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m policies.location", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the pack folder here (default: the package folder when it runs as is, "
        "else <environment>/share/tricloud-guardrails)",
    )
    args = p.parse_args(argv)
    print(pack_dir(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
