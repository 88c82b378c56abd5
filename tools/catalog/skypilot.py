"""`import-skypilot`: SkyPilot catalog CSVs (`aws/vms.csv`, `azure/vms.csv`, `gcp/vms.csv`) to
tricloud's `offerings.csv`.

Layout (skypilot-org/skypilot-catalog): one row per instance type, region and (AWS, GCP)
availability zone with `InstanceType, AcceleratorName, AcceleratorCount, vCPUs, MemoryGiB,
Price, SpotPrice, Region[, AvailabilityZone]`. GCP prices the host machine and its GPUs in
separate rows: a GPU row has an empty InstanceType and its Price is the total for its count.
Rules (as the shipped snapshot was derived, see `optimizer/data/README.md`):
- only accelerators tricloud knows (SkyPilot `A100` is the 40 GB part) and whole GPU counts;
- a GPU count contradicting the instance family is corrected to the family's (noted);
- AWS: standard zones only (no Local Zones); on-demand and spot = medians over the zones,
  spot only from zones where it is below on-demand; Azure: spot empty where not below on-demand;
- GCP: zone price = host row + the GPU row of the same zone for the family's accelerator and
  count (A2, A3, G2 bundle their GPUs; N1 shapes as in tricloud's table); region = median;
- only regions in the base snapshot's `regions.csv` (the loader requires it);
- zones: the AvailabilityZone values of the rows kept (AWS AZ IDs without Local Zones, GCP
  zones where host and GPU rows both exist); Azure's file has no zone column: `?`.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from optimizer.catalog import ACCELERATOR_MEMORY_GB, Offering, zone_problem
from optimizer.errors import Collector

from .families import KNOWN, family_gpus
from .rows import median, usable_spot

CLOUDS = ("aws", "azure", "gcp")
REQUIRED = [
    "InstanceType",
    "AcceleratorName",
    "AcceleratorCount",
    "vCPUs",
    "MemoryGiB",
    "Price",
    "SpotPrice",
    "Region",
]
TO_TRICLOUD = {
    "A100": "A100-40GB",
    "A100-80GB": "A100-80GB",
    "H100": "H100",
    "H200": "H200",
    "L4": "L4",
    "L40S": "L40S",
    "A10G": "A10G",
    "T4": "T4",
}
TO_SKYPILOT = {v: k for k, v in TO_TRICLOUD.items()}
_ZONE_ID = re.compile(r"^[a-z]+\d+-az\d+$")  # use1-az2 (Local Zones: use1-bos1-az1)
_ZONE_NAME = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")  # us-east-1a


@dataclass
class Imported:
    offerings: list[Offering] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)


def find_files(src: Path) -> dict[str, Path]:
    return {c: src / c / "vms.csv" for c in CLOUDS if (src / c / "vms.csv").is_file()}


def read_vms(path: Path, errors: Collector) -> list[tuple[int, dict]]:
    name = f"{path.parent.name}/{path.name}"
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                errors.add(
                    f"{name}:1",
                    f"missing columns {', '.join(missing)}; a SkyPilot vms.csv has {', '.join(REQUIRED)}",
                )
                return []
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        errors.add(name, f"cannot read: {e}")
        return []
    out = []
    for line, row in rows:
        bad = False
        for col in ("Price", "SpotPrice", "AcceleratorCount", "vCPUs", "MemoryGiB"):
            text = (row.get(col) or "").strip()
            if text:
                try:
                    float(text)
                except ValueError:
                    errors.add(f"{name}:{line}", f"{col} {text!r} is not a number")
                    bad = True
        if not bad:
            out.append((line, row))
    return out


def _num(row: dict, col: str) -> float | None:
    text = (row.get(col) or "").strip()
    return float(text) if text else None


def _standard_zone(zone: str) -> bool:
    return not zone or bool(_ZONE_ID.match(zone) or _ZONE_NAME.match(zone))


def convert(cloud: str, rows: list[tuple[int, dict]], regions: set[str]) -> Imported:
    result = Imported()
    # (type, region) -> facts and per-zone (price, spot)
    groups: dict[tuple[str, str], list[tuple[str, float, float | None]]] = defaultdict(list)
    facts: dict[str, tuple[str, int, int, float]] = {}
    other_regions: set[str] = set()
    corrected: dict[str, tuple[int, int]] = {}
    fractional: set[str] = set()
    gpus: dict[tuple[str, int, str], tuple[float, float | None]] = {}
    if cloud == "gcp":
        for _, row in rows:
            if not row["InstanceType"].strip() and row["AcceleratorName"].strip():
                price, count = _num(row, "Price"), _num(row, "AcceleratorCount")
                if price and count and count == int(count):
                    zone = (row.get("AvailabilityZone") or row["Region"]).strip()
                    gpus[(row["AcceleratorName"].strip(), int(count), zone)] = (
                        price,
                        _num(row, "SpotPrice"),
                    )
    for _, row in rows:
        itype, region = row["InstanceType"].strip(), row["Region"].strip()
        price = _num(row, "Price")
        if not itype or not price or price <= 0:
            continue
        zone = (row.get("AvailabilityZone") or "").strip()
        if cloud == "aws" and not _standard_zone(zone):
            continue  # a Local or Wavelength Zone: another metro, other prices
        spot = _num(row, "SpotPrice")
        if cloud == "gcp":
            family = family_gpus("gcp", itype)
            if family is None:
                continue
            if len(family[1]) == 1:
                acc, count = family[0], family[1][0]
            elif ("gcp", itype) in KNOWN:  # attached GPUs (N1): tricloud's shapes only
                acc, count = KNOWN[("gcp", itype)].accelerator, KNOWN[("gcp", itype)].count
            else:
                continue
            gpu = gpus.get((TO_SKYPILOT[acc], count, zone or region))
            if gpu is None:
                continue
            price += gpu[0]
            spot = spot + gpu[1] if spot is not None and gpu[1] is not None else None
        else:
            acc = TO_TRICLOUD.get(row["AcceleratorName"].strip())
            raw = _num(row, "AcceleratorCount")
            if acc is None or not raw:
                continue
            if raw != int(raw):
                fractional.add(itype)
                continue
            count = int(raw)
            family = family_gpus(cloud, itype)
            if family is not None and count not in family[1] and len(family[1]) == 1:
                corrected[itype] = (count, family[1][0])
                count = family[1][0]
        if region not in regions:
            other_regions.add(region)
            continue
        vcpus, mem = _num(row, "vCPUs"), _num(row, "MemoryGiB")
        if not vcpus or not mem:
            continue
        facts[itype] = (acc, count, int(vcpus), mem)
        groups[(itype, region)].append((zone, price, spot))
    for (itype, region), zones in sorted(groups.items()):
        acc, count, vcpus, mem = facts[itype]
        od = median([p for _, p, _ in zones])
        spots = [s for _, p, s in zones if s is not None and 0 < s < p]
        spot = usable_spot(od, median(spots)) if spots else None
        # The zone column (AWS AZ IDs, GCP zones) says where the type is offered; Azure's
        # file has none, so its zones are not known.
        names = sorted({z for z, _, _ in zones if z and zone_problem(cloud, region, z) is None})
        result.offerings.append(
            Offering(
                cloud,
                region,
                itype,
                acc,
                count,
                ACCELERATOR_MEMORY_GB[acc],
                vcpus,
                mem,
                round(od, 6),
                None if spot is None else round(spot, 6),
                tuple(names),
                bool(names),
            )
        )
    for itype, (was, now) in sorted(corrected.items()):
        result.notes.append(
            f"{cloud}: {itype} listed with {was} GPUs; its family has {now}, so {now} is used"
        )
    if fractional:
        result.notes.append(
            f"{cloud}: {len(fractional)} types with fractional GPUs left out ({', '.join(sorted(fractional)[:5])}{', ...' if len(fractional) > 5 else ''})"
        )
    if other_regions:
        shown = ", ".join(sorted(other_regions)[:6]) + (", ..." if len(other_regions) > 6 else "")
        result.notes.append(
            f"{cloud}: GPU offerings in {len(other_regions)} regions not in regions.csv left out ({shown})"
        )
    return result
