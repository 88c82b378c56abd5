"""A large synthetic catalog for benchmarks: the shipped snapshot with every region copied.

Copy j of region R is `R-xJ`: its coordinates are moved by up to ~2 degrees and its prices
scaled by up to +/-10 %, both from a generator seeded with the copy's name, so the catalog
is the same on every machine. Copies keep the original's cloud, continent, egress and
cluster fees. Nothing here is a real price: it exists to measure the solver at scale.
"""

from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

from optimizer import catalog as catalog_mod
from optimizer.catalog import OFFERINGS_COLUMNS, REGIONS_COLUMNS


def write(out: Path, copies: int, source: Path | None = None) -> Path:
    """Write a catalog with `copies` versions of every region (the original included)."""
    src = Path(source) if source else catalog_mod.DEFAULT_PATH
    out.mkdir(parents=True, exist_ok=True)
    for name in ("egress.csv", "egress_by_source.csv", "clusters.csv"):
        if (src / name).exists():  # egress_by_source.csv is optional
            shutil.copyfile(src / name, out / name)
    with (src / "regions.csv").open(newline="") as f:
        regions = list(csv.DictReader(f))
    with (src / "offerings.csv").open(newline="") as f:
        offerings = list(csv.DictReader(f))
    region_rows, offering_rows = [], []
    for j in range(copies):
        for row in regions:
            name = row["region"] if j == 0 else f"{row['region']}-x{j}"
            rng = random.Random(f"{row['cloud']}/{name}")
            lat = float(row["latitude"]) + (rng.uniform(-2, 2) if j else 0.0)
            lon = float(row["longitude"]) + (rng.uniform(-2, 2) if j else 0.0)
            region_rows.append(
                {
                    **row,
                    "region": name,
                    "latitude": f"{max(-89.0, min(89.0, lat)):.2f}",
                    "longitude": f"{lon:.2f}",
                }
            )
        for row in offerings:
            name = row["region"] if j == 0 else f"{row['region']}-x{j}"
            rng = random.Random(f"{row['cloud']}/{name}/{row['instance_type']}")
            factor = 1.0 + (rng.uniform(-0.10, 0.10) if j else 0.0)
            od = float(row["price_on_demand_usd_hr"]) * factor
            spot = row["price_spot_usd_hr"]
            spot = f"{min(float(spot) * factor, od):.5f}" if spot else ""
            offering_rows.append(
                {
                    **row,
                    "region": name,
                    "price_on_demand_usd_hr": f"{od:.5f}",
                    "price_spot_usd_hr": spot,
                }
            )
    for name, columns, rows in (
        ("regions.csv", REGIONS_COLUMNS, region_rows),
        ("offerings.csv", OFFERINGS_COLUMNS, offering_rows),
    ):
        with (out / name).open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    (out / "README.md").write_text(
        f"Synthetic benchmark catalog: the shipped snapshot with {copies} copies of every region.\n"
        "Not real prices. Made by bench/synthetic.py.\n"
    )
    return out
