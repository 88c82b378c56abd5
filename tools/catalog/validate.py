"""`validate`: the loader's checks plus data-quality checks on `offerings.csv` and `zones.csv`.

Errors: every problem `optimizer.catalog.load` reports, a GPU count or accelerator that
contradicts the instance family (`families.family_gpus`), a missing zones.csv, a malformed
exception list. Warnings (each has a check name, the first word in brackets):

- `spot-not-below`: spot equal to on-demand (usually a "no spot data" placeholder; spot above
  on-demand is a loader error).
- `price-band`: a price outside the cross-region band of its instance type: on-demand below
  `LOW_FACTOR` x the upper quartile of the type's on-demand prices (needs `BAND_MIN_REGIONS`
  regions; it catches a half-price tier even where it is a large minority), spot below
  `SPOT_LOW_FACTOR` x the median of the type's spot prices (spot varies more), or on-demand or
  spot above `HIGH_FACTOR` x the median.
- `per-gpu`: per-GPU on-demand price more than `PER_GPU_TOLERANCE` from the median of the
  same family's sizes in the same region that have the same vCPUs and memory per GPU (sizes
  with more host per GPU legitimately cost more per GPU and are not compared).
- `family-memory`: accelerator memory that is not the memory of the family's accelerator.
- `zones-unknown`: zones not known (`?`).

`validate_exceptions.csv` in the catalog folder (columns `check,cloud,region,instance_type,
reason`; `region`/`instance_type` may be `*`) lists reviewed warnings with the reason they are
accepted; a matching warning is reported as excepted, not as a warning. An exception that
matches no warning is itself a warning (`stale-exception`). `strict=True` (`--strict`) turns
the remaining warnings into errors.
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from optimizer import catalog as catalog_mod
from optimizer.catalog import (
    ACCELERATOR_MEMORY_GB,
    OFFERINGS_COLUMNS,
    UNKNOWN_ZONES,
    ZONES_COLUMNS,
)
from optimizer.errors import InputError

from .families import family_gpus, family_of

HIGH_FACTOR = 3.0
LOW_FACTOR = 0.6
SPOT_LOW_FACTOR = 0.4
BAND_MIN_REGIONS = 4
PER_GPU_TOLERANCE = 0.2
EXCEPTIONS_FILE = "validate_exceptions.csv"
EXCEPTIONS_COLUMNS = ["check", "cloud", "region", "instance_type", "reason"]
CHECKS = ("spot-not-below", "price-band", "per-gpu", "family-memory", "zones-unknown")


@dataclass
class Finding:
    check: str
    key: tuple[str, str, str]  # cloud, region, instance_type
    text: str  # "file:line: ..."


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    excepted: list[str] = field(default_factory=list)
    # "validate_exceptions.csv:LINE check cloud/region/type: reason" -> warnings it excepted
    excepted_by: dict[str, int] = field(default_factory=dict)


def _float(text: str | None) -> float | None:
    try:
        x = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if x > 0 else None


def validate(path: Path, strict: bool = False) -> Report:
    report = Report()
    try:
        catalog_mod.load(path)
    except InputError as e:
        report.errors += e.lines()
    findings: list[Finding] = []
    offerings = path / "offerings.csv"
    if offerings.exists():
        with offerings.open(newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames == OFFERINGS_COLUMNS:  # else the loader has reported the header
                rows = [(reader.line_num, row) for row in reader]
                _check_offerings(rows, report, findings)
    _check_zones(path, report, findings)
    exceptions = _read_exceptions(path, report)
    used: set[int] = set()
    for finding in findings:
        text = f"{finding.text} [{finding.check}]"
        hit = _match(exceptions, finding)
        if hit is None:
            report.warnings.append(text)
        else:
            used.add(hit)
            rule, reason = exceptions[hit]
            report.excepted.append(f"{text} (excepted: {reason})")
            head = f"{EXCEPTIONS_FILE}:{rule[4]}: {rule[0]} {'/'.join(rule[1:4])}: {reason}"
            report.excepted_by[head] = report.excepted_by.get(head, 0) + 1
    for i, (rule, _reason) in enumerate(exceptions):
        if i not in used:
            report.warnings.append(
                f"{EXCEPTIONS_FILE}:{rule[4]}: exception {rule[0]} {'/'.join(rule[1:4])} matches "
                "no warning; remove it [stale-exception]"
            )
    report.warnings.sort(key=_line_order)
    report.excepted.sort(key=_line_order)
    if strict and report.warnings:
        report.errors += [f"{w} (--strict)" for w in report.warnings]
        report.warnings = []
    return report


def _check_offerings(rows, report: Report, findings: list[Finding]) -> None:
    prices: dict[tuple[str, str, str], list[tuple[int, str, float]]] = defaultdict(list)
    per_gpu: dict[tuple, list[tuple[int, str, str, float]]] = defaultdict(list)
    for line, row in rows:
        where = f"offerings.csv:{line}"
        cloud, region, itype, acc = (
            row["cloud"],
            row["region"],
            row["instance_type"],
            row["accelerator"],
        )
        key = (cloud, region, itype)
        od, spot = _float(row["price_on_demand_usd_hr"]), _float(row["price_spot_usd_hr"])
        if od is not None and spot is not None and spot == od:
            findings.append(
                Finding(
                    "spot-not-below",
                    key,
                    f"{where}: spot price {row['price_spot_usd_hr']} equals the on-demand price "
                    "(usually a placeholder for missing spot data; leave spot empty)",
                )
            )
        family = family_gpus(cloud, itype)
        count = _float(row["accelerator_count"])
        expected_acc = acc
        if family is not None:
            fam_acc, counts = family
            expected_acc = fam_acc
            if acc != fam_acc and acc in ACCELERATOR_MEMORY_GB:
                report.errors.append(
                    f"{where}: accelerator {acc} contradicts {itype}, which has {fam_acc}"
                )
            if count is not None and count not in counts:
                allowed = " or ".join(str(n) for n in counts)
                report.errors.append(
                    f"{where}: accelerator_count {row['accelerator_count']} contradicts "
                    f"{itype}, which has {allowed} x {fam_acc}"
                )
        mem = _float(row["accelerator_memory_gb"])
        want = ACCELERATOR_MEMORY_GB.get(expected_acc)
        if want is not None and mem is not None and mem != want:
            findings.append(
                Finding(
                    "family-memory",
                    key,
                    f"{where}: accelerator_memory_gb {row['accelerator_memory_gb']} is not "
                    f"{expected_acc}'s {want:g} GB",
                )
            )
        for kind, price in (("on-demand", od), ("spot", spot)):
            if price is not None:
                prices[(cloud, itype, kind)].append((line, region, price))
        vcpus, memory = _float(row["vcpus"]), _float(row["memory_gb"])
        if od is not None and count and vcpus and memory:
            group = (cloud, region, family_of(cloud, itype), acc, vcpus / count, memory / count)
            per_gpu[group].append((line, itype, row["price_on_demand_usd_hr"], od / count))
    for (cloud, itype, kind), found in sorted(prices.items()):
        values = [p for _, _, p in found]
        mid = statistics.median(values)
        enough = len(values) >= BAND_MIN_REGIONS
        upper = (
            statistics.quantiles(values, n=4, method="inclusive")[2]
            if kind == "on-demand" and enough
            else None
        )
        spot_floor = SPOT_LOW_FACTOR * mid if kind == "spot" and enough else None
        for line, region, price in found:
            where, key = f"offerings.csv:{line}", (cloud, region, itype)
            if price > HIGH_FACTOR * mid:
                findings.append(
                    Finding(
                        "price-band",
                        key,
                        f"{where}: {kind} price {price:g} is {price / mid:.1f}x the median "
                        f"{mid:g} of {cloud} {itype} across {len(found)} regions "
                        f"(more than {HIGH_FACTOR:g}x)",
                    )
                )
            elif spot_floor is not None and price < spot_floor:
                findings.append(
                    Finding(
                        "price-band",
                        key,
                        f"{where}: spot price {price:g} is {price / mid:.2f}x the median {mid:g} "
                        f"of {cloud} {itype}'s spot prices across {len(found)} regions (less than "
                        f"{SPOT_LOW_FACTOR:g}x: a stale or single-zone spot price?)",
                    )
                )
            elif upper is not None and price < LOW_FACTOR * upper:
                findings.append(
                    Finding(
                        "price-band",
                        key,
                        f"{where}: on-demand price {price:g} is {price / upper:.2f}x the upper "
                        f"quartile {upper:g} of {cloud} {itype} across {len(found)} regions "
                        f"(less than {LOW_FACTOR:g}x: a lower price tier or a wrong SKU?)",
                    )
                )
    for (cloud, region, family, acc, _, _), sizes in sorted(per_gpu.items()):
        if len(sizes) < 2:
            continue
        mid = statistics.median(p for *_, p in sizes)
        for line, itype, text, price in sizes:
            if abs(price - mid) > PER_GPU_TOLERANCE * mid:
                others = ", ".join(t for _, t, _, _ in sizes if t != itype)
                findings.append(
                    Finding(
                        "per-gpu",
                        (cloud, region, itype),
                        f"offerings.csv:{line}: {itype} costs {price:.4g} $/h per {acc} "
                        f"(on-demand {text}), {price / mid:.2f}x the median {mid:.4g} of "
                        f"{family} sizes with the same host per GPU in {region} ({others})",
                    )
                )


def _check_zones(path: Path, report: Report, findings: list[Finding]) -> None:
    """zones.csv must exist (the program pins node pools to it); `?` rows are flagged."""
    zones = path / "zones.csv"
    if not zones.exists():
        report.errors.append(
            "zones.csv: file is missing; every offering needs a row "
            "cloud,region,instance_type,zones (the node pools are pinned to those zones)"
        )
        return
    with zones.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ZONES_COLUMNS:
            return  # the loader has reported the header
        for row in reader:
            if (row.get("zones") or "").strip() == UNKNOWN_ZONES:
                findings.append(
                    Finding(
                        "zones-unknown",
                        (row["cloud"], row["region"], row["instance_type"]),
                        f"zones.csv:{reader.line_num}: zones of {row['cloud']}/{row['region']}/"
                        f"{row['instance_type']} not known ({UNKNOWN_ZONES}); its node pool is "
                        "not pinned to zones (refresh with the cloud's credentials reads them)",
                    )
                )


def _read_exceptions(path: Path, report: Report) -> list[tuple[tuple[str, ...], str]]:
    """[((check, cloud, region, instance_type, line), reason)]; problems are errors."""
    file = path / EXCEPTIONS_FILE
    if not file.exists():
        return []
    out: list[tuple[tuple[str, ...], str]] = []
    with file.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != EXCEPTIONS_COLUMNS:
            report.errors.append(
                f"{EXCEPTIONS_FILE}:1: header must be {','.join(EXCEPTIONS_COLUMNS)}, "
                f"got {','.join(reader.fieldnames or [])}"
            )
            return []
        for row in reader:
            where = f"{EXCEPTIONS_FILE}:{reader.line_num}"
            values = [(row.get(c) or "").strip() for c in EXCEPTIONS_COLUMNS]
            check, cloud, region, itype, reason = values
            if check not in CHECKS:
                report.errors.append(f"{where}: unknown check {check!r} ({', '.join(CHECKS)})")
            elif not (cloud and region and itype):
                report.errors.append(f"{where}: cloud, region and instance_type are required")
            elif not reason:
                report.errors.append(f"{where}: an exception needs its reviewed reason")
            else:
                out.append(((check, cloud, region, itype, str(reader.line_num)), reason))
    return out


def _match(exceptions, finding: Finding) -> int | None:
    for i, (rule, _reason) in enumerate(exceptions):
        check, cloud, region, itype = rule[:4]
        if (
            check == finding.check
            and cloud == finding.key[0]
            and region in ("*", finding.key[1])
            and itype in ("*", finding.key[2])
        ):
            return i
    return None


def _line_order(text: str):
    head = text.split(":", 2)
    return (head[0], int(head[1]) if len(head) > 1 and head[1].isdigit() else 0, text)
