"""`python -m tools.catalog refresh|validate|diff|import-skypilot`: keep the price catalog fresh.

Exit codes: 0 done; 1 `validate` found errors; 2 bad input (one line per problem on stderr,
no traceback); 3 a price source could not be read (after retries) or answered unexpectedly.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from optimizer import catalog as catalog_mod
from optimizer.errors import Collector, InputError, Problem

from . import refresh as refresh_mod
from . import skypilot
from .diff import diff
from .http import FetchError, Http
from .rows import copy_side_files, write_offerings, write_zones
from .validate import validate


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.catalog", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser(
        "refresh",
        help="build a catalog folder from the clouds' price APIs",
        epilog="Zones come from each cloud's zone API when its credentials are set: "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, TRICLOUD_GCP_PROJECT/TRICLOUD_GCP_ACCESS_TOKEN "
        "(gcloud auth print-access-token), AZURE_SUBSCRIPTION_ID/TRICLOUD_AZURE_ACCESS_TOKEN "
        "(az account get-access-token); otherwise the base snapshot's zones are kept.",
    )
    r.add_argument("--clouds", default="aws,azure,gcp", help="comma-separated (default: all)")
    r.add_argument(
        "--regions",
        default="",
        help="comma-separated region names or cloud/region (default: every region of "
        "regions.csv); offerings in other regions are copied from the base snapshot",
    )
    r.add_argument("--out", required=True, type=Path, help="folder to write")
    r.add_argument(
        "--base", type=Path, default=None, help="snapshot to start from (default: optimizer/data)"
    )
    r.add_argument("--date", default=None, help="snapshot date YYYY-MM-DD (default: today, UTC)")
    r.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    r.add_argument(
        "--retries", type=int, default=4, help="retries on 429/5xx/network errors (default 4)"
    )
    r.add_argument(
        "--gcp-all-priced-regions",
        action="store_true",
        help="keep GCP types in every region their SKUs are priced, not only where the base snapshot has them",
    )

    v = sub.add_parser("validate", help="loader checks plus data-quality checks")
    v.add_argument("dir", type=Path)
    v.add_argument(
        "--strict",
        action="store_true",
        help="warnings not excepted by validate_exceptions.csv count as errors",
    )
    v.add_argument("--list-excepted", action="store_true", help="print every excepted warning")

    d = sub.add_parser("diff", help="prices changed beyond a threshold, offerings added/removed")
    d.add_argument("old", type=Path)
    d.add_argument("new", type=Path)
    d.add_argument("--threshold", type=float, default=5.0, help="percent (default 5)")

    s = sub.add_parser("import-skypilot", help="convert SkyPilot vms.csv files")
    s.add_argument(
        "src", type=Path, help="folder with aws/vms.csv, azure/vms.csv and/or gcp/vms.csv"
    )
    s.add_argument("--out", required=True, type=Path)
    s.add_argument(
        "--keep-low-gpu-tier",
        action="store_true",
        help="keep GCP GPU rows priced far below their other regions (left out by default)",
    )
    s.add_argument(
        "--base",
        type=Path,
        default=None,
        help="regions/egress/clusters from here (default: optimizer/data)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    args.argv = argv
    try:
        return COMMANDS[args.command](args)
    except InputError as e:
        for line in e.lines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _problem(where: str, message: str) -> InputError:
    return InputError([Problem(where, message)])


def _out_dir(path: Path, base: Path) -> None:
    if path.resolve() == base.resolve():
        raise _problem(str(path), "--out must differ from the base snapshot folder")
    if path.exists() and not path.is_dir():
        raise _problem(str(path), "exists and is not a folder")


def cmd_refresh(args) -> int:
    errors = Collector()
    clouds = _split(args.clouds)
    for c in clouds:
        if c not in refresh_mod.CLOUDS:
            errors.add("--clouds", f"unknown cloud {c!r}; known: {', '.join(refresh_mod.CLOUDS)}")
    day = datetime.now(UTC).date()
    if args.date:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            errors.add("--date", f"{args.date!r} is not YYYY-MM-DD")
    if args.timeout <= 0 or args.retries < 0:
        errors.add("--timeout/--retries", "timeout must be > 0 and retries >= 0")
    errors.raise_if_any()
    base = catalog_mod.load(args.base)
    _out_dir(args.out, Path(base.path))
    by_cloud: dict[str, list[str]] = {
        c: sorted({r.region for r in base.regions.values() if r.cloud == c})
        for c in refresh_mod.CLOUDS
    }
    if args.regions:
        picked: dict[str, list[str]] = {c: [] for c in refresh_mod.CLOUDS}
        for item in _split(args.regions):
            cloud, _, name = item.rpartition("/")
            hits = [c for c in (cloud,) if c] or [c for c in clouds if name in by_cloud[c]]
            if not hits or any(name not in by_cloud.get(c, []) for c in hits):
                errors.add(
                    "--regions",
                    f"{item!r} is not a region of the selected clouds in {base.path}/regions.csv (add it there, with coordinates, first)",
                )
            for c in hits:
                if name in by_cloud.get(c, []):
                    picked[c].append(name)
        errors.raise_if_any()
        by_cloud = picked
    http = Http(timeout=args.timeout, retries=args.retries)
    try:
        outcome = refresh_mod.refresh(
            base, clouds, by_cloud, http, gcp_all_priced=args.gcp_all_priced_regions
        )
    except refresh_mod.EmptySource as e:
        raise FetchError(str(e)) from None
    command = "python -m tools.catalog " + shlex.join(args.argv)
    refresh_mod.write(args.out, base, outcome, day, command)
    report = validate(args.out)
    print(
        f"wrote {args.out}/offerings.csv: {len(outcome.offerings)} offerings "
        f"({len(report.errors)} errors, {len(report.warnings)} warnings: run `python -m tools.catalog validate {args.out}`)",
        file=sys.stderr,
    )
    return 1 if report.errors else 0


def cmd_validate(args) -> int:
    if not args.dir.is_dir():
        raise _problem(str(args.dir), "catalog folder does not exist")
    report = validate(args.dir, strict=args.strict)
    excepted = f", {len(report.excepted)} excepted" if report.excepted else ""
    strict = " (--strict: warnings count as errors)" if args.strict else ""
    print(
        f"{args.dir}: {len(report.errors)} errors, {len(report.warnings)} warnings{excepted}{strict}"
    )
    if report.errors:
        print("\nerrors:")
        print("\n".join(f"  {e}" for e in report.errors))
    if report.warnings:
        print("\nwarnings:")
        print("\n".join(f"  {w}" for w in report.warnings))
    if report.excepted:
        print("\nexcepted (reviewed; --list-excepted names the rows):")
        print("\n".join(f"  {n} warnings by {rule}" for rule, n in report.excepted_by.items()))
        if args.list_excepted:
            print("\n".join(f"  {w}" for w in report.excepted))
    return 1 if report.errors else 0


def cmd_diff(args) -> int:
    problems = []
    cats = []
    for path in (args.old, args.new):
        try:
            cats.append(catalog_mod.load(path))
        except InputError as e:
            problems += e.problems
    if args.threshold < 0:
        problems.append(Problem("--threshold", f"{args.threshold:g} must be >= 0"))
    if problems:
        raise InputError(problems)
    text, _ = diff(cats[0], cats[1], args.threshold)
    print(text)
    return 0


def cmd_import_skypilot(args) -> int:
    if not args.src.is_dir():
        raise _problem(str(args.src), "folder does not exist")
    files = skypilot.find_files(args.src)
    if not files:
        raise _problem(str(args.src), "has none of aws/vms.csv, azure/vms.csv, gcp/vms.csv")
    base = catalog_mod.load(args.base)
    _out_dir(args.out, Path(base.path))
    errors = Collector()
    read = {cloud: skypilot.read_vms(path, errors) for cloud, path in files.items()}
    errors.raise_if_any()
    offerings, notes = [], []
    for cloud, rows in read.items():
        regions = {r.region for r in base.regions.values() if r.cloud == cloud}
        result = skypilot.convert(cloud, rows, regions, keep_low_tier=args.keep_low_gpu_tier)
        offerings += result.offerings
        notes += result.notes
        print(
            f"{cloud}/vms.csv: {len(rows)} rows read, {len(result.offerings)} offerings",
            file=sys.stderr,
        )
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    if not offerings:
        raise _problem(str(args.src), "no GPU offering in a known region could be converted")
    args.out.mkdir(parents=True, exist_ok=True)
    write_offerings(args.out / "offerings.csv", offerings)
    write_zones(args.out / "zones.csv", offerings)
    copy_side_files(Path(base.path), args.out)
    day = datetime.now(UTC).date().isoformat()
    lines = [
        "# Catalog converted from SkyPilot catalog CSVs",
        "",
        f"Snapshot date: {day}",
        "",
        f"Converted by `python -m tools.catalog import-skypilot` from `{args.src}` "
        f"({', '.join(f'{c}/vms.csv' for c in files)}); {len(offerings)} offerings. The date is the",
        "conversion's: SkyPilot's files carry none. `regions.csv`, `egress.csv` and `clusters.csv` are",
        f"copied from `{base.path}` (snapshot {base.snapshot}). Conversion rules: `tools/catalog/skypilot.py`.",
        "",
        "## Notes",
        "",
        *([f"- {n}" for n in notes] or ["- none"]),
        "",
    ]
    (args.out / "README.md").write_text("\n".join(lines))
    report = validate(args.out)
    print(
        f"wrote {args.out}/offerings.csv: {len(offerings)} offerings ({len(report.errors)} errors, {len(report.warnings)} warnings)",
        file=sys.stderr,
    )
    return 1 if report.errors else 0


COMMANDS = {
    "refresh": cmd_refresh,
    "validate": cmd_validate,
    "diff": cmd_diff,
    "import-skypilot": cmd_import_skypilot,
}
