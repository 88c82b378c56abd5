"""`refresh`: build a catalog folder from the clouds' public price data.

Offerings of the selected clouds and regions are replaced by fresh ones; everything else
(other clouds, other regions, `regions.csv`, `egress.csv`, `clusters.csv`) is copied from the
base snapshot, and the folder's README.md says exactly what was fetched and what was kept.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

from optimizer import catalog as catalog_mod
from optimizer.catalog import Offering

from . import aws, azure, gcp, zones
from .http import FetchError, Http
from .rows import COPIED_FILES, copy_side_files, usable_spot, write_offerings, write_zones

CLOUDS = ("aws", "azure", "gcp")
URL_VARS = {
    "azure": ("TRICLOUD_AZURE_PRICES_URL", azure.DEFAULT_URL),
    "aws": ("TRICLOUD_AWS_PRICING_URL", aws.DEFAULT_URL),
    "ec2": ("TRICLOUD_AWS_EC2_URL", aws.DEFAULT_EC2_URL),
    "gcp": ("TRICLOUD_GCP_BILLING_URL", gcp.DEFAULT_URL),
    "gcp-compute": ("TRICLOUD_GCP_COMPUTE_URL", zones.DEFAULT_GCP_COMPUTE_URL),
    "azure-arm": ("TRICLOUD_AZURE_ARM_URL", zones.DEFAULT_AZURE_ARM_URL),
}


def url(name: str, env=os.environ) -> str:
    var, default = URL_VARS[name]
    return env.get(var) or default


@dataclass
class Source:
    cloud: str
    text: str  # what was read, for the README table
    rows: int


@dataclass
class Outcome:
    offerings: list[Offering]
    sources: list[Source] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # what came from the base snapshot, and why
    notes: list[str] = field(default_factory=list)


def note(outcome: Outcome, text: str, kept: bool = False) -> None:
    (outcome.kept if kept else outcome.notes).append(text)
    print(f"{'kept' if kept else 'note'}: {text}", file=sys.stderr)


def refresh(
    base: catalog_mod.Catalog,
    clouds: list[str],
    regions: dict[str, list[str]],
    http: Http,
    env=os.environ,
    gcp_all_priced: bool = False,
) -> Outcome:
    """Fresh offerings for `clouds` x `regions[cloud]`; the rest from `base`."""
    fresh: dict[str, list[Offering]] = {}
    out = Outcome([])
    refreshed: set[str] = set()
    requested = list(clouds)
    for cloud in [c for c in clouds if not regions.get(c)]:
        note(
            out,
            f"{cloud}: no region of it selected (--regions); its offerings are the previous snapshot's.",
            kept=True,
        )
    clouds = [c for c in clouds if regions.get(c)]
    if "azure" in clouds:
        r = azure.fetch(http, regions["azure"], url("azure", env))
        fresh["azure"] = r.offerings
        out.sources.append(
            Source(
                "azure",
                f"Azure Retail Prices API `{url('azure', env)}`: {r.pages} pages, {r.items} price items",
                len(r.offerings),
            )
        )
        for n in r.notes:
            note(out, n)
    if "aws" in clouds:
        creds = aws.credentials(env)
        r = aws.fetch(http, regions["aws"], url("aws", env), url("ec2", env), creds)
        rows = r.offerings
        if r.spot_source == "none":
            old = {
                (o.region, o.instance_type): o.price_spot
                for o in base.offerings
                if o.cloud == "aws"
            }
            kept = dropped = 0
            patched = []
            for o in rows:
                spot = old.get((o.region, o.instance_type))
                use = usable_spot(o.price_on_demand, spot)
                kept += use is not None
                dropped += spot is not None and use is None
                patched.append(_with_spot(o, use))
            rows = patched
            note(
                out,
                "AWS spot prices: no AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) "
                "in the environment, so EC2 spot price history was not read; the previous "
                f"snapshot's spot prices are kept for {kept} of {len(rows)} AWS rows"
                + (f" ({dropped} dropped: not below the new on-demand price)" if dropped else "")
                + "; AWS rows new to this snapshot have no spot price.",
                kept=True,
            )
        fresh["aws"] = rows
        spot_text = (
            "spot from EC2 DescribeSpotPriceHistory"
            if r.spot_source == "ec2"
            else "spot kept from the previous snapshot"
        )
        out.sources.append(
            Source(
                "aws",
                f"AWS Price List offer files `{url('aws', env)}{aws.INDEX_PATH}`: {r.files} region files, {r.products} products; {spot_text}",
                len(rows),
            )
        )
        for n in r.notes:
            note(out, n)
    if "gcp" in clouds:
        found = gcp.api_key(env)
        if found is None:
            note(
                out,
                f"gcp: not refreshed: no API key in {' or '.join(gcp.KEY_VARS)}; its offerings are the previous snapshot's.",
                kept=True,
            )
        else:
            r = gcp.fetch(http, found[1], regions["gcp"], url("gcp", env))
            rows = r.offerings
            if not gcp_all_priced:
                # The billing catalog prices SKUs per region; it does not say where a machine
                # type exists. Keep the (type, region) pairs the base snapshot knows to exist.
                exists = {(o.region, o.instance_type) for o in base.offerings if o.cloud == "gcp"}
                extra = [o for o in rows if (o.region, o.instance_type) not in exists]
                rows = [o for o in rows if (o.region, o.instance_type) in exists]
                if extra:
                    note(
                        out,
                        f"gcp: {len(extra)} priced (type, region) pairs absent from the previous snapshot left out "
                        "(the billing catalog does not say whether the machine type exists there; "
                        "--gcp-all-priced-regions keeps them)",
                    )
            fresh["gcp"] = rows
            out.sources.append(
                Source(
                    "gcp",
                    f"Cloud Billing Catalog `{url('gcp', env)}/v1/{gcp.SERVICE}/skus` (key from {found[0]}): {r.pages} pages, {r.skus} SKUs, {r.used} used",
                    len(rows),
                )
            )
            for n in r.notes:
                note(out, n)
    for cloud, rows in fresh.items():
        if not rows:
            raise EmptySource(
                f"{cloud}: no offering could be read for the selected regions; nothing written (has the price format changed?)"
            )
        refreshed.add(cloud)
    offerings: list[Offering] = []
    for cloud in CLOUDS:
        wanted = set(regions.get(cloud, []))
        if cloud in refreshed:
            offerings += fresh[cloud]
            old = [o for o in base.offerings if o.cloud == cloud and o.region not in wanted]
            if old:
                note(
                    out,
                    f"{cloud}: {len(old)} offerings in regions not refreshed ({', '.join(sorted({o.region for o in old}))}) copied from the previous snapshot.",
                    kept=True,
                )
            offerings += old
        else:
            old = [o for o in base.offerings if o.cloud == cloud]
            if cloud not in requested and old:
                note(
                    out,
                    f"{cloud}: not selected (--clouds); its {len(old)} offerings are the previous snapshot's.",
                    kept=True,
                )
            offerings += old
    out.offerings = _with_zones(out, base, offerings, refreshed, regions, http, env)
    return out


class EmptySource(Exception):
    pass


def _with_spot(o: Offering, spot: float | None) -> Offering:
    return replace(o, price_spot=spot)


def _fetch_zones(cloud, regions, types, http, env) -> tuple[zones.Zones, str] | None:
    """Zones of `cloud` from its API, with the text for the README; None without credentials."""
    found: zones.Zones = {}
    if cloud == "aws":
        creds = aws.credentials(env)
        if creds is None:
            return None
        for region in regions:
            wanted = sorted({t for (r, t) in types if r == region})
            if wanted:
                found.update(zones.fetch_aws(http, region, wanted, creds, url("ec2", env)))
        return found, "EC2 DescribeInstanceTypeOfferings (LocationType availability-zone-id)"
    if cloud == "gcp":
        gcreds = zones.gcp_credentials(env)
        if gcreds is None:
            return None
        wanted = sorted({t for (_, t) in types})
        found = zones.fetch_gcp(http, gcreds, regions, wanted, url("gcp-compute", env))
        return found, f"Compute Engine aggregated machineTypes/acceleratorTypes ({gcreds.source})"
    acreds = zones.azure_credentials(env)
    if acreds is None:
        return None
    for region in regions:
        wanted = sorted({t for (r, t) in types if r == region})
        if wanted:
            found.update(zones.fetch_azure(http, acreds, region, wanted, url("azure-arm", env)))
    return found, f"Azure Resource SKUs locationInfo zones ({acreds.source})"


_ZONE_VARS = {
    "aws": "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    "gcp": " and ".join(zones.GCP_VARS),
    "azure": " and ".join(zones.AZURE_VARS),
}


def _with_zones(out, base, offerings, refreshed, regions, http, env) -> list[Offering]:
    """Zones for the refreshed offerings: from the cloud's API, else kept from `base`."""
    previous = {(o.cloud, o.region, o.instance_type): o for o in base.offerings}
    result: list[Offering] = []
    for cloud in CLOUDS:
        mine = [o for o in offerings if o.cloud == cloud]
        wanted = set(regions.get(cloud, [])) if cloud in refreshed else set()
        fresh = [o for o in mine if o.region in wanted]
        result += [o for o in mine if o.region not in wanted]  # copied: zones already set
        if not fresh:
            continue
        types = {(o.region, o.instance_type) for o in fresh}
        try:
            fetched = _fetch_zones(cloud, sorted(wanted), types, http, env)
        except FetchError as e:
            raise FetchError(f"{cloud} zones: {e}") from None
        if fetched is None:
            kept = unknown = 0
            for o in fresh:
                old = previous.get((o.cloud, o.region, o.instance_type))
                if old is not None and old.zones_known:
                    result.append(replace(o, zones=old.zones, zones_known=True))
                    kept += 1
                else:
                    result.append(replace(o, zones=(), zones_known=False))
                    unknown += 1
            note(
                out,
                f"{cloud} zones: no credentials ({_ZONE_VARS[cloud]}) for its zone API, so the "
                f"previous snapshot's zones are kept for {kept} of {len(fresh)} refreshed rows"
                + (
                    f"; {unknown} rows new to this snapshot have zones ? (not known)"
                    if unknown
                    else ""
                )
                + ".",
                kept=True,
            )
            continue
        found, text = fetched
        dropped = [o for o in fresh if (o.region, o.instance_type) not in found]
        result += [
            replace(o, zones=found[(o.region, o.instance_type)], zones_known=True)
            for o in fresh
            if (o.region, o.instance_type) in found
        ]
        out.sources.append(Source(cloud, f"zones: {text}", len(fresh) - len(dropped)))
        if dropped:
            shown = ", ".join(f"{o.region}/{o.instance_type}" for o in dropped[:6])
            note(
                out,
                f"{cloud}: {len(dropped)} priced offerings left out: the zone API lists no zone "
                f"of the region offering the type ({shown}{', ...' if len(dropped) > 6 else ''})",
            )
    return result


def write(
    out_dir: Path, base: catalog_mod.Catalog, outcome: Outcome, day: date, command: str
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    base_dir = Path(base.path)
    write_offerings(out_dir / "offerings.csv", outcome.offerings)
    write_zones(out_dir / "zones.csv", outcome.offerings)
    copy_side_files(base_dir, out_dir)
    counts = {c: sum(o.cloud == c for o in outcome.offerings) for c in CLOUDS}
    lines = [
        "# Catalog snapshot (refreshed)",
        "",
        f"Snapshot date: {day.isoformat()}",
        "",
        f"Written by `{command}` at {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} from the base",
        f"snapshot `{base_dir}` (snapshot date {base.snapshot}). `offerings.csv` has",
        f"{len(outcome.offerings)} rows: {counts['aws']} AWS, {counts['azure']} Azure, {counts['gcp']} GCP.",
        "Prices are USD per hour for the whole instance; an empty spot price means no usable spot price",
        "(missing, or not below on-demand).",
        "",
        "## Sources read",
        "",
        "| cloud | source | rows |",
        "|---|---|---|",
        *(f"| {s.cloud} | {s.text} | {s.rows} |" for s in outcome.sources),
        *([] if outcome.sources else ["| - | nothing fetched | 0 |"]),
        "",
        "## Kept from the previous snapshot",
        "",
        f"- {', '.join(f'`{n}`' for n in COPIED_FILES)}: copied unchanged (list prices and region coordinates;",
        "  no price API is read for them). Their sources are in the base snapshot's README.md.",
        *(f"- {k}" for k in outcome.kept),
        "",
        "## Notes",
        "",
        *([f"- {n}" for n in outcome.notes] or ["- none"]),
        "",
        "## How rows are derived",
        "",
        "- Instance types: the GPU types tricloud knows (`tools/catalog/families.py`, equal to the",
        "  shipped snapshot's); accelerator, GPU count, vCPUs and memory come from that table.",
        "- Azure: Retail Prices API, type Consumption, per hour, not Windows, not Low Priority; a",
        '  meter with "Spot" in its name is the spot price.',
        "- AWS: offer file products with Linux, Shared tenancy, no pre-installed software,",
        "  capacitystatus Used; spot = median over the region's standard zones of the current spot",
        "  price below on-demand (EC2 DescribeSpotPriceHistory, only with credentials).",
        "- GCP: vCPUs x core SKU + memory GiB x RAM SKU + GPUs x GPU SKU of the machine family, per",
        '  region; spot from the "Spot Preemptible" SKUs.',
        "- Zones (`zones.csv`): AWS AZ IDs from EC2 DescribeInstanceTypeOfferings, GCP zones of",
        "  the machine type (and, for N1, of its GPU) from Compute Engine, Azure zone numbers from",
        "  Resource SKUs (`-`: offered in no zone); without that cloud's credentials the previous",
        "  snapshot's zones are kept and a row new to the snapshot has `?` (not known).",
        "- Only regions in `regions.csv` appear (the loader requires it).",
        "",
    ]
    (out_dir / "README.md").write_text("\n".join(lines))
