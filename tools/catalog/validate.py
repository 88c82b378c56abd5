"""`validate`: the loader's checks plus data-quality checks on `offerings.csv` and `zones.csv`.

Errors: every problem `optimizer.catalog.load` reports, a GPU count or accelerator that
contradicts the instance family (`families.family_gpus`), a missing zones.csv. Warnings: spot
equal to on-demand (usually a "no spot data" placeholder), a price more than 3x the median of
the same instance type's prices across regions, accelerator memory that is not the
accelerator's, zones not known (`?`).
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

from .families import family_gpus

OUTLIER_FACTOR = 3.0


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _float(text: str | None) -> float | None:
    try:
        x = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if x > 0 else None


def validate(path: Path) -> Report:
    report = Report()
    try:
        catalog_mod.load(path)
    except InputError as e:
        report.errors += e.lines()
    offerings = path / "offerings.csv"
    if not offerings.exists():
        return report
    with offerings.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != OFFERINGS_COLUMNS:
            return report  # the loader has reported the header
        rows = [(reader.line_num, row) for row in reader]
    prices: dict[tuple[str, str, str], list[tuple[int, float]]] = defaultdict(list)
    for line, row in rows:
        where = f"offerings.csv:{line}"
        cloud, itype, acc = row["cloud"], row["instance_type"], row["accelerator"]
        od, spot = _float(row["price_on_demand_usd_hr"]), _float(row["price_spot_usd_hr"])
        if od is not None and spot is not None and spot == od:
            report.warnings.append(
                f"{where}: spot price {row['price_spot_usd_hr']} equals the on-demand price "
                "(usually a placeholder for missing spot data; leave spot empty)"
            )
        family = family_gpus(cloud, itype)
        count = _float(row["accelerator_count"])
        if family is not None:
            fam_acc, counts = family
            if acc != fam_acc and acc in ACCELERATOR_MEMORY_GB:
                report.errors.append(
                    f"{where}: accelerator {acc} contradicts {itype}, which has {fam_acc}"
                )
            if count is not None and count not in counts:
                allowed = " or ".join(str(n) for n in counts)
                report.errors.append(
                    f"{where}: accelerator_count {row['accelerator_count']} contradicts {itype}, which has {allowed} x {fam_acc}"
                )
        mem = _float(row["accelerator_memory_gb"])
        if acc in ACCELERATOR_MEMORY_GB and mem is not None and mem != ACCELERATOR_MEMORY_GB[acc]:
            report.warnings.append(
                f"{where}: accelerator_memory_gb {row['accelerator_memory_gb']} is not {acc}'s "
                f"{ACCELERATOR_MEMORY_GB[acc]:g} GB"
            )
        for kind, price in (("on-demand", od), ("spot", spot)):
            if price is not None:
                prices[(cloud, itype, kind)].append((line, price))
    for (cloud, itype, kind), found in sorted(prices.items()):
        mid = statistics.median(p for _, p in found)
        for line, price in found:
            if price > OUTLIER_FACTOR * mid:
                report.warnings.append(
                    f"offerings.csv:{line}: {kind} price {price:g} is {price / mid:.1f}x the median "
                    f"{mid:g} of {cloud} {itype} across {len(found)} regions (more than {OUTLIER_FACTOR:g}x)"
                )
    _check_zones(path, report)
    report.warnings.sort(key=_line_order)
    return report


def _check_zones(path: Path, report: Report) -> None:
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
                report.warnings.append(
                    f"zones.csv:{reader.line_num}: zones of {row['cloud']}/{row['region']}/"
                    f"{row['instance_type']} not known ({UNKNOWN_ZONES}); its node pool is not "
                    "pinned to zones (refresh with the cloud's credentials reads them)"
                )


def _line_order(text: str):
    head = text.split(":", 2)
    return (head[0], int(head[1]) if len(head) > 1 and head[1].isdigit() else 0, text)
