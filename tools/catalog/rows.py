"""Offerings as rows of `offerings.csv`: building, formatting, writing, and the catalog folder."""

from __future__ import annotations

import csv
import shutil
import statistics
from pathlib import Path

from optimizer.catalog import (
    ACCELERATOR_MEMORY_GB,
    NO_ZONES,
    OFFERINGS_COLUMNS,
    UNKNOWN_ZONES,
    ZONES_COLUMNS,
    Offering,
)

from .families import Shape

COPIED_FILES = ("regions.csv", "egress.csv", "clusters.csv")


def number(x: float) -> str:
    """Shortest plain decimal with at most 6 decimals: 55.04, 0.70683, 192."""
    text = f"{round(x, 6):.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def offering(
    cloud: str, region: str, shape: Shape, on_demand: float, spot: float | None
) -> Offering:
    return Offering(
        cloud,
        region,
        shape.instance_type,
        shape.accelerator,
        shape.count,
        ACCELERATOR_MEMORY_GB[shape.accelerator],
        shape.vcpus,
        shape.memory_gb,
        round(on_demand, 6),
        None if spot is None else round(spot, 6),
    )


def as_row(o: Offering) -> list[str]:
    return [
        o.cloud,
        o.region,
        o.instance_type,
        o.accelerator,
        str(o.accelerator_count),
        number(o.accelerator_memory_gb),
        str(o.vcpus),
        number(o.memory_gb),
        number(o.price_on_demand),
        "" if o.price_spot is None else number(o.price_spot),
    ]


def sort_key(o: Offering):
    return (o.cloud, o.instance_type, o.region)


def write_offerings(path: Path, offerings: list[Offering]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(OFFERINGS_COLUMNS)
        for o in sorted(offerings, key=sort_key):
            w.writerow(as_row(o))


def zones_text(o: Offering) -> str:
    """The zones.csv value of an offering."""
    if not o.zones_known:
        return UNKNOWN_ZONES
    return " ".join(sorted(o.zones)) if o.zones else NO_ZONES


def write_zones(path: Path, offerings: list[Offering]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(ZONES_COLUMNS)
        for o in sorted(offerings, key=lambda o: (o.cloud, o.region, o.instance_type)):
            w.writerow([o.cloud, o.region, o.instance_type, zones_text(o)])


def copy_side_files(base: Path, out: Path) -> list[str]:
    copied = []
    for name in (*COPIED_FILES, "egress_by_source.csv", "latency.csv", "validate_exceptions.csv"):
        if (base / name).exists():
            shutil.copyfile(base / name, out / name)
            copied.append(name)
    return copied


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def usable_spot(on_demand: float, spot: float | None) -> float | None:
    """Spot as the catalog stores it: None when missing, zero, or not below on-demand."""
    if spot is None or spot <= 0 or round(spot, 6) >= round(on_demand, 6):
        return None
    return spot
