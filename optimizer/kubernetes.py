"""Which Kubernetes minor versions each cloud offers, and what a cluster of one costs.

`data/kubernetes.csv` is the clouds' published calendars (sources in `data/README.md`), read on
the catalog's snapshot date so that a plan does not change with the day it runs. A version is
in standard support from `available` to `end_of_standard`; on AWS it then stays offered in
extended support until `end_of_extended`, billed at `extended_control_plane_usd_hr`. tricloud's
AKS clusters are Standard tier and its GKE clusters are on the Regular channel, so on those
clouds a version past standard support is not offered (AKS LTS needs the Premium tier, GKE
extended support the Extended channel).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from .errors import Collector

TABLE = Path(__file__).with_name("data") / "kubernetes.csv"
COLUMNS = [
    "cloud",
    "version",
    "available",
    "end_of_standard",
    "end_of_extended",
    "extended_control_plane_usd_hr",
]
STANDARD, EXTENDED, UNSUPPORTED = "standard", "extended", "unsupported"


@dataclass(frozen=True)
class Calendar:
    """One cloud's support dates for one Kubernetes minor version."""

    cloud: str
    version: str
    available: date
    end_of_standard: date  # the day standard support ends (not in standard support from then)
    end_of_extended: date | None  # the day extended support ends (AWS only)
    extended_control_plane_usd_hr: float | None

    def status(self, on: date) -> str:
        if self.available <= on < self.end_of_standard:
            return STANDARD
        if self.end_of_extended and self.end_of_standard <= on < self.end_of_extended:
            return EXTENDED
        return UNSUPPORTED


@dataclass(frozen=True)
class Support:
    cloud: str
    version: str
    status: str  # standard, extended or unsupported
    calendar: Calendar | None

    @property
    def extended(self) -> bool:
        return self.status == EXTENDED


@cache
def calendars(path: Path = TABLE) -> dict[tuple[str, str], Calendar]:
    """The table, validated: a bad row is a catalog problem like any other (file:line)."""
    errors = Collector()
    out: dict[tuple[str, str], Calendar] = {}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            errors.add(path.name, f"columns {reader.fieldnames}; expected {COLUMNS}")
            errors.raise_if_any("invalid Kubernetes support table")
        for line, row in enumerate(reader, start=2):
            where = f"{path.name}:{line}"
            try:
                available = date.fromisoformat(row["available"])
                standard = date.fromisoformat(row["end_of_standard"])
                extended = (
                    date.fromisoformat(row["end_of_extended"]) if row["end_of_extended"] else None
                )
                price = (
                    float(row["extended_control_plane_usd_hr"])
                    if row["extended_control_plane_usd_hr"]
                    else None
                )
            except ValueError as e:
                errors.add(where, f"{e}")
                continue
            if not available < standard or (extended and not standard < extended):
                errors.add(
                    where, "dates must increase: available < end_of_standard < end_of_extended"
                )
            if (extended is None) != (price is None):
                errors.add(where, "end_of_extended and its control-plane price go together")
            key = (row["cloud"], row["version"])
            if key in out:
                errors.add(where, f"{key[0]} {key[1]} is listed twice")
            out[key] = Calendar(row["cloud"], row["version"], available, standard, extended, price)
    errors.raise_if_any("invalid Kubernetes support table")
    return out


def snapshot_day(snapshot: str) -> date:
    """The catalog's snapshot date as a day (`undated` catalogs are read as today)."""
    try:
        return date.fromisoformat(snapshot)
    except ValueError:
        return date.today()


def support(cloud: str, version: str, on: date) -> Support:
    cal = calendars().get((cloud, version))
    return Support(cloud, version, cal.status(on) if cal else UNSUPPORTED, cal)


def offered(cloud: str, on: date) -> list[str]:
    """Versions `cloud` offers tricloud's clusters on `on`, oldest first."""
    versions = [
        v for (c, v), cal in calendars().items() if c == cloud and cal.status(on) != UNSUPPORTED
    ]
    return sorted(versions, key=lambda v: tuple(int(x) for x in v.split(".")))


def default_version(clouds: list[str], on: date) -> str | None:
    """The newest version in standard support on every one of `clouds` on `on`."""
    common = None
    for cloud in clouds:
        mine = {v for v in offered(cloud, on) if support(cloud, v, on).status == STANDARD}
        common = mine if common is None else common & mine
    if not common:
        return None
    return max(common, key=lambda v: tuple(int(x) for x in v.split(".")))


def control_plane_usd_hr(cloud: str, version: str, on: date, standard_usd_hr: float) -> float:
    """The control plane's hourly fee: the catalog's standard fee, or the extended-support fee
    where the version has passed standard support (EKS: $0.60/h instead of $0.10/h)."""
    s = support(cloud, version, on)
    if s.extended and s.calendar and s.calendar.extended_control_plane_usd_hr is not None:
        return s.calendar.extended_control_plane_usd_hr
    return standard_usd_hr
