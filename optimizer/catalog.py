"""The price and region snapshot: load, validate, and look up.

`load(path)` reads the CSV files of a catalog folder (see `data/README.md`), checks every
row and raises one `InputError` listing every problem as `file:row: reason`.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import Collector

DEFAULT_PATH = Path(__file__).parent / "data"
CLOUDS = ("aws", "azure", "gcp")
HOURS_PER_MONTH = 730.0
# GKE free tier: 74.40 USD of monthly credit per billing account, applied only to the
# management fee of zonal and Autopilot clusters (cloud.google.com/kubernetes-engine/pricing,
# read 2026-12-02). It covers one zonal cluster's fee; unused credit is not rolled over.
GKE_FREE_TIER_CREDIT_USD_MONTH = 74.40
# The system node pool every cluster runs beside its GPU pools: (instance type, nodes). Its
# price is `system_pool_usd_hr` in clusters.csv (data/README.md); the components declare it.
SYSTEM_POOL: dict[str, tuple[str, int]] = {
    "aws": ("m6i.large", 2),
    "azure": ("Standard_D2s_v5", 2),
    "gcp": ("e2-standard-2", 2),
}

# Memory per GPU (GB) of each accelerator name; an accelerator not listed is unknown to
# tricloud. One name per hardware part, so a throughputRps key means one memory size: the
# Azure NC H100 v5 sizes carry the 94 GB H100 NVL, not the 80 GB H100 SXM. Each offering
# states its memory (`accelerator_memory_gb`); `tools.catalog validate` checks it against this.
ACCELERATOR_MEMORY_GB: dict[str, float] = {
    "T4": 16,
    "V100": 16,
    "V100-32GB": 32,
    "L4": 24,
    "A10": 24,
    "A10G": 24,
    "L40S": 48,
    "A100-40GB": 40,
    "A100-80GB": 80,
    "H100": 80,
    "H100-NVL": 94,
    "H200": 141,
    "B200": 180,
    "B300": 288,
    "MI300X": 192,
}
ACCELERATORS = tuple(sorted(ACCELERATOR_MEMORY_GB))
EGRESS_KINDS = ("internet", "inter_region_same_continent", "inter_region_intercontinental")

OFFERINGS_COLUMNS = [
    "cloud",
    "region",
    "instance_type",
    "accelerator",
    "accelerator_count",
    "accelerator_memory_gb",
    "vcpus",
    "memory_gb",
    "price_on_demand_usd_hr",
    "price_spot_usd_hr",
]
REGIONS_COLUMNS = ["cloud", "region", "city", "country", "continent", "latitude", "longitude"]
EGRESS_COLUMNS = ["cloud", "kind", "usd_per_gb"]
EGRESS_BY_SOURCE_COLUMNS = ["cloud", "source_continent", "kind", "usd_per_gb"]
CLUSTERS_COLUMNS = ["cloud", "control_plane_usd_hr", "system_pool_usd_hr", "load_balancer_usd_hr"]
LATENCY_COLUMNS = ["geo", "cloud", "region", "rtt_ms"]
ZONES_COLUMNS = ["cloud", "region", "instance_type", "zones"]
# zones.csv values: an Azure size offered in its region but in no availability zone, and zones
# not known (no source lists them); either way the node pool takes no zones.
NO_ZONES = "-"
UNKNOWN_ZONES = "?"

_SNAPSHOT_RE = re.compile(r"^Snapshot date:\s*(\d{4}-\d{2}-\d{2})", re.MULTILINE)


@dataclass(frozen=True)
class Region:
    cloud: str
    region: str
    city: str
    country: str
    continent: str
    latitude: float
    longitude: float

    @property
    def key(self) -> str:
        return f"{self.cloud}/{self.region}"


@dataclass(frozen=True)
class Offering:
    cloud: str
    region: str
    instance_type: str
    accelerator: str
    accelerator_count: int
    accelerator_memory_gb: float
    vcpus: int
    memory_gb: float
    price_on_demand: float
    price_spot: float | None  # None: spot not offered
    # Zones of the region that offer the type, sorted, as the cloud's API takes them: AWS AZ
    # IDs (use1-az1, the same zone in every account), GCP zone names (us-central1-a), Azure
    # zone numbers (1 2 3). Empty: an Azure size in no zone, or zones not known.
    zones: tuple[str, ...] = ()
    # False when the catalog does not know the zones (Azure "?", or no zones.csv at all).
    zones_known: bool = False

    @property
    def region_key(self) -> str:
        return f"{self.cloud}/{self.region}"

    def price(self, pricing: str) -> float:
        return self.price_on_demand if pricing == "on-demand" else self.price_spot  # type: ignore[return-value]


@dataclass(frozen=True)
class ClusterFees:
    control_plane_usd_hr: float
    system_pool_usd_hr: float
    load_balancer_usd_hr: float

    @property
    def monthly_usd(self) -> float:
        hourly = self.control_plane_usd_hr + self.system_pool_usd_hr + self.load_balancer_usd_hr
        return hourly * HOURS_PER_MONTH

    @property
    def gke_free_tier_credit_usd(self) -> float:
        """Monthly credit on one zonal GKE cluster: its management fee, at most the free tier."""
        return min(GKE_FREE_TIER_CREDIT_USD_MONTH, self.control_plane_usd_hr * HOURS_PER_MONTH)


@dataclass(frozen=True)
class Catalog:
    path: str
    snapshot: str
    sha256: str
    offerings: tuple[Offering, ...]
    regions: dict[str, Region]  # key "cloud/region"
    egress: dict[tuple[str, str], float]  # (cloud, kind) -> USD/GB
    clusters: dict[str, ClusterFees]
    latency: dict[tuple[str, str], float]  # (geo, "cloud/region") -> measured RTT ms
    # (cloud, source continent, kind) -> USD/GB where a cloud prices by source region
    # (egress_by_source.csv); egress.csv's (cloud, kind) price elsewhere.
    egress_by_source: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def egress_usd_per_gb(self, source: str, target: str) -> float:
        """Transfer price per GB from region key `source` to region key `target`."""
        if source == target:
            return 0.0
        src = self.regions[source]
        return self.egress_from(src.cloud, src.continent, target)

    def egress_from(self, cloud: str, continent: str, target: str) -> float:
        """USD/GB from any region of `cloud` on `continent` to another region `target`.

        The price depends on the source's (cloud, continent) only, never on the source region
        itself: the optimizer linearises egress per (cloud, continent) group."""
        dst = self.regions[target]
        if dst.cloud != cloud:
            kind = "internet"
        elif dst.continent == continent:
            kind = "inter_region_same_continent"
        else:
            kind = "inter_region_intercontinental"
        by_source = self.egress_by_source.get((cloud, continent, kind))
        return self.egress[(cloud, kind)] if by_source is None else by_source


def _read_csv(path: Path, columns: list[str], errors: Collector) -> list[tuple[int, dict]]:
    name = path.name
    if not path.exists():
        errors.add(name, "file is missing")
        return []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        if header != columns:
            errors.add(f"{name}:1", f"header is {','.join(header)}; expected {','.join(columns)}")
            return []
        # Line numbers as an editor shows them (blank lines counted): the header is line 1.
        return [(reader.line_num, row) for row in reader]


def _number(value: str | None, where: str, what: str, errors: Collector, *, positive=True):
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        errors.add(where, f"{what} {value!r} is not a number")
        return None
    if not math.isfinite(x) or (positive and x <= 0) or (not positive and x < 0):
        errors.add(where, f"{what} {value!r} must be {'> 0' if positive else '>= 0'}")
        return None
    return x


def load(path: str | Path | None = None) -> Catalog:
    """Load and validate a catalog folder; raises `InputError` listing every problem."""
    root = Path(path) if path is not None else DEFAULT_PATH
    errors = Collector()
    if not root.is_dir():
        errors.add(str(root), "catalog folder does not exist")
        errors.raise_if_any("invalid catalog")

    regions: dict[str, Region] = {}
    n_before_regions = len(errors.problems)
    bad_regions: set[str] = set()  # rows already reported: their offerings are not reported again
    region_rows = _read_csv(root / "regions.csv", REGIONS_COLUMNS, errors)
    regions_readable = len(errors.problems) == n_before_regions
    for row_no, row in region_rows:
        where = f"regions.csv:{row_no}"
        if row["cloud"] not in CLOUDS:
            errors.add(where, f"unknown cloud {row['cloud']!r}; known: {', '.join(CLOUDS)}")
            continue
        lat = _signed(row["latitude"], where, errors)
        lon = _signed(row["longitude"], where, errors)
        if lat is None or lon is None:
            bad_regions.add(f"{row['cloud']}/{row['region']}")
            continue
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            errors.add(where, f"coordinates {lat},{lon} out of range")
            bad_regions.add(f"{row['cloud']}/{row['region']}")
            continue
        key = f"{row['cloud']}/{row['region']}"
        if key in regions:
            errors.add(where, f"duplicate region {key}")
            continue
        regions[key] = Region(
            row["cloud"], row["region"], row["city"], row["country"], row["continent"], lat, lon
        )

    offerings: list[Offering] = []
    seen: set[tuple[str, str, str]] = set()
    offering_lines: dict[tuple[str, str, str], int] = {}
    n_before_offerings = len(errors.problems)
    for row_no, row in _read_csv(root / "offerings.csv", OFFERINGS_COLUMNS, errors):
        where = f"offerings.csv:{row_no}"
        n_before = len(errors.problems)
        key = (row["cloud"], row["region"], row["instance_type"])
        offering_lines.setdefault(key, row_no)
        if row["cloud"] not in CLOUDS:
            errors.add(where, f"unknown cloud {row['cloud']!r}; known: {', '.join(CLOUDS)}")
        elif (
            regions_readable
            and f"{row['cloud']}/{row['region']}" not in regions
            and f"{row['cloud']}/{row['region']}" not in bad_regions
        ):
            errors.add(where, f"region {row['cloud']}/{row['region']} is not in regions.csv")
        if key in seen:
            errors.add(where, f"duplicate offering {'/'.join(key)}")
        seen.add(key)
        acc = row["accelerator"]
        if acc not in ACCELERATOR_MEMORY_GB:
            errors.add(where, f"unknown accelerator {acc!r}; known: {', '.join(ACCELERATORS)}")
        count = _number(row["accelerator_count"], where, "accelerator_count", errors)
        if count is not None and count != int(count):
            errors.add(where, f"accelerator_count {row['accelerator_count']!r} is not an integer")
        mem = _number(row["accelerator_memory_gb"], where, "accelerator_memory_gb", errors)
        vcpus = _number(row["vcpus"], where, "vcpus", errors)
        memory = _number(row["memory_gb"], where, "memory_gb", errors)
        od = _number(row["price_on_demand_usd_hr"], where, "price_on_demand_usd_hr", errors)
        spot = None
        if (row["price_spot_usd_hr"] or "").strip():
            spot = _number(row["price_spot_usd_hr"], where, "price_spot_usd_hr", errors)
            if spot is not None and od is not None and spot > od:
                errors.add(where, f"spot price {spot} exceeds on-demand price {od}")
        if len(errors.problems) == n_before:
            offerings.append(
                Offering(
                    row["cloud"],
                    row["region"],
                    row["instance_type"],
                    acc,
                    int(count),
                    mem,
                    int(vcpus),
                    memory,
                    od,
                    spot,
                )
            )

    # zones.csv is matched against offerings.csv only when that file is clean: a broken row
    # would otherwise be reported a second time as a zones row without an offering.
    offerings_clean = len(errors.problems) == n_before_offerings

    egress: dict[tuple[str, str], float] = {}
    for row_no, row in _read_csv(root / "egress.csv", EGRESS_COLUMNS, errors):
        where = f"egress.csv:{row_no}"
        if row["cloud"] not in CLOUDS or row["kind"] not in EGRESS_KINDS:
            errors.add(
                where,
                f"unknown cloud/kind {row['cloud']}/{row['kind']}; kinds: "
                f"{', '.join(EGRESS_KINDS)}",
            )
            continue
        price = _number(row["usd_per_gb"], where, "usd_per_gb", errors, positive=False)
        if (row["cloud"], row["kind"]) in egress:
            errors.add(where, f"duplicate egress price {row['cloud']}/{row['kind']}")
        elif price is not None:
            egress[(row["cloud"], row["kind"])] = price

    egress_by_source: dict[tuple[str, str, str], float] = {}
    if (root / "egress_by_source.csv").exists():
        continents = {r.continent for r in regions.values()}
        rows = _read_csv(root / "egress_by_source.csv", EGRESS_BY_SOURCE_COLUMNS, errors)
        for row_no, row in rows:
            where = f"egress_by_source.csv:{row_no}"
            cloud, continent, kind = row["cloud"], row["source_continent"], row["kind"]
            if cloud not in CLOUDS or kind not in EGRESS_KINDS:
                errors.add(
                    where,
                    f"unknown cloud/kind {cloud}/{kind}; kinds: {', '.join(EGRESS_KINDS)}",
                )
                continue
            if continents and continent not in continents:  # else regions.csv is broken
                errors.add(
                    where,
                    f"source_continent {continent!r} is no continent of regions.csv "
                    f"({', '.join(sorted(continents))})",
                )
                continue
            price = _number(row["usd_per_gb"], where, "usd_per_gb", errors, positive=False)
            if (cloud, continent, kind) in egress_by_source:
                errors.add(where, f"duplicate egress price {cloud}/{continent}/{kind}")
            elif price is not None:
                egress_by_source[(cloud, continent, kind)] = price

    clusters: dict[str, ClusterFees] = {}
    for row_no, row in _read_csv(root / "clusters.csv", CLUSTERS_COLUMNS, errors):
        where = f"clusters.csv:{row_no}"
        if row["cloud"] not in CLOUDS:
            errors.add(where, f"unknown cloud {row['cloud']!r}; known: {', '.join(CLOUDS)}")
            continue
        fees = [_number(row[c], where, c, errors, positive=False) for c in CLUSTERS_COLUMNS[1:]]
        if row["cloud"] in clusters:
            errors.add(where, f"duplicate cluster fees for {row['cloud']}")
        elif None not in fees:
            clusters[row["cloud"]] = ClusterFees(*fees)  # type: ignore[arg-type]

    used_clouds = sorted({o.cloud for o in offerings})
    for cloud in used_clouds:
        if cloud not in clusters:
            errors.add("clusters.csv", f"no cluster fees for cloud {cloud}")
        for kind in EGRESS_KINDS:
            if (cloud, kind) not in egress:
                errors.add("egress.csv", f"no {kind} price for cloud {cloud}")

    latency: dict[tuple[str, str], float] = {}
    if (root / "latency.csv").exists():
        from .geo import GEOS  # local import: geo imports nothing from here at module load

        for row_no, row in _read_csv(root / "latency.csv", LATENCY_COLUMNS, errors):
            where = f"latency.csv:{row_no}"
            key = f"{row['cloud']}/{row['region']}"
            if row["geo"] not in GEOS:
                errors.add(where, f"unknown geo {row['geo']!r}; known: {', '.join(GEOS)}")
            elif key not in regions:
                errors.add(where, f"region {key} is not in regions.csv")
            else:
                rtt = _number(row["rtt_ms"], where, "rtt_ms", errors)
                if rtt is not None:
                    latency[(row["geo"], key)] = rtt

    if (root / "zones.csv").exists():
        offerings = _with_zones(
            root / "zones.csv", offerings, seen, offering_lines, errors, match=offerings_clean
        )

    errors.raise_if_any(f"invalid catalog {root}")

    digest = hashlib.sha256()
    files = ("offerings.csv", "regions.csv", "egress.csv", "egress_by_source.csv")
    for name in (*files, "clusters.csv", "latency.csv"):
        if (root / name).exists():
            digest.update(name.encode() + b"\0" + (root / name).read_bytes())
    readme = root / "README.md"
    match = _SNAPSHOT_RE.search(readme.read_text()) if readme.exists() else None
    offerings.sort(key=lambda o: (o.cloud, o.region, o.instance_type))
    return Catalog(
        path=str(root),
        snapshot=match.group(1) if match else "undated",
        sha256=digest.hexdigest(),
        offerings=tuple(offerings),
        regions=dict(sorted(regions.items())),
        egress=egress,
        clusters=clusters,
        latency=latency,
        egress_by_source=egress_by_source,
    )


# AWS AZ IDs (use1-az1) are the same physical zone in every account; AZ names (us-east-1a)
# are mapped per account in the older regions, so a shared catalog cannot carry them.
_AWS_DIRECTIONS = {
    "east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
    "northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw", "gov": "g",
}  # fmt: skip


def aws_zone_id_prefix(region: str) -> str | None:
    """`use1` for us-east-1, `apne1` for ap-northeast-1; None if the name has another shape."""
    parts = region.split("-")
    if len(parts) < 3 or not parts[-1].isdigit():
        return None
    if any(p not in _AWS_DIRECTIONS for p in parts[1:-1]):
        return None
    return parts[0] + "".join(_AWS_DIRECTIONS[p] for p in parts[1:-1]) + parts[-1]


def zone_problem(cloud: str, region: str, zone: str) -> str | None:
    """Why `zone` cannot be a zone of `cloud`/`region`, or None when it can."""
    if cloud == "aws":
        prefix = aws_zone_id_prefix(region)
        if prefix is None:
            return f"cannot derive the AZ ID prefix of AWS region {region!r}"
        ok = re.fullmatch(rf"{re.escape(prefix)}-az\d+", zone)
        form = f"an AZ ID of {region} ({prefix}-az1; Local Zones are not zones of the region)"
    elif cloud == "gcp":
        ok = re.fullmatch(rf"{re.escape(region)}-[a-z]", zone)
        form = f"{region}-<letter> ({region}-a)"
    else:
        ok = zone in ("1", "2", "3")
        form = "1, 2 or 3"
    return None if ok else f"zone {zone!r} is not a zone of {cloud}/{region}; expected {form}"


def parse_zones(cloud: str, region: str, text: str) -> tuple[tuple[str, ...], bool, list[str]]:
    """(zones, known, problems) of one zones.csv value."""
    value = (text or "").strip()
    if value == UNKNOWN_ZONES:
        return (), False, []
    if value == NO_ZONES:
        wrong = f"{NO_ZONES!r} (no zones) is for Azure sizes only; list the {cloud} zones"
        return (), True, [] if cloud == "azure" else [wrong]
    zones = tuple(value.split())
    if not zones:
        hint = f", {NO_ZONES!r} for none (Azure)" if cloud == "azure" else ""
        empty = f"zones is empty; list the zones that offer the type{hint}, or {UNKNOWN_ZONES!r}"
        return (), True, [empty + " if not known"]
    problems = [p for z in zones if (p := zone_problem(cloud, region, z))]
    if len(set(zones)) != len(zones):
        problems.append(f"zones {value!r} lists a zone twice")
    elif list(zones) != sorted(zones):
        problems.append(f"zones {value!r} are not sorted; write {' '.join(sorted(zones))!r}")
    return zones, True, problems


def _with_zones(
    path: Path,
    offerings: list[Offering],
    keys: set[tuple[str, str, str]],
    lines: dict[tuple[str, str, str], int],
    errors: Collector,
    match: bool = True,
) -> list[Offering]:
    """The offerings with their zones from zones.csv: exactly one row per offering."""
    n_before = len(errors.problems)
    rows = _read_csv(path, ZONES_COLUMNS, errors)
    if len(errors.problems) > n_before:
        return offerings  # the header is wrong: the loader has said so
    found: dict[tuple[str, str, str], tuple[tuple[str, ...], bool]] = {}
    for row_no, row in rows:
        where = f"zones.csv:{row_no}"
        key = (row["cloud"], row["region"], row["instance_type"])
        if key in found:
            errors.add(where, f"duplicate zones row for {'/'.join(key)}")
            continue
        if match and key not in keys:
            errors.add(where, f"{'/'.join(key)} is not an offering in offerings.csv")
            continue
        zones, known, problems = parse_zones(row["cloud"], row["region"], row["zones"])
        for p in problems:
            errors.add(where, p)
        found[key] = (zones, known)
    for o in offerings:
        key = (o.cloud, o.region, o.instance_type)
        if match and key not in found:
            errors.add(
                "zones.csv",
                f"no row for offering {'/'.join(key)} (offerings.csv:{lines[key]}); "
                f"every offering needs its zones{' (or - for none)' if o.cloud == 'azure' else ''}",
            )
    out = []
    for o in offerings:
        zones, known = found.get((o.cloud, o.region, o.instance_type), ((), False))
        out.append(replace(o, zones=zones, zones_known=known))
    return out


def _signed(value: str | None, where: str, errors: Collector) -> float | None:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        errors.add(where, f"coordinate {value!r} is not a number")
        return None
    return x
