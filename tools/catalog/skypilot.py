"""`import-skypilot`: SkyPilot catalog CSVs (`aws/vms.csv`, `azure/vms.csv`, `gcp/vms.csv`) to
tricloud's `offerings.csv` and `zones.csv`.

Layout (skypilot-org/skypilot-catalog): one row per instance type, region and (AWS, GCP)
availability zone with `InstanceType, AcceleratorName, AcceleratorCount, vCPUs, MemoryGiB,
Price, SpotPrice, Region[, AvailabilityZone, Arch]`. GCP prices the host machine and its GPUs
in separate rows: a GPU row has an empty InstanceType and its Price is the total for its count.
Rules (as the shipped snapshot was derived, see `optimizer/data/README.md`):
- every GPU row tricloud can represent is kept: an accelerator tricloud knows (the instance
  family's accelerator from `families.py` wins over SkyPilot's name, so Azure's H100 NVL sizes
  are `H100-NVL`; SkyPilot `A100` is the 40 GB part), whole GPUs, an x86_64 host, a price;
  anything else is left out with one line per instance family saying why;
- a GPU count contradicting the instance family is corrected to the family's (noted);
- spot: SkyPilot writes the on-demand price rounded to four decimals where a zone has no spot
  price; that marker, and any spot not below on-demand, is "no spot";
- AWS: standard zones only (no Local Zones); on-demand and spot = medians over the zones,
  spot only from zones that have one; Azure: one row per region;
- GCP: zone price = host row + the GPU row of the same zone for the family's accelerator and
  count (A2, A3, A4, G2 bundle their GPUs; N1 shapes as in tricloud's table); region = median;
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

from .families import KNOWN, UNCERTAIN_GPU_SHARE, family_gpus, family_of
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
# SkyPilot accelerator names -> tricloud's (where the instance family does not say).
TO_TRICLOUD = {
    "A100": "A100-40GB",
    "A100-80GB": "A100-80GB",
    "H100": "H100",
    "H200": "H200",
    "B200": "B200",
    "B300": "B300",
    "L4": "L4",
    "L40S": "L40S",
    "A10G": "A10G",
    "A10": "A10",
    "T4": "T4",
    "V100": "V100",
    "V100-32GB": "V100-32GB",
    "MI300X": "MI300X",
}
# GCP: the SkyPilot GPU row that prices each machine family's bundled GPUs.
GCP_GPU_ROW = {
    "a2-highgpu": "A100",
    "a2-megagpu": "A100",
    "a2-ultragpu": "A100-80GB",
    "a3-highgpu": "H100",
    "a3-edgegpu": "H100",
    "a3-megagpu": "H100-MEGA",
    "a3-ultragpu": "H200",
    "a4-highgpu": "B200",
    "g2": "L4",
    "n1": "T4",
}
# GCP machine families that carry GPUs (bundled, or attached for N1).
_GCP_GPU_FAMILY = re.compile(r"^(a\d+|g[2-9])-")
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


def marked(price: float, spot: float | None) -> float | None:
    """The spot column, or None where it is missing or SkyPilot's no-spot marker: the
    on-demand price rounded to four decimals (e.g. 30.09784 -> 30.0978, below on-demand)."""
    if spot is None or spot <= 0 or abs(spot - round(price, 4)) < 5e-7:
        return None
    return spot


def spot_of(price: float, spot: float | None) -> float | None:
    """A zone's spot price, or None: missing, the no-spot marker, or not below on-demand."""
    return usable_spot(price, marked(price, spot))


class _Skips:
    """Why rows were left out, one reason per (cloud, family), with the row count."""

    def __init__(self, cloud: str):
        self.cloud = cloud
        self.reasons: dict[str, str] = {}
        self.rows: dict[str, int] = defaultdict(int)

    def add(self, family: str, reason: str) -> None:
        self.reasons.setdefault(family, reason)
        self.rows[family] += 1

    def notes(self, kept: set[str]) -> list[str]:
        out = []
        for fam in sorted(self.reasons):
            part = " (other sizes of the family are kept)" if fam in kept else ""
            out.append(
                f"{self.cloud}: {fam} left out ({self.rows[fam]} rows){part}: {self.reasons[fam]}"
            )
        return out


# GCP's billing data prices some GPUs at a second, far lower level in some regions (e.g.
# H100 4.20 $/GPU-h in us-central1 against 9.80-12.74 elsewhere, often with spot above that
# "price"). A GPU row below this share of the upper quartile of its regions' per-GPU prices
# is taken for that error and its machine types are left out there.
LOW_TIER_SHARE = 0.6
LOW_TIER_MIN_REGIONS = 4


def low_gpu_tier(
    gpus: dict[tuple[str, int, str], tuple[float, float | None]],
) -> dict[tuple[str, int], tuple[float, dict[str, float]]]:
    """(GPU, count) -> (upper-quartile $/GPU-h, {region: $/GPU-h below the band})."""
    per_region: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for (name, count, zone), (price, _) in gpus.items():
        region = zone.rsplit("-", 1)[0] if re.search(r"-[a-z]$", zone) else zone
        per_region[(name, count)][region] = price / count
    out = {}
    for key, prices in per_region.items():
        if len(prices) < LOW_TIER_MIN_REGIONS:
            continue
        ranked = sorted(prices.values())
        upper = ranked[(3 * len(ranked)) // 4]
        low = {r: p for r, p in prices.items() if p < LOW_TIER_SHARE * upper}
        if low:
            out[key] = (upper, low)
    return out


def convert(
    cloud: str, rows: list[tuple[int, dict]], regions: set[str], keep_low_tier: bool = False
) -> Imported:
    result = Imported()
    # (type, region) -> facts and per-zone (zone, price, spot)
    groups: dict[tuple[str, str], list[tuple[str, float, float | None]]] = defaultdict(list)
    facts: dict[str, tuple[str, int, int, float]] = {}
    other_regions: set[str] = set()
    corrected: dict[str, tuple[int, int]] = {}
    skips = _Skips(cloud)
    gpus: dict[tuple[str, int, str], tuple[float, float | None]] = {}
    if cloud == "gcp":
        for _, row in rows:
            if not row["InstanceType"].strip() and row["AcceleratorName"].strip():
                price, count = _num(row, "Price"), _num(row, "AcceleratorCount")
                if price and count and count == int(count):
                    zone = (row.get("AvailabilityZone") or row["Region"]).strip()
                    # A GPU row's spot may exceed its price (seen for A100-80GB, H200):
                    # only the host + GPU total must be below on-demand.
                    gpus[(row["AcceleratorName"].strip(), int(count), zone)] = (
                        price,
                        marked(price, _num(row, "SpotPrice")),
                    )
    low = {} if keep_low_tier else low_gpu_tier(gpus)
    for (name, count), (upper, where) in sorted(low.items()):
        spot_above = sum(
            1
            for (n, c, z), (p, sp) in gpus.items()
            if (n, c) == (name, count) and sp is not None and sp > p
        )
        shown = ", ".join(f"{r} {p:.2f}" for r, p in sorted(where.items()))
        result.notes.append(
            f"gcp: {name} x{count} GPU rows left out in {len(where)} regions ({shown} $/GPU-h): "
            f"below {LOW_TIER_SHARE:g} x the upper quartile {upper:.2f} of its regions: a second, "
            "cheaper SKU (commitment or flex-start tier?) mixed into the list prices"
            + (f" (spot above that price in {spot_above} zones)" if spot_above else "")
        )
    for _, row in rows:
        itype, region = row["InstanceType"].strip(), row["Region"].strip()
        if not itype:
            continue  # a GCP GPU row, used above
        family = family_of(cloud, itype)
        zone = (row.get("AvailabilityZone") or "").strip()
        price = _num(row, "Price")
        if cloud == "gcp":
            known = family_gpus("gcp", itype)
            if known is None:
                if _GCP_GPU_FAMILY.match(itype):
                    reason = (
                        "a variant of a listed machine type (same GPUs, no local SSD)"
                        if itype.endswith("-nolssd")
                        else "GPU machine family not in tools/catalog/families.py"
                    )
                    skips.add(family, reason)
                continue
            if len(known[1]) == 1:
                acc, count = known[0], known[1][0]
            elif ("gcp", itype) in KNOWN:  # attached GPUs (N1): tricloud's shapes only
                acc, count = KNOWN[("gcp", itype)].accelerator, KNOWN[("gcp", itype)].count
            else:
                skips.add(
                    "n1 + attached GPUs",
                    "only n1-standard-8 + 1 T4 is represented: another host/GPU combination "
                    "has no single instance-type name",
                )
                continue
            if not price or price <= 0:
                skips.add(family, "no on-demand price")
                continue
            gpu = gpus.get((GCP_GPU_ROW[family], count, zone or region))
            if gpu is None:
                continue  # the zone has the host but not its GPUs
            if region in low.get((GCP_GPU_ROW[family], count), (0, {}))[1]:
                continue  # said once per GPU above
            host_spot = marked(price, _num(row, "SpotPrice"))
            total = price + gpu[0]
            both = host_spot is not None and gpu[1] is not None
            price, spot = total, usable_spot(total, host_spot + gpu[1]) if both else None
        else:
            name = row["AcceleratorName"].strip()
            if not name:
                continue  # no GPU
            if cloud == "aws" and not _standard_zone(zone):
                continue  # a Local or Wavelength Zone: another metro, other prices
            known = family_gpus(cloud, itype)
            acc = known[0] if known is not None else TO_TRICLOUD.get(name)
            raw = _num(row, "AcceleratorCount")
            arch = (row.get("Arch") or "").strip()
            if arch not in ("", "x86_64"):
                skips.add(family, f"{name} on {arch} hosts: tricloud's GPU nodes run x86_64 images")
                continue
            if family in UNCERTAIN_GPU_SHARE:
                skips.add(family, UNCERTAIN_GPU_SHARE[family])
                continue
            if acc is None:
                skips.add(family, f"{name} is not an accelerator tricloud knows")
                continue
            if not raw or raw != int(raw):
                skips.add(
                    family,
                    f"fractional GPUs ({raw:g} {name} per VM): a share of a GPU cannot hold a replica"
                    if raw
                    else f"no GPU count for {name}",
                )
                continue
            if not price or price <= 0:
                skips.add(family, "no on-demand price")
                continue
            count = int(raw)
            if known is not None and count not in known[1] and len(known[1]) == 1:
                corrected[itype] = (count, known[1][0])
                count = known[1][0]
            spot = spot_of(price, _num(row, "SpotPrice"))
        if region not in regions:
            other_regions.add(region)
            continue
        vcpus, mem = _num(row, "vCPUs"), _num(row, "MemoryGiB")
        if not vcpus or not mem:
            continue
        facts[itype] = (acc, count, int(vcpus), mem)
        groups[(itype, region)].append((zone, price, spot))
    kept_families = set()
    for (itype, region), zones in sorted(groups.items()):
        acc, count, vcpus, mem = facts[itype]
        kept_families.add(family_of(cloud, itype))
        od = median([p for _, p, _ in zones])
        spots = [s for _, _, s in zones if s is not None]
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
    result.notes += skips.notes(kept_families)
    if other_regions:
        shown = ", ".join(sorted(other_regions)[:6]) + (", ..." if len(other_regions) > 6 else "")
        result.notes.append(
            f"{cloud}: GPU offerings in {len(other_regions)} regions not in regions.csv left out ({shown})"
        )
    return result
